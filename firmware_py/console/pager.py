"""The --More-- pager: the output of a command longer than the terminal (``rows`` lines)
waits for a key: space shows the next page, Enter the next line, q (or Ctrl-C) drops the rest.
Pure bookkeeping around two callbacks: ``write(text)`` to the wire and ``want_keys(bool)`` to
put the line editor in single-key mode while lines are held."""
from __future__ import annotations

import asyncio
from typing import Callable

from ..i18n import N_

MORE = N_("--More-- (space: next page, Enter: next line, q: quit)")


class Pager:
    def __init__(self, rows: int, write: Callable[[str], None],
                 want_keys: Callable[[bool], None]):
        self.rows = rows
        self.t = lambda msgid, **f: msgid.format(**f) if f else msgid   # the session's catalog
        self._write, self._want_keys = write, want_keys
        self.active = False                   # paging applies (a command is running)
        self.shown = 0                        # lines on the screen since the last key
        self.held: list[str] = []
        self._drained = asyncio.Event()

    @property
    def more(self) -> str:
        """The prompt in the session's language."""
        return self.t(MORE)

    @property
    def wipe(self) -> str:
        """Carriage return, blanks over the prompt (its display columns), carriage return."""
        from .cols import width

        return "\r" + " " * width(self.more) + "\r"

    def start(self) -> None:
        """A command starts: its line is on the screen already."""
        self.active, self.shown = True, 1

    def stop(self) -> None:
        """The command is over: nothing is held any more."""
        self.active = False
        self.held.clear()
        self._drained.set()

    def line(self, piece: str) -> None:
        """Show one line, or hold it when the screen is full."""
        if self.active and self.rows > 1 and (self.held or self.shown >= self.rows - 1):
            self.held.append(piece)
            if len(self.held) == 1:
                self._drained.clear()
                self._write(self.more)
                self._want_keys(True)
            return
        self._write(piece + "\n")
        self.shown += 1

    def key(self, key: str) -> None:
        """A key at the --More-- prompt."""
        if not self.held or key not in (" ", "\r", "q", "Q"):
            return
        self._write(self.wipe)
        if key in ("q", "Q"):
            n = len(self.held)
            self.held.clear()
            self._write(self.t("({n} more line(s) not shown)", n=n) + "\n")
        else:
            count = self.rows - 1 if key == " " else 1
            release, self.held = self.held[:count], self.held[count:]
            for piece in release:
                self._write(piece + "\n")
            # a page shown: the next page starts; one line shown: the screen stays full
            self.shown = len(release) if key == " " else self.rows - 1
        if self.held:
            self._write(self.more)
        else:
            self._want_keys(False)
            self._drained.set()

    def off(self) -> None:
        """No paging for the rest of this command (a live view): show what waits."""
        held, self.held = self.held, []
        if held:
            self._write(self.wipe)
            for piece in held:
                self._write(piece + "\n")
        self.active = False
        self._drained.set()

    async def drained(self) -> None:
        """Until everything held was paged through (before a question); a fresh page."""
        while self.held:
            await self._drained.wait()
        self.shown = 0
