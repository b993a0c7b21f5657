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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Optional

import tomlkit

from guardroom.errors import ConfigError
from guardroom.schema import Bool, Int, MapOf, Section, Str

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


# ---------------------------------------------------------------------------- emulated
class EmulatedRig(Rig):
    """The emulated site (emulators/site.py): the daemon as a process, hardware at the wire."""

    kind = "emulated"
    capabilities = frozenset({"broker", "daemon", "reader", "burst", "device_power",
                              "wire_faults", "storage"})

    def __init__(self, overrides: Optional[dict] = None, auto_ack: bool = True,
                 site_file: Optional[str] = None, workdir: Optional[str] = None,
                 patch: Optional[Callable] = None, console: bool = False):
        super().__init__(overrides, auto_ack)
        self.site_file, self.workdir, self.extra_patch = site_file, workdir, patch
        self.want_console = console
        if console:
            self.capabilities = self.capabilities | {"console"}
        self.emu = None

    def _patch(self, doc) -> None:
        apply_overrides(doc, self.overrides)
        if self.extra_patch is not None:
            self.extra_patch(doc)

    def start(self) -> "EmulatedRig":
        from guardroom.emulators.site import EmulatedSite

        storage = self.overrides.pop("storage.dir", None)
        if storage:
            # the emulated site keeps its storage in <workdir>/var: point that at the folder
            # asked for (a tiny filesystem, a prepared corrupt outbox)
            self.workdir = self.workdir or tempfile.mkdtemp(prefix="guardroom-hil-")
            self._own_workdir = True
            os.makedirs(storage, exist_ok=True)
            os.symlink(os.path.abspath(storage), os.path.join(self.workdir, "var"))
        self.emu = EmulatedSite(workdir=self.workdir, site_file=self.site_file,
                                 patch=self._patch, auto_ack=self.auto_ack,
                                 console=self.want_console)
        self.emu.start(timeout=30 * SLOW)
        self.platform = self.emu.platform
        self.config = self.emu.config
        self.wait_ready()
        return self

    def stop(self) -> None:
        if self.emu is not None:
            self.emu.stop()
            self.emu = None
        if getattr(self, "_own_workdir", False):
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)   # the link, not its target
            self._own_workdir = False

    def can_drive(self, point: str) -> bool:
        return point in self.emu.points

    def can_sense(self, output: str) -> bool:
        return output in self.emu.outputs

    def set_point(self, point: str, active: bool) -> None:
        if point not in self.emu.points:
            raise RigError(f"no input point {point!r} on the emulated site")
        self.emu.set_point(point, active)

    def pulse(self, point: str, ms: int) -> None:
        self.emu.pulse(point, ms)

    def output_on(self, name: str) -> bool:
        return self.emu.output_on(name)

    def wait_output(self, name: str, on: bool, timeout: float) -> bool:
        return self.emu.wait_output(name, on, timeout * SLOW)

    def keys(self, reader: str, text: str) -> None:
        self.emu.readers[reader].keys(text)

    def card(self, reader: str, number: str) -> None:
        self.emu.readers[reader].card(number)

    def door(self, reader: str, is_open: bool) -> None:
        self.emu.readers[reader].door(is_open)

    def burst(self, point: str, count: int, period_us: int) -> dict:
        how = self.emu.points[point]
        if how[0] != "gpio":
            raise RigError(f"burst needs a GPIO point, {point!r} is on {how[0]}")
        return self.emu.gpio.burst(how[1], count, period_us)

    def stop_broker(self) -> None:
        self.emu.stop_broker()

    def start_broker(self) -> None:
        self.emu.start_broker()

    def kill_daemon(self) -> None:
        self.emu.kill_daemon()

    def stop_daemon(self) -> None:
        self.emu.stop_daemon()

    def start_daemon(self) -> None:
        self.platform.states.pop(f"{self.site}/{self.controller}", None)  # not the old one
        self.emu.start_daemon(30 * SLOW)
        self.wait_ready()

    @property
    def daemon_pid(self) -> int:
        p = self.emu.daemon_proc
        return p.pid if p is not None and p.poll() is None else 0

    def device_power(self, bus: str, address: int, on: bool) -> None:
        self.emu.modbus_power(bus, address, on)

    def console(self):
        """A ConsoleClient on the daemon's serial console (rig made with console=True)."""
        from .console import ConsoleClient

        self.need("console")
        return ConsoleClient(self.emu.console_path)

    def rtu_cable(self, bus: str):
        return self.emu.modbus[bus].cable

    def osdp_noise(self, n: int) -> bytes:
        return self.emu.osdp.noise(n)

    def daemon_log_tail(self, n: int = 40) -> str:
        return self.emu.daemon_log_tail(n) if self.emu else ""


