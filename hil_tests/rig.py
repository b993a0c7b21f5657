"""The test rig: what the hardware-in-the-loop suite drives and watches, written once.

    rig = EmulatedRig(overrides={"areas.building.fallback_s": 5})   # the default
    rig = RealRig(load_rig_file("rig.toml"), overrides=...)         # a real controller
    with rig:
        rig.press("panic_reception")
        rig.platform.wait_for(lambda e: e["cid"] == "1120", 5)
        rig.wait_output("siren", True, 5)

A scenario or a fault test talks only to the ``Rig`` interface. ``EmulatedRig`` runs the whole
emulated site (emulators/site.py): every point, every output and every fault is reachable.
``RealRig`` runs the daemon against the real hardware named in a rig file and reaches inputs
through *wired-back* outputs: a GPIO pin of the suite (or a relay on a Modbus relay board)
wired to the daemon's input, and an input of the suite wired to a siren relay's contact. What
a rig cannot do is listed in ``capabilities`` and ``can_drive`` / ``can_sense``; tests that
need it are skipped, not failed.

Capabilities: ``broker`` (the suite owns the broker: stop/start it), ``daemon`` (the suite owns
the daemon process: kill/start it), ``reader`` (PINs and cards at an OSDP reader),
``burst`` (edge floods), ``device_power`` (switch a Modbus device off), ``wire_faults``
(corrupt RTU frames, OSDP line noise), ``storage`` (choose the daemon's storage folder),
``console`` (the daemon's serial console, emulated rig made with ``console=True``).
"""
from __future__ import annotations

import os
import time
from typing import Callable, Optional

import tomlkit

#: How long the suite waits for anything at most (multiplied by GUARDROOM_HIL_SLOW on slow CI)
SLOW = float(os.environ.get("GUARDROOM_HIL_SLOW", "1") or 1)


class RigError(RuntimeError):
    """The rig cannot do what a test asked (a point not wired back, a missing capability)."""


# ---------------------------------------------------------------------------- config patches
def apply_overrides(doc, overrides: Optional[dict]) -> None:
    """Apply dotted-key overrides to a site document (tomlkit or plain dicts).

    ``"areas.building.fallback_s" = 5`` sets a key; a path through an array of tables picks
    the entry whose ``name`` (or ``point``) matches: ``"zones.beam_north_a.profile" = "fast"``,
    ``"drivers.modbus.bus.rs485-beams.device.beams.offline_after" = 2``. A missing table on
    the way is created (``"profiles.fast" = {active_ms = 0, restore_ms = 0}``).
    """
    for key, value in (overrides or {}).items():
        parts = str(key).split(".")
        node = doc
        for i, part in enumerate(parts[:-1]):
            node = _step_into(node, part, ".".join(parts[:i + 1]))
        leaf = parts[-1]
        if isinstance(node, list) or (isinstance(value, dict) and leaf in node):
            # a table given as a table (unquoted dotted keys in TOML): merge key by key
            target = _step_into(node, leaf, str(key))
            if not isinstance(value, dict):
                raise RigError(f"override {key!r}: names an array entry, not a key")
            apply_overrides(target, value)
            continue
        node[leaf] = _plain(value)


def _step_into(node, part: str, where: str):
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and str(item.get("name", item.get("point", ""))) == part:
                return item
        raise RigError(f"override {where!r}: no entry named {part!r}")
    if part not in node:
        node[part] = tomlkit.table()
    return node[part]


