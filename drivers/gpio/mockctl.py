"""The mock factory's control channel: a line protocol that plays the field wiring.

It only exists when the pin factory is ``mock``. A client (``guardroom.emulators.gpio``,
``nc``, a test) connects over loopback TCP or a UNIX socket and sends one command per line;
every command gets exactly one answer line, ``ok ...``, ``timeout ...`` (``wait`` only) or
``err <reason>``::

    press PIN              drive an input to its ACTIVE level        -> ok PIN LEVEL active
    release PIN            drive an input to its rest level          -> ok PIN LEVEL rest
    pulse PIN MS           press, hold MS milliseconds, release      -> ok PIN LEVEL rest
    burst PIN COUNT PERIOD_US
                           toggle the input COUNT times, PERIOD_US apart (0 = flat out);
                           played by the pin's wire thread: HEARD is how many toggles
                           reached the driver's edge handler (fewer once the chatter
                           guard stopped listening)
                                                                     -> ok PIN COUNT SECONDS RATE HEARD
    read PIN               level of any configured pin               -> ok PIN LEVEL active|rest
    wait PIN LEVEL TIMEOUT_MS
                           LEVEL is 0, 1, active or rest             -> ok PIN LEVEL active|rest
                                                                        or timeout PIN LEVEL ...
    pins                   every configured pin                      -> ok PIN:in|out:NAME:LEVEL ...
    help                                                             -> ok <command list>

Commands run in the connection's own thread, so gpiozero's callbacks (and the driver's
``sink.put``) fire in that thread, exactly as they fire in gpiozero's threads on a Pi.
"""
from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from typing import Any

from .pins import level_word

HELP = ("press PIN | release PIN | pulse PIN MS | burst PIN COUNT PERIOD_US | read PIN | "
        "wait PIN 0|1|active|rest TIMEOUT_MS | pins | help")
MAX_BURST = 10_000_000
MAX_WAIT_MS = 3_600_000


def parse_address(addr: str) -> tuple[str, Any]:
    """``"host:port"`` -> ``("tcp", (host, port))``; ``"unix:/path"`` -> ``("unix", path)``.
    Raises ValueError with the reason."""
    if addr.startswith("unix:"):
        path = addr[5:]
        if not path:
            raise ValueError("unix: needs a socket path, e.g. unix:/run/guardroom/gpio.sock")
        return "unix", path
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{addr!r} is not host:port or unix:/path")
    host = host.strip("[]")
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"{port!r} in {addr!r} is not a port number") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"port {p} is out of range 0-65535")
    return "tcp", (host, p)


