"""A byte-level terminal on a pty master: what screen/picocom would send and see."""
from __future__ import annotations

import os
import re
import select
import time

BOUND = 20.0  # failure bound (s) for one expectation, never a timing expectation

MORE = b"--More-- (space: next page, Enter: next line, q: quit)"
MORE_ZH = "--更多-- （空格：下一页，回车：下一行，q：退出）".encode()   # a `lang zh` session
PROMPT = re.compile(rb"guardroom\((anyone|user|installer)\)> $")


class Term:
    def __init__(self, fd: int):
        self.fd = fd
        self.seen = bytearray()        # everything received, for failure messages
        self.buf = bytearray()         # received and not yet consumed by expect()

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        os.write(self.fd, data)

    def line(self, text: str, end: bytes = b"\r") -> None:
        self.send(text.encode() + end)

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], left)
        if not r:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return False
        self.seen += data
        self.buf += data
        return True

    def expect(self, pattern, timeout: float = BOUND) -> re.Match:
        """Wait until ``pattern`` (bytes/str regex) appears; consume up to its end."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(bytes(self.buf))
            if m:
                del self.buf[:m.end()]
                return m
            if not self._fill(deadline):
                tail = bytes(self.seen[-1500:]).decode("utf-8", "replace")
                raise AssertionError(f"timed out waiting for {rx.pattern!r}; the terminal "
                                     f"showed:\n{tail}")

    def prompt(self, level: str | None = None, timeout: float = BOUND) -> bytes:
        """Wait for the prompt; returns what came before it. A --More-- prompt on the way is
        answered with a space (and left out of what is returned)."""
        rx = re.compile(rb"guardroom\((" + (level.encode() if level else rb"\w+") +
                        rb")\)> |" + re.escape(MORE) + rb"|" + re.escape(MORE_ZH))
        out = b""
        while True:
            start = len(self.seen) - len(self.buf)
            m = self.expect(rx, timeout)
            out += bytes(self.seen[start:len(self.seen) - len(self.buf) - len(m[0])])
            if m[0] not in (MORE, MORE_ZH):
                return out
            self.send(b" ")
            self.expect(rb"\r +\r")             # the --More-- prompt is wiped

    def cmd(self, text: str, level: str | None = None, timeout: float = BOUND) -> str:
        """Type a command, wait for the next prompt, return the output (CRLF -> LF)."""
        self.line(text)
        out = self.prompt(level, timeout)
        return out.decode("utf-8", "replace").replace("\r\n", "\n")

    def drain(self, quiet: float = 0.0) -> bytes:
        """Whatever is waiting right now."""
        self._fill(time.monotonic() + quiet)
        out = bytes(self.buf)
        self.buf.clear()
        return out