def _plain(value):
    if isinstance(value, dict):
        t = tomlkit.inline_table()
        for k, v in value.items():
            t[k] = _plain(v)
        return t
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------- the interface
class Rig:
    """What every rig offers. Subclasses fill in the hardware side."""

    kind = "abstract"
    capabilities: frozenset = frozenset()

    def __init__(self, overrides: Optional[dict] = None, auto_ack: bool = True):
        self.overrides = dict(overrides or {})
        self.auto_ack = auto_ack
        self.platform = None
        self.config: dict = {}

    # lifecycle
    def start(self) -> "Rig":
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Rig":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # what this rig can reach
    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def can_drive(self, point: str) -> bool:
        raise NotImplementedError

    def can_sense(self, output: str) -> bool:
        raise NotImplementedError

    def need(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if not self.can(c)]
        if missing:
            raise RigError(f"the {self.kind} rig cannot: {', '.join(missing)}")

    # identity
    @property
    def controller(self) -> str:
        return self.config["site"]["controller"]

    @property
    def site(self) -> str:
        return self.config["site"]["name"]

    # inputs and outputs
    def set_point(self, point: str, active: bool) -> None:
        raise NotImplementedError

    def press(self, point: str) -> None:
        self.set_point(point, True)

    def release(self, point: str) -> None:
        self.set_point(point, False)

    def pulse(self, point: str, ms: int) -> None:
        self.set_point(point, True)
        time.sleep(ms / 1000)  # the stimulus itself is a timed pulse
        self.set_point(point, False)

    def output_on(self, name: str) -> bool:
        raise NotImplementedError

    def wait_output(self, name: str, on: bool, timeout: float) -> bool:
        raise NotImplementedError

    # the platform side (same on every rig: the suite's Platform on the daemon's broker)
    def cmd(self, name: str, timeout: float = 10.0, **kw) -> dict:
        """Send a platform command (``code=`` or ``signed=True``) and return its cmd/result."""
        msg = self.platform.send_cmd(self.controller, name, site=self.site, **kw)
        return self.platform.wait_result(lambda r: r.get("nonce") == msg["nonce"],
                                         timeout * SLOW)

    def events(self) -> list[dict]:
        return self.platform.events_of(self.controller)

    def wait_event(self, predicate: Callable[[dict], bool], timeout: float,
                   after_seq: int = 0) -> dict:
        return self.platform.wait_for(
            lambda e: e.get("_controller") == self.controller
            and int(e.get("seq", 0)) > after_seq and predicate(e), timeout * SLOW)

    def wait_ready(self, timeout: float = 30.0) -> dict:
        """Wait until the retained ``state`` shows every zone reported and none offline (an
        OSDP reader comes online a few hundred ms after the daemon); returns that state."""
        key = f"{self.site}/{self.controller}"

        def ready():
            st = self.platform.states.get(key)
            zones = (st or {}).get("zones") or {}
            if zones and all(z.get("state") != "offline" for z in zones.values()):
                return st
            return None
        try:
            return self.platform.wait_until(ready, timeout * SLOW)
        except TimeoutError:
            raise RigError("zones still offline after start: "
                           f"{self.platform.states.get(key)}; log:\n"
                           + self.daemon_log_tail()) from None

    def last_seq(self) -> int:
        evs = self.events()
        return max((int(e.get("seq", 0)) for e in evs), default=0)

    # optional capabilities
    def keys(self, reader: str, text: str) -> None:
        self.need("reader")
        raise NotImplementedError

    def card(self, reader: str, number: str) -> None:
        self.need("reader")
        raise NotImplementedError

    def burst(self, point: str, count: int, period_us: int) -> dict:
        self.need("burst")
        raise NotImplementedError

    def stop_broker(self) -> None:
        self.need("broker")

    def start_broker(self) -> None:
        self.need("broker")

    def kill_daemon(self) -> None:
        self.need("daemon")

    def start_daemon(self) -> None:
        self.need("daemon")

    @property
    def daemon_pid(self) -> int:
        self.need("daemon")
        return 0

    @property
    def storage_dir(self) -> str:
        return self.config["storage"]["dir"]

    def daemon_log_tail(self, n: int = 40) -> str:
        return ""


def make_rig(rig_file: Optional[str], **kw) -> Rig:
    """The rig the suite runs on: real when a rig file is given, else emulated."""
    if rig_file:
        return RealRig(load_rig_file(rig_file), **kw)
    return EmulatedRig(**kw)


# the implementations (they import the interface above)
from .rig_emulated import EmulatedRig  # noqa: E402
from .rig_real import RealRig, load_rig_file, RIG_SCHEMA  # noqa: E402

__all__ = ["Rig", "RigError", "EmulatedRig", "RealRig", "load_rig_file", "RIG_SCHEMA",
           "apply_overrides", "make_rig", "SLOW"]