# ---------------------------------------------------------------------------- real
_WIRE = Section({
    "gpio": Int(default=-1, min=-1, max=63, doc="BCM pin of the suite's own pin"),
    "active_high": Bool(default=True, doc="the level that means active at that pin"),
    "relay_board": Str(default="", doc="name of a [relay_board.X] (instead of gpio)"),
    "coil": Int(default=-1, min=-1, max=65535, doc="coil of the relay board (from 0)"),
    "input": Int(default=-1, min=-1, max=65535,
                 doc="discrete input of the relay board (sense only, from 0)"),
}, check=lambda w: None if (w["gpio"] >= 0) != bool(w["relay_board"])
   else "give either gpio or relay_board")

_BOARD = Section({
    "port": Str(default="", doc="serial device of an RTU relay board"),
    "baudrate": Int(default=9600, min=1200, max=921600),
    "host": Str(default="", doc="host of a Modbus TCP relay board"),
    "tcp_port": Int(default=502, min=1, max=65535),
    "address": Int(default=1, min=1, max=247, doc="Modbus device id of the board"),
}, check=lambda b: None if bool(b["port"]) != bool(b["host"]) else "give port or host")

RIG_SCHEMA = Section({
    "rig": Section({
        "name": Str(default="rig", doc="shown in the test report"),
        "site": Str(doc="the site config the daemon runs (a patched copy is used)"),
        "daemon": Str(default="local", pattern=r"local",
                      doc="local: the suite starts `python -m guardroom run` on this machine"),
        "broker": Str(default="local",
                      doc="local: the suite starts Mosquitto on a free port; or host:port"),
        "pin_factory": Str(default="lgpio", doc="gpiozero pin factory of the suite's pins"),
        "storage_dir": Str(default="", doc="daemon storage (empty: a fresh temp folder)"),
    }),
    "drive": MapOf(_WIRE, default=dict, doc="input point -> the suite's output wired to it"),
    "sense": MapOf(_WIRE, default=dict, doc="output name -> the suite's input wired to it"),
    "relay_board": MapOf(_BOARD, default=dict),
})


