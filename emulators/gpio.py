"""Drive an emulated GPIO site: a client of the GPIO driver's mock control channel.

    emu = GpioEmulator("127.0.0.1:7301")      # or "unix:/run/guardroom/gpio.sock"
    emu.press(17); emu.release(17); emu.pulse(17, 200)
    emu.burst(17, 50_000, 20)                 # -> {"pin", "count", "seconds", "rate", "heard"}
    emu.read(27)                              # -> 0/1 (electrical level)
    emu.wait(27, "active", 2000)              # -> True, or False on timeout

CLI (wired to ``guardroom emulate gpio``)::

    python -m guardroom.emulators.gpio --control 127.0.0.1:7301 press 17
    python -m guardroom.emulators.gpio --control-file /run/guardroom/gpio.addr   # a prompt

The client is blocking (one socket, one line out, one line in); from asyncio code call it
through ``asyncio.to_thread``.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading

from guardroom.drivers.gpio.errors import ControlError
from guardroom.drivers.gpio.mockctl import parse_address
from guardroom.i18n import env_gettext as _


class GpioEmulator:
    """A connection to one mock control channel; thread-safe (one command at a time)."""

    def __init__(self, address: str, timeout: float = 30.0):
        kind, where = parse_address(address.strip())
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(where)
        else:
            sock = socket.create_connection(where, timeout=timeout)
        self.address = address.strip()
        self._sock = sock
        self._file = sock.makefile("rwb")
        self._lock = threading.Lock()
        self.timeout = timeout

    @classmethod
    def from_file(cls, path: str, **kw) -> "GpioEmulator":
        with open(path) as f:
            return cls(f.read().strip(), **kw)

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def command(self, line: str, timeout: float | None = None) -> str:
        """Send one command line; return the answer line. ``err`` answers raise
        ``ControlError``; ``ok`` and ``timeout`` answers are returned as they are."""
        with self._lock:
            self._sock.settimeout(timeout if timeout is not None else self.timeout)
            self._file.write(line.strip().encode() + b"\n")
            self._file.flush()
            answer = self._file.readline().decode().strip()
        if not answer:
            raise ConnectionError("the control channel closed the connection")
        if answer.startswith("err"):
            raise ControlError(answer[4:])
        return answer

    def _level(self, answer: str) -> int:
        return int(answer.split()[2])

    def press(self, pin: int) -> int:
        return self._level(self.command(f"press {pin}"))

    def release(self, pin: int) -> int:
        return self._level(self.command(f"release {pin}"))

    def pulse(self, pin: int, ms: int) -> int:
        return self._level(self.command(f"pulse {pin} {ms}", timeout=ms / 1000 + self.timeout))

    def burst(self, pin: int, count: int, period_us: int = 0) -> dict:
        budget = count * period_us / 1e6 + count * 1e-4 + self.timeout
        words = self.command(f"burst {pin} {count} {period_us}", timeout=budget).split()
        _, p, n, secs, rate = words[:5]
        heard = int(words[5]) if len(words) > 5 else int(n)
        return {"pin": int(p), "count": int(n), "seconds": float(secs), "rate": float(rate),
                "heard": heard}

    def read(self, pin: int) -> int:
        return self._level(self.command(f"read {pin}"))

    def is_active(self, pin: int) -> bool:
        return self.command(f"read {pin}").split()[3] == "active"

    def wait(self, pin: int, level, timeout_ms: int) -> bool:
        """Block until the pin has ``level`` (0, 1, "active", "rest"); False on timeout."""
        answer = self.command(f"wait {pin} {level} {timeout_ms}",
                              timeout=timeout_ms / 1000 + self.timeout)
        return answer.startswith("ok")

    def pins(self) -> list[dict]:
        out = []
        for item in self.command("pins").split()[1:]:
            pin, role, name, level = item.split(":")
            out.append({"pin": int(pin), "role": role, "name": name, "level": int(level)})
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="guardroom emulate gpio",
        description=_("Press panic buttons and watch sirens on a daemon running the mock GPIO "
                    "factory. With a command, run it and exit; without, read commands from "
                    "stdin (one per line; 'help' lists them)."))
    ap.add_argument("--control", help=_("control address (host:port or unix:/path)"))
    ap.add_argument("--control-file", help=_("read the control address from this file"))
    ap.add_argument("command", nargs=argparse.REMAINDER,
                    help=_("e.g. press 17 | release 17 | pulse 17 300 | read 27 | wait 27 active 5000"))
    args = ap.parse_args(argv)
    if not args.control and not args.control_file:
        ap.error("give --control ADDRESS or --control-file PATH")
    try:
        emu = (GpioEmulator(args.control, timeout=3600) if args.control
               else GpioEmulator.from_file(args.control_file, timeout=3600))
    except (OSError, ValueError) as e:
        print(f"cannot reach the GPIO control channel: {e}", file=sys.stderr)
        return 2
    with emu:
        if args.command:
            return _run(emu, " ".join(args.command))
        interactive = sys.stdin.isatty()
        rc = 0
        while True:
            if interactive:
                print("gpio> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return rc
            if line.strip() in ("quit", "exit"):
                return rc
            if line.strip():
                rc = _run(emu, line)


def _run(emu: GpioEmulator, line: str) -> int:
    try:
        print(emu.command(line))
        return 0
    except ControlError as e:
        print(f"err {e}")
        return 1
    except (OSError, ConnectionError) as e:
        print(f"connection lost: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
