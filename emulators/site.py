"""The whole emulated site on one PC: a Mosquitto broker on a free loopback port, the Modbus
devices (beams on RTU over a null-modem pty pair, the fence energizer on TCP), the OSDP door
reader on a pty, the GPIO inputs and outputs through the mock pin factory's control channel,
the daemon itself as a separate process with a config generated from a site file, and the
monitoring platform subscribed to it.

    with EmulatedSite(workdir) as site:          # everything started, daemon online
        site.press("panic_reception")            # any input point, by name
        ev = site.platform.wait_for(lambda e: e["kind"] == "alarm", 5)
        site.output_on("siren")                  # -> bool, read at the pin / coil
        site.stop_broker(); site.start_broker()
        site.kill_daemon(); site.start_daemon()

Stimuli go over the same wires the real hardware uses; nothing inside the daemon is faked. The
site file (default: examples/school.toml) is patched only where the emulators live: ports,
paths, the storage folder, and the GPIO factory (``mock``).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Optional

import tomlkit

from .broker import MosquittoBroker

def default_site_file() -> str:
    """examples/school.toml (installed as guardroom.examples)."""
    from importlib.resources import files

    return str(files("guardroom.examples") / "school.toml")


class _LoopThread:
    """An asyncio loop in a thread for the asyncio-based emulators (pymodbus servers)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="site-emulators")
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args):
        async def _c():
            return fn(*args)
        return self.run(_c())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class EmulatedSite:
    """Start with ``start()`` (or ``with``); ``stop()`` ends everything it started."""

    def __init__(self, workdir: Optional[str] = None, site_file: Optional[str] = None,
                 patch: Optional[Callable[[dict], None]] = None, daemon: bool = True,
                 platform: bool = True, auto_ack: bool = True, console: bool = False,
                 quiet_platform: bool = True, platform_out=None, log_file: Optional[str] = None,
                 arc: int = 0, arc_key: str = ""):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="guardroom-site-")
        os.makedirs(self.workdir, exist_ok=True)
        self.site_file = site_file or default_site_file()
        self.patch = patch
        self.want_daemon, self.want_platform, self.auto_ack = daemon, platform, auto_ack
        self.want_console = console
        self.quiet_platform, self.platform_out = quiet_platform, platform_out
        self.config_path = os.path.join(self.workdir, "site.toml")
        self.log_path = log_file or os.path.join(self.workdir, "daemon.log")
        self.broker: Optional[MosquittoBroker] = None
        self.platform = None
        self.gpio = None
        self.daemon_proc: Optional[subprocess.Popen] = None
        self.modbus: dict[str, object] = {}        # bus name -> ModbusEmulator
        self.osdp = None                           # OsdpBus
        self.readers: dict[str, object] = {}       # reader name -> EmulatedReader
        self.console_cable = None                  # NullModem: daemon on a, terminal on b
        self.points: dict[str, tuple] = {}         # point name -> how to drive it
        self.outputs: dict[str, tuple] = {}        # output name -> how to read it
        self.config: dict = {}
        self._loop: Optional[_LoopThread] = None
        self._log_fh = None
        self.want_arc, self.arc_key = arc, arc_key   # ARC receivers (DC-09): 0, 1 or 2
        self.arcs: list = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "EmulatedSite":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> "EmulatedSite":
        self._loop = _LoopThread()
        self.broker = MosquittoBroker(workdir=os.path.join(self.workdir, "broker")).start()
        self._start_hardware()
        if self.want_arc:
            self._start_arcs()
        self._write_config()
        if self.want_platform:
            from .platform import Platform

            self.platform = Platform("127.0.0.1", self.broker.port,
                                     prefix=self.config["mqtt"]["topic_prefix"],
                                     auto_ack=self.auto_ack, quiet=self.quiet_platform,
                                     hmac_key=bytes.fromhex(self.config["mqtt"]["cmd_hmac_key"]),
                                     out=self.platform_out or sys.stdout)
        if self.want_daemon:
            self.start_daemon(timeout)
        return self

    def stop(self) -> None:
        self.stop_daemon()
        if self.gpio is not None:
            _quiet(self.gpio.close)
            self.gpio = None
        if self.platform is not None:
            _quiet(self.platform.close)
            self.platform = None
        if self.osdp is not None:
            _quiet(self.osdp.stop)
            self.osdp = None
        if self._loop is not None:
            for emu in self.modbus.values():
                _quiet(lambda e=emu: self._loop.run(e.stop()))
            self.modbus.clear()
            for arc in self.arcs:
                _quiet(lambda a=arc: self._loop.run(a.stop()))
            _quiet(self._loop.stop)
            self._loop = None
        if self.console_cable is not None:
            _quiet(self.console_cable.stop)
            self.console_cable = None
        if self.broker is not None:
            _quiet(self.broker.stop)
            _quiet(self.broker.cleanup)
            self.broker = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        if self._own_dir and not os.environ.get("GUARDROOM_KEEP_SITE"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ the ARC (DC-09)
    def _start_arcs(self) -> None:
        from .arc import ArcEmulator

        out = None if self.quiet_platform else (self.platform_out or sys.stdout)
        for name in ("arc-primary", "arc-backup")[:self.want_arc]:
            self.arcs.append(self._loop.run(ArcEmulator(key=self.arc_key, out=out,
                                                        name=name).start()))

    def arc_wait(self, pred, timeout: float = 10.0, i: int = 0, every: bool = False) -> dict:
        """The first message ARC ``i`` acknowledged (any message with ``every``) matching
        ``pred``."""
        try:
            return self._loop.run(self.arcs[i].wait_for(pred, timeout, every), timeout + 5)
        except asyncio.TimeoutError:
            raise TimeoutError(f"ARC {i} never received it") from None

    def arc_down(self, i: int = 0) -> None:
        self._loop.run(self.arcs[i].stop())

    def arc_up(self, i: int = 0) -> None:
        self._loop.run(self.arcs[i].start())

    def _start_hardware(self) -> None:
        from guardroom.drivers.modbus.profiles import load as load_profile  # noqa: F401

        from .modbus import ModbusEmulator

        with open(self.site_file, encoding="utf-8") as fh:
            self.doc = tomlkit.parse(fh.read())
        if self.patch is not None:
            self.patch(self.doc)
        drivers = self.doc.get("drivers", {})
        gpio = drivers.get("gpio")
        if gpio is not None:
            gpio["factory"] = "mock"
            gpio["control"] = "127.0.0.1:0"
            gpio["control_file"] = os.path.join(self.workdir, "gpio.addr")
            for i in gpio.get("input", []):
                self.points[str(i["point"])] = ("gpio", int(i["pin"]))
            for o in gpio.get("output", []):
                self.outputs[str(o["name"])] = ("gpio", int(o["pin"]))
        for bus in (drivers.get("modbus") or {}).get("bus", []):
            emu = ModbusEmulator()
            for dev in bus.get("device", []):
                emu.add_device(int(dev["address"]), str(dev["profile"]))
                for ppoint, name in dev.get("points", {}).items():
                    self.points[str(name)] = ("modbus", str(bus["name"]), int(dev["address"]),
                                              str(ppoint))
                for pout, name in dev.get("outputs", {}).items():
                    self.outputs[str(name)] = ("modbus", str(bus["name"]),
                                               int(dev["address"]), str(pout))
            if bus.get("transport", "rtu") == "tcp":
                host, port = self._loop.run(emu.start_tcp("127.0.0.1", 0))
                bus["host"], bus["tcp_port"] = host, port
            else:
                bus["port"] = self._loop.run(emu.start_rtu())
            self.modbus[str(bus["name"])] = emu
        ports = (drivers.get("osdp") or {}).get("port", [])
        if ports:
            from .osdp import OsdpBus

            if len(ports) > 1:
                raise ValueError("the emulated site plays one OSDP bus")
            self.osdp = OsdpBus()
            port = ports[0]
            port["device"] = self.osdp.path
            for r in port.get("reader", []):
                scbk = str(r.get("scbk", ""))
                reader = self.osdp.add_reader(int(r["address"]),
                                              scbk=bytes.fromhex(scbk) if scbk else None,
                                              inputs=max(2, len(r.get("inputs", []))))
                self.readers[str(r["name"])] = reader
                for idx, name in enumerate(r.get("inputs", [])):
                    if name:
                        self.points[str(name)] = ("osdp", str(r["name"]), idx)
                for key, what in (("tamper_point", "tamper"), ("power_point", "power")):
                    if r.get(key):
                        self.points[str(r[key])] = ("osdp", str(r["name"]), what)
            self.osdp.start()

    def _write_config(self) -> None:
        doc = self.doc
        doc.setdefault("storage", tomlkit.table())
        doc["storage"]["dir"] = os.path.join(self.workdir, "var")
        doc["mqtt"]["host"] = "127.0.0.1"
        doc["mqtt"]["port"] = self.broker.port
        if not doc["mqtt"].get("cmd_hmac_key"):
            # acks must be signed: the emulated platform and the daemon share a fresh key
            doc["mqtt"]["cmd_hmac_key"] = secrets.token_hex(32)
        if self.arcs:
            from .arc import dc09_section

            doc["dc09"] = dc09_section(self.arcs, self.arc_key)
        if "console" in doc:
            if self.want_console:
                from .nullmodem import NullModem

                self.console_cable = NullModem().start()
                doc["console"]["port"] = self.console_cable.path_a
            else:
                del doc["console"]
        with open(self.config_path, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        from guardroom.config import load

        self.config = load(self.config_path)

    @property
    def console_path(self) -> str:
        """The terminal's end of the console cable (open it with picocom or a test client)."""
        return self.console_cable.path_b if self.console_cable else ""

    # ------------------------------------------------------------------ the daemon
    def start_daemon(self, timeout: float = 30.0) -> None:
        if self.daemon_proc is not None and self.daemon_proc.poll() is None:
            return
        addr_file = os.path.join(self.workdir, "gpio.addr")
        if os.path.exists(addr_file):
            os.remove(addr_file)
        if self._log_fh is None:
            self._log_fh = open(self.log_path, "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.daemon_started_ns = time.monotonic_ns()
        self.daemon_proc = subprocess.Popen(
            [sys.executable, "-m", "guardroom", "run", "--config", self.config_path],
            stdout=self._log_fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        if self.platform is not None:
            ctl = self.config["site"]["controller"]
            try:
                self.platform.wait_until(
                    lambda: self.platform.status.get(self._status_key()) == "online"
                    or self.daemon_proc.poll() is not None, timeout)
            except TimeoutError:
                raise RuntimeError(f"daemon {ctl} not online within {timeout} s; log:\n"
                                   + self.daemon_log_tail()) from None
            if self.daemon_proc.poll() is not None:
                # the exit code tells a crash (negative: killed by that signal, e.g. -11 for a
                # compiled engine rebuilt while it was being loaded) from a refusal (1, 2)
                raise RuntimeError(f"daemon exited at start (exit code "
                                   f"{self.daemon_proc.returncode}); log:\n"
                                   + self.daemon_log_tail())
        if "gpio" in self.config["drivers"]:
            self._connect_gpio(timeout)

    def _status_key(self) -> str:
        return f"{self.config['site']['name']}/{self.config['site']['controller']}"

    def _connect_gpio(self, timeout: float) -> None:
        from .gpio import GpioEmulator

        addr_file = os.path.join(self.workdir, "gpio.addr")
        deadline = time.monotonic() + timeout
        while not os.path.exists(addr_file) or not open(addr_file).read().strip():
            if time.monotonic() > deadline or (self.daemon_proc and self.daemon_proc.poll()
                                               is not None):
                raise RuntimeError("GPIO control channel did not appear; log:\n"
                                   + self.daemon_log_tail())
            time.sleep(0.02)  # polling a file written by another process: no event to await
        if self.gpio is not None:
            _quiet(self.gpio.close)
        self.gpio = GpioEmulator.from_file(addr_file)

    def stop_daemon(self, timeout: float = 20.0) -> Optional[int]:
        """SIGTERM (clean stop: `offline` published, state saved); returns the exit code."""
        p = self.daemon_proc
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.daemon_proc = None
        if self.gpio is not None:
            _quiet(self.gpio.close)
            self.gpio = None
        return p.returncode

    def kill_daemon(self) -> None:
        """SIGKILL, as a power cut or a crash would: nothing is flushed or said."""
        p = self.daemon_proc
        if p is not None and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
            if self.platform is not None and self.broker is not None \
                    and self.broker.running():
                # The broker's last will says "offline": a restart then waits for the new
                # process's "online", not the dead one's retained status.
                try:
                    self.platform.wait_until(lambda: self.platform.status.get(
                        self._status_key()) == "offline", 15)
                except TimeoutError:
                    pass
        self.daemon_proc = None
        if self.gpio is not None:
            _quiet(self.gpio.close)
            self.gpio = None

    def daemon_log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return b"".join(fh.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ broker
    def stop_broker(self) -> None:
        self.broker.stop()

    def start_broker(self) -> None:
        self.broker.start()

    # ------------------------------------------------------------------ stimuli
    def set_point(self, point: str, active: bool) -> None:
        """Drive an input point to active or rest, at the wire of its hardware."""
        how = self.points[point]
        if how[0] == "gpio":
            (self.gpio.press if active else self.gpio.release)(how[1])
        elif how[0] == "modbus":
            _, bus, addr, ppoint = how
            emu = self.modbus[bus]
            dev = emu.device(addr)
            prof = dev.profile.points[ppoint]
            value = _modbus_value(prof, active)
            self._loop.call(emu.set, addr, ppoint, value)
        elif how[0] == "osdp":
            _, reader, what = how
            r = self.readers[reader]
            if what == "tamper":
                r.set_tamper(active)
            elif what == "power":
                r.set_power_lost(active)
            else:
                r.set_input(int(what), active)
        else:  # pragma: no cover
            raise KeyError(point)

    def press(self, point: str) -> None:
        self.set_point(point, True)

    def release(self, point: str) -> None:
        self.set_point(point, False)

    def pulse(self, point: str, ms: int) -> None:
        how = self.points[point]
        if how[0] == "gpio":
            self.gpio.pulse(how[1], ms)
        else:
            self.set_point(point, True)
            time.sleep(ms / 1000)  # the stimulus itself is a timed pulse
            self.set_point(point, False)

    def output_on(self, name: str) -> bool:
        how = self.outputs[name]
        if how[0] == "gpio":
            return self.gpio.is_active(how[1])
        _, bus, addr, pout = how
        return bool(self._loop.call(self.modbus[bus].coil, addr, pout))

    def wait_output(self, name: str, on: bool, timeout: float) -> bool:
        """True once the output reaches the state (GPIO: awaited at the pin, no polling)."""
        how = self.outputs[name]
        if how[0] == "gpio":
            return self.gpio.wait(how[1], "active" if on else "rest", int(timeout * 1000))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output_on(name) == on:
                return True
            time.sleep(0.02)  # a Modbus coil is only seen by reading it
        return False

    def modbus_power(self, bus: str, address: int, on: bool) -> None:
        emu = self.modbus[bus]
        self._loop.call(emu.power, address, on)


def _modbus_value(prof: dict, active: bool) -> int:
    """The raw value that makes a profile point active or at rest."""
    if prof.get("map") == "below":
        return 0 if active else int(prof.get("rest") or 10000)
    if prof.get("map") == "bands":
        return int(prof.get("active_value", 2000) if active else prof.get("rest", 1000))
    rest = int(prof.get("rest") or 0)
    return (1 - rest) if active else rest


def _quiet(fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - best effort during teardown
        pass