def load_rig_file(path: str) -> dict:
    """Read and validate a rig file; raises ConfigError naming the key."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as e:
        raise ConfigError((path, f"cannot be read: {e.strerror}")) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError((path, f"not valid TOML: {e}")) from None
    rig = RIG_SCHEMA.validate(raw)
    base = os.path.dirname(os.path.abspath(path))
    if not os.path.isabs(rig["rig"]["site"]):
        rig["rig"]["site"] = os.path.join(base, rig["rig"]["site"])
    problems = []
    for table in ("drive", "sense"):
        for name, w in rig[table].items():
            if w["relay_board"] and w["relay_board"] not in rig["relay_board"]:
                problems.append((f"{table}.{name}.relay_board",
                                 f"no [relay_board.{w['relay_board']}]"))
            if w["relay_board"] and table == "drive" and w["coil"] < 0:
                problems.append((f"{table}.{name}.coil", "a relay board drive needs a coil"))
            if w["relay_board"] and table == "sense" and w["input"] < 0:
                problems.append((f"{table}.{name}.input",
                                 "a relay board sense needs a discrete input"))
    if problems:
        raise ConfigError(problems)
    return rig


class _Boards:
    """Blocking pymodbus clients for the relay boards, one per board, used from test code."""

    def __init__(self, boards: dict):
        self.boards = boards
        self.clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, name: str):
        c = self.clients.get(name)
        if c is None:
            from pymodbus.client import ModbusSerialClient, ModbusTcpClient

            b = self.boards[name]
            c = (ModbusTcpClient(b["host"], port=b["tcp_port"]) if b["host"]
                 else ModbusSerialClient(b["port"], baudrate=b["baudrate"]))
            if not c.connect():
                raise RigError(f"relay board {name!r} does not answer")
            self.clients[name] = c
        return c

    def write_coil(self, name: str, coil: int, on: bool) -> None:
        with self._lock:
            r = self._client(name).write_coil(coil, on, device_id=self.boards[name]["address"])
        if r.isError():
            raise RigError(f"relay board {name!r} coil {coil}: {r}")

    def read_input(self, name: str, index: int) -> bool:
        with self._lock:
            r = self._client(name).read_discrete_inputs(index, count=1,
                                                        device_id=self.boards[name]["address"])
        if r.isError():
            raise RigError(f"relay board {name!r} input {index}: {r}")
        return bool(r.bits[0])

    def close(self) -> None:
        for c in self.clients.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001 - teardown
                pass
        self.clients.clear()


class RealRig(Rig):
    """A real controller: the daemon runs here (``daemon = "local"``) against the real ports
    and pins of the rig's site file; inputs are driven through wired-back outputs."""

    kind = "real"

    def __init__(self, rig: dict, overrides: Optional[dict] = None, auto_ack: bool = True):
        super().__init__(overrides, auto_ack)
        self.rig = rig
        caps = {"daemon", "storage"}
        if rig["rig"]["broker"] == "local":
            caps.add("broker")
        if any(w["gpio"] >= 0 for w in rig["drive"].values()):
            caps.add("burst")
        self.capabilities = frozenset(caps)
        self.workdir = ""
        self.broker = None
        self.proc: Optional[subprocess.Popen] = None
        self.boards = _Boards(rig["relay_board"])
        self._pins: dict[tuple, Any] = {}
        self._factory = None
        self._log_fh = None

    # -- pins of the suite (gpiozero on the rig's factory)
    def _pin(self, table: str, name: str):
        key = (table, name)
        dev = self._pins.get(key)
        if dev is None:
            import gpiozero

            w = self.rig[table][name]
            if self._factory is None:
                self._factory = _make_factory(self.rig["rig"]["pin_factory"])
            if table == "drive":
                dev = gpiozero.DigitalOutputDevice(w["gpio"], active_high=w["active_high"],
                                                   initial_value=False,
                                                   pin_factory=self._factory)
            else:
                dev = gpiozero.DigitalInputDevice(w["gpio"], pull_up=None,
                                                  active_state=w["active_high"],
                                                  pin_factory=self._factory)
            self._pins[key] = dev
        return dev

    def can_drive(self, point: str) -> bool:
        return point in self.rig["drive"]

    def can_sense(self, output: str) -> bool:
        return output in self.rig["sense"]

    def set_point(self, point: str, active: bool) -> None:
        w = self.rig["drive"].get(point)
        if w is None:
            raise RigError(f"point {point!r} is not wired back on rig "
                           f"{self.rig['rig']['name']!r} (add [drive.{point}])")
        if w["relay_board"]:
            self.boards.write_coil(w["relay_board"], w["coil"], active)
        else:
            dev = self._pin("drive", point)
            dev.on() if active else dev.off()

    def output_on(self, name: str) -> bool:
        w = self.rig["sense"].get(name)
        if w is None:
            raise RigError(f"output {name!r} is not wired back (add [sense.{name}])")
        if w["relay_board"]:
            return self.boards.read_input(w["relay_board"], w["input"]) == w["active_high"]
        return bool(self._pin("sense", name).is_active)

    def wait_output(self, name: str, on: bool, timeout: float) -> bool:
        w = self.rig["sense"].get(name)
        if w is not None and not w["relay_board"]:
            dev = self._pin("sense", name)
            waiter = dev.wait_for_active if on else dev.wait_for_inactive
            return bool(waiter(timeout * SLOW))  # gpiozero waits on the edge
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.output_on(name) == on:
                return True
            time.sleep(0.02)  # a relay board input is only seen by reading it
        return False

    def burst(self, point: str, count: int, period_us: int) -> dict:
        w = self.rig["drive"].get(point)
        if w is None or w["relay_board"]:
            raise RigError(f"burst needs a GPIO drive for {point!r}")
        dev = self._pin("drive", point)
        t0 = time.perf_counter()
        for i in range(count):
            dev.value = i % 2 == 0
            if period_us:
                _spin_until(t0 + (i + 1) * period_us / 1e6)
        dev.off()
        secs = time.perf_counter() - t0
        return {"pin": w["gpio"], "count": count, "seconds": secs,
                "rate": count / secs if secs else 0.0}

    # -- lifecycle
    def start(self) -> "RealRig":
        from guardroom.config import load
        from guardroom.emulators.platform import Platform

        self.workdir = tempfile.mkdtemp(prefix="guardroom-rig-")
        r = self.rig["rig"]
        if r["broker"] == "local":
            from guardroom.emulators.broker import MosquittoBroker

            self.broker = MosquittoBroker(workdir=os.path.join(self.workdir, "broker")).start()
            host, port = "127.0.0.1", self.broker.port
        else:
            host, _, port_s = r["broker"].rpartition(":")
            port = int(port_s)
        with open(r["site"], encoding="utf-8") as fh:
            doc = tomlkit.parse(fh.read())
        apply_overrides(doc, self.overrides)
        doc.setdefault("storage", tomlkit.table())
        doc["storage"]["dir"] = (self.overrides.get("storage.dir") or r["storage_dir"]
                                 or os.path.join(self.workdir, "var"))
        doc["mqtt"]["host"], doc["mqtt"]["port"] = host, port
        self.config_path = os.path.join(self.workdir, "site.toml")
        with open(self.config_path, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        self.config = load(self.config_path)
        self.platform = Platform(host, port, prefix=self.config["mqtt"]["topic_prefix"],
                                 auto_ack=self.auto_ack, quiet=True)
        for point in self.rig["drive"]:
            self.set_point(point, False)
        self.start_daemon()
        return self

    def stop(self) -> None:
        self.stop_daemon()
        for dev in self._pins.values():
            try:
                dev.close()
            except Exception:  # noqa: BLE001
                pass
        self._pins.clear()
        self.boards.close()
        if self.platform is not None:
            self.platform.close()
            self.platform = None
        if self.broker is not None:
            self.broker.stop()
            self.broker.cleanup()
            self.broker = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        if self.workdir and not os.environ.get("GUARDROOM_KEEP_SITE"):
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""

    def start_daemon(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.platform.states.pop(f"{self.site}/{self.controller}", None)  # not the old one
        if self._log_fh is None:
            self._log_fh = open(os.path.join(self.workdir, "daemon.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guardroom", "run", "--config", self.config_path],
            stdout=self._log_fh, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        key = f"{self.config['site']['name']}/{self.controller}"
        try:
            self.platform.wait_until(lambda: self.platform.status.get(key) == "online"
                                     or self.proc.poll() is not None, 30 * SLOW)
        except TimeoutError:
            raise RigError("daemon not online in time; log:\n" + self.daemon_log_tail()) \
                from None
        if self.proc.poll() is not None:
            raise RigError("daemon exited at start; log:\n" + self.daemon_log_tail())
        self.wait_ready()

    def stop_daemon(self) -> None:
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def kill_daemon(self) -> None:
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)

    @property
    def daemon_pid(self) -> int:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else 0

    def stop_broker(self) -> None:
        self.need("broker")
        self.broker.stop()

    def start_broker(self) -> None:
        self.need("broker")
        self.broker.start()

    def daemon_log_tail(self, n: int = 40) -> str:
        try:
            with open(os.path.join(self.workdir, "daemon.log"), "rb") as fh:
                return b"".join(fh.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


def _make_factory(name: str):
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    raise RigError(f"rig.pin_factory {name!r}: use lgpio, rpigpio or mock")


def _spin_until(t: float) -> None:
    while time.perf_counter() < t:
        pass


def make_rig(rig_file: Optional[str], **kw) -> Rig:
    """The rig the suite runs on: real when a rig file is given, else emulated."""
    if rig_file:
        return RealRig(load_rig_file(rig_file), **kw)
    return EmulatedRig(**kw)
