"""The commissioning console: one serial port, one session, one shell task in the daemon's
loop. Bytes from the port go through the line editor; finished lines are parsed and run as
commands, each as a task that Ctrl-C cancels (or, in a live view, ends). The session holds the
access level; login checks the code off the loop (PBKDF2 is slow on purpose), applies the
wrong-code lockout and reports 461, installer login/logout report 627/628, a duress code logs
in like the real one and raises a duress alarm without a word on the screen, and an idle
session logs out.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Optional

from ..codes import LEVEL_INSTALLER, LEVEL_NAMES, Lockout
from ..i18n import Msg, normalize, translator
from . import (cmd_bus, cmd_config, cmd_log, cmd_monitor, cmd_report,  # noqa: F401
               cmd_system, cmd_tests, cmd_users, cmd_zones)
from .commands import REGISTRY, CommandError, Context, UsageError, parse
from .render import fit, usage, wrap
from .pager import Pager
from .session import Session
from .terminal import Hangup, Interrupt, Key, Line, LineEditor
from .transport import SerialLink
from .cmd_tests import end_walktests
from .walktest import running_areas

log = logging.getLogger("guardroom.console")

CANCEL_GRACE_S = 1.0   # how long a cancelled command may take to stop before it is left behind


def _holds_code(name: str, args: list[str]) -> bool:
    """A line that may hold a code: a login with arguments, or digits typed as a command."""
    return (name == "login" and bool(args)) or (name.isdigit() and len(name) >= 4)


class Console:
    """``Console(host, config)``; ``await start()`` in the daemon's loop, ``await stop()``.
    ``config`` is the validated ``[console]`` section (or the whole config holding it)."""

    def __init__(self, host, config: dict):
        if "console" in config and "port" not in config:
            config = config["console"]
        self.host = host
        self.config = config
        self.colour = bool(config.get("colour", False))
        self.utf8 = bool(config.get("utf8", True))
        self.lang, self._ = "en", translator("en")
        site = (getattr(host, "config", None) or {}).get("site") or {}
        self.set_lang(site.get("language", "en"))
        lk = config.get("lockout") or {}
        self.lockout = Lockout(lk.get("attempts", 5), lk.get("lock_s", 90),
                               lk.get("max_lock_s", 3600),
                               store=getattr(host, "authstore", None), key="console")
        self.session = Session(self.lockout, float(config.get("idle_logout_s", 600)))
        self.editor = LineEditor(complete=self._complete)
        self.link: Optional[SerialLink] = None
        self.state: dict = {}                 # per-console state of command families
        self._events: asyncio.Queue = asyncio.Queue()
        self._shell: Optional[asyncio.Task] = None
        self._idle: Optional[asyncio.TimerHandle] = None
        self._running: Optional[asyncio.Task] = None
        self._ctx: Optional[Context] = None
        self._line_wanted: Optional[asyncio.Future] = None
        self._stopping = False
        self._quiet_cancel = False
        self._side_tasks: set = set()         # walk-test stops scheduled at logout
        # the pager: output of a command longer than the terminal waits for a key
        self.rows = int(config.get("rows", 24))
        self.pager = Pager(self.rows, self.write, self._want_keys)
        self.pager.t = self._
        self.key_handler = None               # a full-screen view reading single keys
        self.started = time.monotonic()       # for 'version': the controller's uptime

    def set_lang(self, lang: str) -> bool:
        """This session speaks ``lang`` from now on; False (English kept) when the terminal
        is not UTF-8 (``[console] utf8 = false``) and ``lang`` needs it."""
        lang = normalize(lang)
        if lang != "en" and not self.utf8:
            return False
        self.lang, self._ = lang, translator(lang)
        if getattr(self, "pager", None) is not None:
            self.pager.t = self._
        return True

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.link = SerialLink(self.config["port"], int(self.config.get("baudrate", 115200)),
                               loop, self._on_bytes, self._on_up)
        try:
            self.link.open_now()
        except Exception as e:  # noqa: BLE001 - a missing port must not stop the alarm daemon
            log.warning("console port %s not open yet (%s); retrying in the background",
                        self.config["port"], e)
        self.link.start()
        self._shell = asyncio.create_task(self._shell_loop(), name="console-shell")

    async def stop(self) -> None:
        self._stopping = True
        if self.session.logged_in:
            self.write("\n" + self._("The controller is shutting down. Logged out.") + "\n")
            self.logout("shutdown")
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        for task in list(self._side_tasks):
            await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
        for task in (self._running, self._shell):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._running, self._shell):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        if self.link is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.link.stop)

    def status(self) -> dict:
        """For the daemon's status: who is logged in, link counters (never a code)."""
        link = self.link
        return {"port": self.config["port"], "level": self.session.level_name,
                "user": self.session.user, "locked_s": round(self.lockout.remaining(
                    time.monotonic())), "bytes_in": link.bytes_in if link else 0,
                "bytes_out": link.bytes_out if link else 0,
                "pty": link.slave_path if link else ""}

    # -- output --------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        if self.link is None:
            return
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        # an ASCII terminal ([console] utf8 = false) gets '?' for what it cannot show
        self.link.write(text.encode("utf-8" if self.utf8 else "ascii", "replace"))

    def out(self, *lines: str) -> None:
        for line in lines:
            for part in str(line).split("\n"):
                for piece in fit(part):
                    self._emit(piece)

    def _emit(self, piece: str) -> None:
        self.pager.line(piece)

    def _want_keys(self, on: bool) -> None:
        self.editor.keys = on or self.key_handler is not None

    def page_off(self) -> None:
        """No paging for the rest of this command (a live view)."""
        self.pager.off()
        self._want_keys(False)

    def touch(self) -> None:
        self.session.touch(time.monotonic())
        self._arm_idle()

    @property
    def prompt(self) -> str:
        return f"guardroom({self.session.level_name})> "

    def banner(self) -> list[str]:
        info = self.host.info
        lines = [
            self._("guardroom commissioning console"),
            self._("controller {controller}   site {site}   version {version} ({build})",
              controller=info.get('controller', '?'), site=info.get('site', '?'),
              version=info.get('version', '?'),
              build=info.get('engine', info.get('build', '?'))),
        ]
        for extra in (info.get("description", ""), self.config.get("banner", "")):
            if extra:
                lines += wrap(extra)
        lines.append(self._("access level: {level}. Type 'help' for the commands, 'login' to log "
                       "in, 'lang zh' for Chinese.", level=self._(self.session.level_name)))
        return lines

    # -- input (in the loop) -------------------------------------------------------------------
    def _on_bytes(self, data: bytes) -> None:
        echo, events = self.editor.feed(data)
        if echo:
            self.link.write(echo)
        if data:
            self.touch()
        for ev in events:
            self._events.put_nowait(ev)

    def _on_up(self, up: bool) -> None:
        if up:
            self.editor.start_line()
            self.out("", *self.banner())
            self.write(self.prompt)
        elif self.session.logged_in:
            log.info("console link lost: logging out %s", self.session.user)
            if self._running is not None:
                self._quiet_cancel = True
                self._running.cancel()
            self.logout("link lost")

    async def read_line(self, prompt: str, secret: bool = False) -> Optional[str]:
        """One line typed at ``prompt`` while a command runs (None on Ctrl-C / Ctrl-D)."""
        await self.pager.drained()
        self.write(prompt)
        self.editor.start_line(secret=secret)
        fut = asyncio.get_running_loop().create_future()
        self._line_wanted = fut
        try:
            return await fut
        finally:
            self._line_wanted = None
            self.editor.stop()
            self.pager.shown = 0              # an answer starts a fresh page

    # -- the shell -----------------------------------------------------------------------------
    async def _shell_loop(self) -> None:
        self.editor.start_line()
        while True:
            ev = await self._events.get()
            if isinstance(ev, Line):
                if ev.text.strip():
                    await self._run_line(ev.text)
                elif not self.session.logged_in:
                    self.out(*self.banner())     # Enter on a fresh connection: who is this?
            elif isinstance(ev, Hangup):
                if self.session.logged_in:
                    self.logout("ctrl-d")
                    self.out(self._("Logged out."))
            # Interrupt at the prompt: the editor already dropped the line.
            self.write(self.prompt)
            self.editor.start_line()

    async def _run_line(self, text: str) -> None:
        try:
            words = parse(text)
        except UsageError as e:
            self.out(self._("error: {e}", e=e.text(self._)))
            return
        if not words:
            return
        name, args = words[0].lower(), words[1:]
        if _holds_code(name, args):
            self.editor.forget(text)          # never recallable with the up arrow
        cmd = REGISTRY.get(name)
        if cmd is None:
            if name.isdigit():
                self.out(self._("That looks like a code: type 'login' first, then the code "
                                "at the 'Code:' prompt (it is not shown there)."))
            else:
                self.out(self._("unknown command {name!r}. Type 'help' for the list.",
                                name=name))
            return
        if self.session.level < cmd.level:
            need = LEVEL_NAMES[cmd.level]
            self.out(self._("'{name}' needs the {need} level; you are at level {level}. "
                            "Use 'login' with a code of that level.", name=name,
                            need=self._(need), level=self._(self.session.level_name)))
            return
        self.editor.stop()
        self.pager.start()
        ctx = self._ctx = Context(self, name)
        self._running = asyncio.create_task(self._guarded(cmd, ctx, args), name=f"console-{name}")
        try:
            while not self._running.done():
                getter = asyncio.ensure_future(self._events.get())
                try:
                    done, _ = await asyncio.wait({self._running, getter},
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not getter.done():
                        getter.cancel()
                if getter not in done:
                    break
                ev = getter.result()
                if isinstance(ev, Key):
                    if self.key_handler is not None:
                        self.key_handler(ev.key)
                    else:
                        self.pager.key(ev.key)
                    continue
                if isinstance(ev, Interrupt) and self.pager.held:
                    self.pager.key("q")       # Ctrl-C at --More--: the rest of the output
                if isinstance(ev, Line):
                    if self._line_wanted is not None and not self._line_wanted.done():
                        self._line_wanted.set_result(ev.text)
                elif isinstance(ev, (Interrupt, Hangup)):
                    if self._line_wanted is not None and not self._line_wanted.done():
                        self._line_wanted.set_result(None)
                        if isinstance(ev, Hangup):
                            self._events.put_nowait(ev)
                    elif isinstance(ev, Interrupt) and ctx.interrupt():
                        pass                  # a live view ends itself
                    else:
                        self._running.cancel()
                        if isinstance(ev, Hangup):
                            self._events.put_nowait(ev)
                        break
            if self._running.cancelled() or self._running.cancelling():
                # A command that swallows its cancellation (a library doing so) must not
                # hold the console: give it a moment, then leave it behind, muted.
                done, _ = await asyncio.wait({self._running}, timeout=CANCEL_GRACE_S)
                if not done:
                    ctx.detached = True
                    log.warning("console command %r did not stop at Ctrl-C; left to finish "
                                "muted", name)
            if self._running.done():
                try:
                    self._running.result()
                except asyncio.CancelledError:
                    pass
            if ctx.detached or self._running.cancelled():
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError()
                if not self._quiet_cancel:
                    self.out(self._("^C (cancelled)"))
            self._quiet_cancel = False
            while self.pager.held:            # the command ended; its output is paged
                ev = await self._events.get()
                if isinstance(ev, Key):
                    self.pager.key(ev.key)
                elif isinstance(ev, (Interrupt, Hangup)):
                    self.pager.key("q")
                    if isinstance(ev, Hangup):
                        self._events.put_nowait(ev)
        finally:
            self._running = None
            self._ctx = None
            self.key_handler = None
            self.pager.stop()
            self.editor.keys = False
            self.touch()                      # the end of a command (a login too) is activity

    async def _guarded(self, cmd, ctx: Context, args: list[str]) -> None:
        try:
            await cmd.run(ctx, args)
        except UsageError as e:
            if str(e):
                self.out(self._("error: {e}", e=e.text(self._)))
            self.out(*usage(cmd.usage, self._))
        except CommandError as e:
            self.out(self._("error: {e}", e=e.text(self._)))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a command bug must never kill the console
            log.exception("console command %r failed", cmd.name)
            self.out(self._("error: {name} failed: {kind}: {e}", name=cmd.name,
                            kind=type(e).__name__, e=e))

    # -- login / logout ------------------------------------------------------------------------
    def logout(self, why: str) -> None:
        was = self.session.logout()
        if was is None:
            return
        log.info("console logout of %s (%s)", was.user, why)
        end = getattr(self.host, "end_manual_outputs", None)
        if end is not None:   # outputs switched by hand return to the engine's order
            for name in end("console", f"console {why}"):
                self.out(self._("{name}: back to the alarm logic's order.", name=name))
        self.editor.history.clear()           # the next person must not recall our commands
        if was.level >= LEVEL_INSTALLER and running_areas(self.host):
            # The walk test is the installer's: it ends with the session, reported.
            task = asyncio.get_running_loop().create_task(
                end_walktests(self, was.user, Msg("installer {user} logged out ({why})",
                                                  user=was.user, why=why)))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)
            self.out(self._("The walk test ends with the installer's session."))
        if was.level >= LEVEL_INSTALLER:
            self.report("program_mode", 628, 1, f"installer {was.user} left program mode "
                                                 f"at the console ({why})", user=was.user)
        ed = self.state.pop("config", None)
        if ed is not None and ed.staged:
            self.out(self._("{n} staged config edit(s) dropped (not saved).",
                            n=len(ed.edits)))

    def report(self, kind: str, cid: int, q: int, text: str, user: str = "",
                area: str = "") -> None:
        try:
            self.host.report(kind, cid, q, text, user=user, area=area)
        except Exception:  # noqa: BLE001 - reporting must not break the session
            log.exception("console could not report %s", cid)

    # -- idle logout ---------------------------------------------------------------------------
    # A loop timer re-armed at each key press, not a task: nothing to cancel at shutdown, and
    # no wait_for() that could swallow a cancellation.
    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        left = self.session.idle_left(time.monotonic())
        if left is not None and not self._stopping:
            self._idle = asyncio.get_running_loop().call_later(left + 0.05, self._idle_fire)

    def _idle_fire(self) -> None:
        self._idle = None
        left = self.session.idle_left(time.monotonic())
        if left is None:
            return
        if left > 0:
            self._arm_idle()
            return
        if self._running is not None:
            self._quiet_cancel = True
            self._running.cancel()
        who = self.session.user
        self.pager.stop()
        self.editor.keys = False
        self.logout("idle")
        self.editor.stop()
        self.out("", self._("Logged out {who} after {s} s idle.", who=who,
                            s=int(self.session.idle_logout_s)))
        if self._running is None:
            self.write(self.prompt)
            self.editor.start_line()

    def _complete(self, word: str):
        return [n for n, c in REGISTRY.items() if c.level <= self.session.level]
