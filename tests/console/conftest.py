"""Console end-to-end fixtures: the real Daemon (GPIO mock factory, real Mosquitto) runs in a
thread of its own with its asyncio loop, like a process; the test is the installer's terminal
on the master end of a pty pair whose slave path is the console port in the config."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import tty

import pytest

from guardroom.config import load
from guardroom.daemon import Daemon
from guardroom.emulators.gpio import GpioEmulator

from .sitecfg import OSDP_KEY, site_toml
from .term import BOUND, Term


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def console_broker(tmp_path_factory):
    """A Mosquitto on a free loopback port for the whole console suite."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    d = tmp_path_factory.mktemp("mosq")
    port = _free_port()
    conf = d / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + BOUND
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("mosquitto did not start")
            time.sleep(0.05)   # polling a port a child opens: no event to await
    yield port
    proc.terminate()
    proc.wait(10)


class Rig:
    """The daemon in its own loop thread, the terminal, and the GPIO emulator client."""

    def __init__(self, tmp_path, broker_port: int, write: bool = True, wire: str = "pty",
                 modbus: tuple = (), **site):
        """``wire``: "pty" (a pty pair, the console opens the slave path), "pty-link" (the
        console creates the pty itself, ``port = "pty:LINK"``) or "socket" (the console
        connects to our TCP listener, ``port = "socket://..."``)."""
        self._slave = self.master = -1
        self._listener = None
        if wire == "pty":
            self.master, slave = os.openpty()
            tty.setraw(slave)
            self._slave = slave                # kept open: the console opens it by path
            self.port = os.ttyname(slave)
        elif wire == "pty-link":
            self.port = f"pty:{tmp_path / 'console.tty'}"
        else:
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.port = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self.dir = tmp_path
        self.control_file = str(tmp_path / "gpio.ctl")
        self.config_path = str(tmp_path / "site.toml")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="daemon-loop",
                                       daemon=True)
        self.thread.start()
        self.modbus = None
        if modbus:                             # Modbus TCP devices at these addresses
            from guardroom.emulators.modbus import ModbusEmulator

            self.modbus = ModbusEmulator()
            for address in modbus:
                self.modbus.add_device(address, "di8")
            if site.get("fence"):
                self.modbus.add_device(2, "fence")
            _, mb_port = self.run(self.modbus.start_tcp("127.0.0.1", 0))
            site["modbus_port"] = mb_port
        self.osdp = None
        if site.pop("osdp", False):            # one OSDP reader (libosdp PD) on a pty bus
            from guardroom.emulators.osdp import OsdpBus

            self.osdp = OsdpBus()
            self.reader = self.osdp.add_reader(101, scbk=bytes.fromhex(OSDP_KEY))
            self.osdp.start()
            site["osdp_device"] = self.osdp.path
        text = site_toml(str(tmp_path / "store"), self.port, self.control_file,
                         mqtt_port=broker_port, **site)
        if not write:                          # a restart: same file, the new pty's path
            with open(self.config_path) as fh:
                old = fh.read()
            text = old.replace(old.split('[console]\nport = "')[1].split('"')[0], self.port)
        with open(self.config_path, "w") as fh:
            fh.write(text)
        self.daemon = Daemon(load(self.config_path), self.config_path)
        self.run(self.daemon.start())
        if wire == "pty-link":
            # The console made its pty raw already; a setraw() here (TCSAFLUSH) would throw
            # away the banner it has written meanwhile.
            self.master = os.open(self.port[4:], os.O_RDWR | os.O_NOCTTY)
        elif wire == "socket":
            self._listener.settimeout(BOUND)
            self._conn, _ = self._listener.accept()
            self.master = self._conn.fileno()
        self.term = Term(self.master)
        self.gpio = GpioEmulator.from_file(self.control_file)

    def run(self, coro, timeout: float = BOUND):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        async def _c():
            return fn(*args)
        return self.run(_c())

    def stopped(self, timeout: float = BOUND) -> bool:
        """Wait until the daemon stopped (e.g. after a requested restart)."""
        try:
            self.run(self.daemon.wait_stopped(), timeout)
            return True
        except TimeoutError:
            return False

    def watch(self, pred):
        """A threading.Event set when the daemon makes a decision matching ``pred(dict)``
        (subscribed in the daemon's loop, like the console's own live views)."""
        hit = threading.Event()

        def cb(d):
            if pred(d):
                hit.set()
        self.call(self.daemon.subscribe, cb)
        return hit

    def watch_log(self, pred) -> tuple[threading.Event, list]:
        """(event, records): set when a log row matching ``pred`` is appended from now on."""
        hit, found = threading.Event(), []

        def cb(row, rec):
            if pred(rec):
                found.append(rec)
                hit.set()
        self.call(self.daemon.eventlog.subscribe, cb)
        return hit, found

    def wait_log(self, pred, timeout: float = BOUND) -> dict:
        """The first event-log row matching ``pred``, waiting for its append."""
        hit = threading.Event()
        found = []

        def cb(row, rec):
            if pred(rec):
                found.append(rec)
                hit.set()
        self.call(self.daemon.eventlog.subscribe, cb)
        try:
            for rec in self.call(self.daemon.eventlog.tail, 500):
                if pred(rec):
                    return rec
            assert hit.wait(timeout), "no such event in the log"
            return found[0]
        finally:
            self.call(self.daemon.eventlog.unsubscribe, cb)

    def login(self, code: str, level: str) -> str:
        t = self.term
        t.line("login")
        t.expect("Code: ")
        t.line(code)
        return t.prompt(level).decode()

    def close(self) -> None:
        try:
            self.gpio.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.run(self.daemon.stop())
            if self.modbus is not None:
                self.run(self.modbus.stop())
            if self.osdp is not None:
                self.osdp.stop()
        except TimeoutError:
            import io
            buf = io.StringIO()
            for task in asyncio.all_tasks(self.loop):
                task.print_stack(file=buf)
            raise AssertionError("daemon.stop() hung; tasks:\n" + buf.getvalue()) from None
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(BOUND)
            if self._listener is not None:
                self._conn.close()
                self._listener.close()
            else:
                for fd in (self.master, self._slave):
                    try:
                        os.close(fd)
                    except OSError:
                        pass


@pytest.fixture
def rig_factory(tmp_path, console_broker):
    rigs = []

    def make(**site):
        r = Rig(tmp_path, console_broker, **site)
        rigs.append(r)
        r.term.prompt("anyone")                # the banner and first prompt
        return r
    yield make
    for r in rigs:
        r.close()


@pytest.fixture
def rig(rig_factory):
    return rig_factory()
