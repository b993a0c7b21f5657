"""The emulated rig: the whole emulated site (emulators/site.py) behind the Rig interface.
Every point, output and fault is reachable; the daemon runs as its own process."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, Optional

from .rig import SLOW, Rig, RigError, apply_overrides


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


