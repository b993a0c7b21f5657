"""The command table and the context a command runs in.

Each command family lives in its own module (``cmd_*.py``) and registers its commands with the
``@command`` decorator: name, access level, usage, a one-line summary and the help text. The
console parses a line, checks the level, and runs the handler as a task it can cancel (Ctrl-C).
A handler writes with ``ctx.out``, asks for a line with ``await ctx.ask``, waits in a live view
with ``await ctx.wait_interrupt()``, and refuses with ``raise CommandError(...)`` (or
``UsageError`` to show the usage).
"""
from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional

from ..errors import GuardroomError
from ..i18n import Msg, tr
from .session import LEVEL_ANYONE, LEVEL_INSTALLER, LEVEL_NAMES, LEVEL_USER

__all__ = ["Command", "CommandError", "UsageError", "Context", "REGISTRY", "command", "parse",
           "LEVEL_ANYONE", "LEVEL_USER", "LEVEL_INSTALLER"]


class ConsoleError(GuardroomError):
    """Base of the console's errors."""


class CommandError(ConsoleError):
    """A command refused or failed. ``CommandError(msgid, **fields)``: the English msgid of the
    catalog with its fields, shown in the session's language (``text``); an error text from
    elsewhere (a :class:`Msg`, or plain English) is shown as it came."""

    def __init__(self, msg: str = "", **fields):
        self.msg = Msg(msg, **fields) if fields or (msg and not isinstance(msg, Msg)) else msg
        super().__init__(self.msg)

    def text(self, t) -> str:
        """The message through the translator ``t``."""
        return tr(self.msg, t)


class UsageError(CommandError):
    """Wrong arguments: the console shows the message and the command's usage."""


@dataclass
class Command:
    name: str
    level: int
    usage: str
    summary: str
    help: str
    run: Callable[["Context", list[str]], Awaitable[None]]


REGISTRY: dict[str, Command] = {}


def command(name: str, level: int, usage: str, summary: str, help: str = ""):
    """Register ``async def handler(ctx, args)`` as the command ``name``. ``summary`` and
    ``help`` are catalog msgids (the help as written, stripped after translating)."""
    def deco(fn):
        REGISTRY[name] = Command(name, level, usage, summary, help, fn)
        return fn
    return deco


def parse(line: str) -> list[str]:
    """Split a command line like a shell does (quotes keep spaces); raises UsageError."""
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError as e:
        raise UsageError("cannot read that line: {e}", e=e) from None


class Context:
    """What a running command sees: the host, the session, and the console's I/O."""

    def __init__(self, console, name: str):
        self.console = console
        self.host = console.host
        self.session = console.session
        self.name = name
        self.colour = console.colour
        self._live = False
        self._interrupt = asyncio.Event()
        self.detached = False                 # left behind after Ctrl-C: output is dropped

    @property
    def user(self) -> str:
        return self.session.user

    @property
    def level(self) -> int:
        return self.session.level

    def _(self, msgid: str, **fields) -> str:
        """``msgid`` in this session's language (``lang zh``), fields filled in."""
        return self.console._(msgid, **fields)

    def out(self, *lines: str) -> None:
        if not self.detached:
            self.console.out(*lines)

    def touch(self) -> None:
        """Count as activity (keeps an idle logout away during a live view)."""
        self.console.touch()

    async def ask(self, prompt: str, secret: bool = False) -> Optional[str]:
        """Read one line from the installer (None on Ctrl-C / Ctrl-D)."""
        return await self.console.read_line(prompt, secret)

    async def confirm(self, question: str) -> bool:
        answer = await self.ask(f"{question} " + self._("[y/N] "))
        return (answer or "").strip().lower() in ("y", "yes", "是", "s")

    def read_keys(self, handler) -> None:
        """Single keys typed from now on go to ``handler(key)`` (a full-screen view); Ctrl-C
        still ends the view."""
        self.live()
        self.console.key_handler = handler
        self.console.editor.keys = True

    def raw(self, text: str) -> None:
        """Write ``text`` as is (escape sequences of a full-screen view)."""
        if not self.detached:
            self.console.write(text)

    def live(self) -> None:
        """This command is a live view from now on: its output is never paged."""
        if not self.detached:
            self.console.page_off()

    async def wait_interrupt(self, timeout: Optional[float] = None) -> bool:
        """Wait in a live view until Ctrl-C (True) or ``timeout`` seconds (False)."""
        self.live()
        self._live = True
        try:
            if timeout is None:
                await self._interrupt.wait()
                return True
            async with asyncio.timeout(timeout):
                await self._interrupt.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._live = False
            self._interrupt.clear()

    def interrupt(self) -> bool:
        """Ctrl-C arrived: ends a live view (True), else the caller cancels the command."""
        if self._live:
            self._interrupt.set()
            return True
        return False

    def level_name(self, level: int) -> str:
        return LEVEL_NAMES[level]