def format_address(kind: str, bound: Any) -> str:
    if kind == "unix":
        return "unix:" + bound
    host, port = bound[0], bound[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class ControlPin:
    """One configured pin as the control channel sees it."""

    pin: int
    role: str          # "in" or "out"
    name: str          # point name (inputs) or output name
    active: int        # electrical level that means ACTIVE / on
    obj: Any           # the gpiozero mock pin


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        ctl: MockControl = self.server.control  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line in ("quit", "exit"):
                break
            try:
                self.wfile.write((ctl.execute(line) + "\n").encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                break


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Tcp6Server(_TcpServer):
    address_family = socket.AF_INET6


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class MockControl:
    """Serves the control protocol for the pins of one mock factory."""

    def __init__(self, factory, pins: dict[int, ControlPin], address: str):
        self.factory = factory
        self.pins = pins
        self.requested = address
        self.address = ""          # bound address once started
        self.commands = 0
        self._server = None
        self._thread = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> str:
        kind, where = parse_address(self.requested)
        if kind == "unix":
            if os.path.exists(where):
                os.unlink(where)       # a stale socket from a previous run
            server = _UnixServer(where, _Handler)
            os.chmod(where, 0o600)
        else:
            cls = _Tcp6Server if ":" in where[0] else _TcpServer
            server = cls(where, _Handler)
        server.control = self
        self._server = server
        self.address = format_address(kind, server.server_address)
        # a long poll interval: the emulator must not wake the daemon's process 5 times a
        # second for nothing (its cost would count as the daemon's idle CPU); stop() pokes
        # the socket so shutdown is still immediate
        self._thread = threading.Thread(target=server.serve_forever, name="gpio-mock-control",
                                        kwargs={"poll_interval": 5.0}, daemon=True)
        self._thread.start()
        return self.address

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            self._poke()
            stopper.join(0.05)
        server.server_close()
        if self.address.startswith("unix:"):
            try:
                os.unlink(self.address[5:])
            except FileNotFoundError:
                pass

    def _poke(self) -> None:
        """Connect and hang up: serve_forever wakes and sees the shutdown request."""
        kind, where = parse_address(self.address)
        fam = socket.AF_UNIX if kind == "unix" else \
            (socket.AF_INET6 if ":" in where[0] else socket.AF_INET)
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(where)
        except OSError:
            pass

    # -- commands ---------------------------------------------------------------------------
    def execute(self, line: str) -> str:
        """Run one command line and return its answer line (without newline)."""
        self.commands += 1
        words = line.split()
        cmd, args = words[0].lower(), words[1:]
        handler = getattr(self, "_cmd_" + cmd, None)
        if handler is None:
            return f"err unknown command {cmd!r}; try help"
        try:
            return handler(*args)
        except TypeError:
            return f"err wrong arguments for {cmd}; usage: {_usage(cmd)}"
        except ValueError as e:
            return f"err {e}"

    def _pin(self, text: str, role: str | None = None) -> ControlPin:
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a pin number") from None
        entry = self.pins.get(n)
        if entry is None:
            raise ValueError(f"pin {n} is not configured")
        if role is not None and entry.role != role:
            raise ValueError(f"pin {n} is an {'output' if entry.role == 'out' else 'input'}")
        return entry

    @staticmethod
    def _int(text: str, what: str, lo: int, hi: int) -> int:
        try:
            v = int(text)
        except ValueError:
            raise ValueError(f"{what} {text!r} is not a whole number") from None
        if not lo <= v <= hi:
            raise ValueError(f"{what} {v} is out of range {lo}-{hi}")
        return v

    @staticmethod
    def _drive(entry: ControlPin, level: int) -> None:
        if level:
            entry.obj.drive_high()
        else:
            entry.obj.drive_low()

    def _answer(self, entry: ControlPin, word: str = "ok") -> str:
        level = int(entry.obj.state)
        return f"{word} {entry.pin} {level} {level_word(level, entry.active)}"

    def _cmd_press(self, pin):
        e = self._pin(pin, "in")
        self._drive(e, e.active)
        return self._answer(e)

    def _cmd_release(self, pin):
        e = self._pin(pin, "in")
        self._drive(e, 1 - e.active)
        return self._answer(e)

    def _cmd_pulse(self, pin, ms):
        e = self._pin(pin, "in")
        hold = self._int(ms, "MS", 0, MAX_WAIT_MS)
        self._drive(e, e.active)
        time.sleep(hold / 1000)
        self._drive(e, 1 - e.active)
        return self._answer(e)

    def _cmd_burst(self, pin, count, period_us):
        e = self._pin(pin, "in")
        n = self._int(count, "COUNT", 1, MAX_BURST)
        period = self._int(period_us, "PERIOD_US", 0, 60_000_000) / 1e6
        play = getattr(e.obj, "play", None)
        if play is None:
            raise ValueError(f"pin {e.pin} cannot play a burst")
        wave = play(n, period)          # the wire's own thread plays it (see mockpins)
        wave.finished.wait()
        took = wave.t_end - wave.t0
        rate = n / took if took > 0 else float("inf")
        return f"ok {e.pin} {n} {took:.6f} {rate:.0f} {wave.to_handler}"

    def _cmd_read(self, pin):
        return self._answer(self._pin(pin))

    def _cmd_wait(self, pin, level, timeout_ms):
        e = self._pin(pin)
        word = level.lower()
        if word in ("0", "1"):
            want = int(word)
        elif word in ("active", "on"):
            want = e.active
        elif word in ("rest", "off"):
            want = 1 - e.active
        else:
            raise ValueError(f"LEVEL {level!r} is not 0, 1, active or rest")
        t = self._int(timeout_ms, "TIMEOUT_MS", 0, MAX_WAIT_MS)
        ok = self.factory.wait_level(e.obj, want, t / 1000)
        return self._answer(e, "ok" if ok else "timeout")

    def _cmd_pins(self):
        items = [f"{p.pin}:{p.role}:{p.name}:{int(p.obj.state)}"
                 for p in sorted(self.pins.values(), key=lambda p: p.pin)]
        return "ok " + " ".join(items)

    def _cmd_help(self):
        return "ok " + HELP


def _usage(cmd: str) -> str:
    for part in HELP.split(" | "):
        if part.split()[0] == cmd:
            return part
    return cmd
