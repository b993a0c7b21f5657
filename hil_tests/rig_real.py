"""The real rig: the daemon against real hardware, inputs reached through wired-back outputs
(a GPIO pin of the suite, or a Modbus relay board), outputs sensed through wired-back inputs.
The rig file (see rig.example.toml) is validated by RIG_SCHEMA: a mistake names its key."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

import tomlkit

from guardroom.errors import ConfigError
from guardroom.schema import Bool, Int, MapOf, Section, Str

from .rig import SLOW, Rig, RigError, apply_overrides


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
    from guardroom.schema import read_toml

    rig = RIG_SCHEMA.validate(read_toml(path))
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


