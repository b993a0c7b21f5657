"""A minimal serial-console client for the suite: what a field engineer types in picocom.

    con = ConsoleClient(path)           # the terminal's end of the console cable
    con.login("7777")                   # installer
    text = con.cmd("modbus stats")      # the output up to the next prompt
"""
from __future__ import annotations

import os
import re
import select
import time

from .rig import SLOW

PROMPT = re.compile(rb"guardroom\((\w+)\)> ")


class ConsoleClient:
    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.buf = bytearray()

    def close(self) -> None:
        os.close(self.fd)

    def _read_until(self, rx: re.Pattern, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout * SLOW
        while True:
            m = rx.search(self.buf)
            if m:
                out = bytes(self.buf[:m.start()])
                del self.buf[:m.end()]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"console: {rx.pattern!r} not seen; got "
                                   f"{bytes(self.buf[-500:])!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                self.buf += os.read(self.fd, 4096)

    def line(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\r")

    def cmd(self, text: str, timeout: float = 20.0) -> str:
        self.line(text)
        return self._read_until(PROMPT, timeout).decode(errors="replace").replace("\r\n", "\n")

    def login(self, code: str, timeout: float = 20.0) -> None:
        # The console wakes on the first byte and prints its banner; what is typed meanwhile
        # may be dropped (a real terminal user types again): ask until the code prompt shows.
        deadline = time.monotonic() + timeout * SLOW
        while True:
            self.line("login")
            try:
                self._read_until(re.compile(rb"Code: "), 2.0)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        self.line(code)  # never logged or printed by the suite
        self._read_until(re.compile(rb"guardroom\(installer\)> |guardroom\(user\)> "),
                         timeout)
        self.buf.clear()
