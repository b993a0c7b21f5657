"""A line editor over a raw byte stream, for plain serial terminals (screen, picocom, minicom,
PuTTY): echo, backspace (0x08) and delete (0x7f), CR / LF / CRLF line ends, Ctrl-C, Ctrl-D,
Ctrl-U (kill line), Ctrl-W (kill word), Tab (complete the command word), up/down arrow history,
Left/Right, Home/End (also Ctrl-A/Ctrl-E) and Delete to edit inside the line, and every other
ANSI escape sequence consumed so function keys never land in a command. A lone ESC is dropped
and the key after it is taken as typed. The cursor moves with backspaces and rewrites only,
so it works on any terminal.

The editor is pure: ``feed(data) -> (echo: bytes, events: list)``. It does no I/O; the console
writes the echo back to the wire and acts on the events. While ``reading`` is False (a command
is running) typed characters are dropped, but Ctrl-C and Ctrl-D still come through, so a live
view can be cancelled. In ``secret`` mode each character echoes as ``*`` and the line is not
kept in the history.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

CTRL_A, CTRL_C, CTRL_D, CTRL_E, BS, TAB, LF, CR, CTRL_L, CTRL_U, CTRL_W, ESC, DEL = (
    0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0D, 0x0C, 0x15, 0x17, 0x1B, 0x7F)
MAX_LINE = 512
HISTORY = 50
BELL = b"\x07"


@dataclass(frozen=True)
class Line:
    """A finished line (without its line end)."""
    text: str


@dataclass(frozen=True)
class Interrupt:
    """Ctrl-C: cancel the line being typed, or the command / live view running."""


@dataclass(frozen=True)
class Hangup:
    """Ctrl-D: log out."""


@dataclass(frozen=True)
class Key:
    """One key pressed while a pager waits (``keys`` mode): ' ', 'q', '\r'..."""
    key: str


class LineEditor:
    """Turns raw terminal bytes into lines and control events, and tells what to echo."""

    def __init__(self, complete: Optional[Callable[[str], Iterable[str]]] = None):
        self.buf = ""
        self.pos = 0                          # cursor position in buf
        self.reading = True
        self.keys = False                     # a pager wants single keys
        self.secret = False
        self.history: list[str] = []
        self._hist_pos = 0
        self._complete = complete
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        self._after_cr = False
        self._esc = 0          # 0 none, 1 after ESC, 2 in CSI, 3 after ESC O (SS3)
        self._csi = bytearray()

    # -- modes ---------------------------------------------------------------------------------
    def start_line(self, secret: bool = False) -> None:
        """Begin reading a new line (after the prompt was written)."""
        self.buf = ""
        self.pos = 0
        self.secret = secret
        self.reading = True
        self._hist_pos = len(self.history)
        self._decoder.reset()

    def stop(self) -> None:
        """Stop reading: typed characters are dropped until the next ``start_line``."""
        self.reading = False
        self.buf = ""
        self.pos = 0

    def forget(self, text: str) -> None:
        """Drop ``text`` from the history (a line that held a code)."""
        self.history[:] = [h for h in self.history if h != text]
        self._hist_pos = len(self.history)

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> tuple[bytes, list]:
        echo = bytearray()
        events: list = []
        for b in data:
            if self._esc:
                if not self._escape(b, echo):
                    continue                  # part of the sequence
                # a lone ESC: the key after it is taken as typed
            after_cr, self._after_cr = self._after_cr, False
            if b == LF and after_cr:
                continue                      # the LF of a CRLF
            if self.keys and not self.reading and b not in (CTRL_C, CTRL_D, ESC):
                events.append(Key("\r" if b in (CR, LF) else chr(b) if b < 0x80 else ""))
                self._after_cr = b == CR
                continue
            if b in (CR, LF):
                self._after_cr = b == CR
                if self.reading:
                    echo += b"\r\n"
                    events.append(self._finish())
                continue
            if b == CTRL_C:
                if self.reading:
                    echo += b"^C\r\n"
                    self.buf = ""
                    self.pos = 0
                events.append(Interrupt())
                continue
            if b == CTRL_D:
                if self.reading:
                    echo += b"\r\n"
                    self.buf = ""
                    self.pos = 0
                events.append(Hangup())
                continue
            if b == ESC:
                self._esc = 1
                continue
            if not self.reading:
                continue
            if b in (BS, DEL):
                echo += self._erase_before(1)
            elif b == CTRL_U:
                echo += self._end() + self._erase_before(len(self.buf))
            elif b == CTRL_W:
                echo += self._erase_before(self._word_len())
            elif b == CTRL_A:
                echo += self._home()
            elif b == CTRL_E:
                echo += self._end()
            elif b == CTRL_L:
                echo += b"\r\n" + self._shown(self.buf) + b"\b" * (len(self.buf) - self.pos)
            elif b == TAB:
                echo += self._tab()
            elif b < 0x20:
                continue                      # other control characters: ignored
            else:
                for ch in self._decoder.decode(bytes([b])):
                    if len(self.buf) >= MAX_LINE:
                        echo += BELL
                        continue
                    echo += self._insert(ch)
        return bytes(echo), events

    # -- helpers -------------------------------------------------------------------------------
    def _finish(self) -> Line:
        text = self.buf
        if not self.secret and text.strip():
            if not self.history or self.history[-1] != text:
                self.history.append(text)
                del self.history[:-HISTORY]
        self.buf = ""
        self.pos = 0
        self.reading = False                  # until the console starts the next line
        return Line(text)

    def _shown(self, text: str) -> bytes:
        return b"*" * len(text) if self.secret else text.encode("utf-8")

    def _insert(self, ch: str) -> bytes:
        tail = self.buf[self.pos:]
        self.buf = self.buf[:self.pos] + ch + tail
        self.pos += 1
        return self._shown(ch) + self._shown(tail) + b"\b" * len(tail)

    def _erase_before(self, n: int) -> bytes:
        """Delete ``n`` characters left of the cursor, on screen too."""
        n = min(n, self.pos)
        if n == 0:
            return b""
        tail = self.buf[self.pos:]
        self.buf = self.buf[:self.pos - n] + tail
        self.pos -= n
        if not tail:
            return b"\b \b" * n
        return b"\b" * n + self._shown(tail) + b" " * n + b"\b" * (len(tail) + n)

    def _erase_at(self) -> bytes:
        """Delete the character under the cursor (the Delete key)."""
        if self.pos >= len(self.buf):
            return b""
        tail = self.buf[self.pos + 1:]
        self.buf = self.buf[:self.pos] + tail
        return self._shown(tail) + b" " + b"\b" * (len(tail) + 1)

    def _home(self) -> bytes:
        out, self.pos = b"\b" * self.pos, 0
        return out

    def _end(self) -> bytes:
        out, self.pos = self._shown(self.buf[self.pos:]), len(self.buf)
        return out

    def _erase(self, n: int) -> bytes:
        return self._end() + self._erase_before(n)

    def _word_len(self) -> int:
        s = self.buf[:self.pos]
        i = len(s)
        while i and s[i - 1] == " ":
            i -= 1
        while i and s[i - 1] != " ":
            i -= 1
        return len(s) - i

    def _replace(self, text: str) -> bytes:
        out = self._erase(len(self.buf))
        self.buf = text[:MAX_LINE]
        self.pos = len(self.buf)
        return out + self._shown(self.buf)

    def _tab(self) -> bytes:
        if self.secret or self._complete is None or " " in self.buf.lstrip() \
                or self.pos != len(self.buf):
            return b""
        word = self.buf.strip()
        options = sorted(set(o for o in self._complete(word) if o.startswith(word)))
        if len(options) == 1:
            return self._replace(options[0] + " ")
        common = _common_prefix(options)
        if len(common) > len(word):
            return self._replace(common)
        return BELL if not options else b""

    def _escape(self, b: int, echo: bytearray) -> bool:
        """Take one byte of an escape sequence; True when ``b`` was not part of one (after
        a lone ESC) and must be handled as a key."""
        if self._esc == 1:
            if b == ord("["):
                self._esc, self._csi = 2, bytearray()
                return False
            if b == ord("O"):
                self._esc = 3
                return False
            self._esc = 0
            if b == ESC:
                self._esc = 1                 # ESC ESC: still waiting for a sequence
                return False
            return True                       # a lone ESC: dropped, the key stays
        if self._esc == 3:
            self._esc = 0
            self._key(chr(b), "", echo)
            return False
        # CSI: parameter and intermediate bytes until a final byte 0x40-0x7e
        if 0x40 <= b <= 0x7E:
            self._esc = 0
            self._key(chr(b), self._csi.decode("ascii", "replace"), echo)
        elif 0x20 <= b <= 0x3F and len(self._csi) < 16:
            self._csi.append(b)
        else:
            self._esc = 0                     # malformed: give up on the sequence
        return False

    def _key(self, final: str, params: str, echo: bytearray) -> None:
        """A cursor or editing key from an escape sequence (others are ignored)."""
        if not self.reading:
            return
        if final == "~":
            final = {"1": "H", "7": "H", "4": "F", "8": "F", "3": "DEL"}.get(params, "")
        elif params:
            return                            # modified keys (Ctrl-Right...): ignored
        if final == "D" and self.pos > 0:
            self.pos -= 1
            echo += b"\b"
        elif final == "C" and self.pos < len(self.buf):
            echo += self._shown(self.buf[self.pos])
            self.pos += 1
        elif final == "H":
            echo += self._home()
        elif final == "F":
            echo += self._end()
        elif final == "DEL":
            echo += self._erase_at()
        elif final in ("A", "B"):
            self._arrow(ord(final), echo)

    def _arrow(self, final: int, echo: bytearray) -> None:
        if not self.reading or self.secret or not self.history:
            return
        if final == ord("A") and self._hist_pos > 0:
            self._hist_pos -= 1
            echo += self._replace(self.history[self._hist_pos])
        elif final == ord("B") and self._hist_pos < len(self.history):
            self._hist_pos += 1
            text = self.history[self._hist_pos] if self._hist_pos < len(self.history) else ""
            echo += self._replace(text)


def _common_prefix(words: list[str]) -> str:
    if not words:
        return ""
    lo, hi = min(words), max(words)
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    return lo[:i]
