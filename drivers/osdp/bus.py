"""One RS-485 bus: libosdp's control panel for the readers on one serial port, driven by one
thread at the I/O edge.

The thread is the only user of the libosdp context. libosdp's ``refresh()`` advances its state
machine one step per call: queue a POLL, send it, read the reply, note the time. A fixed 50 ms
tick took four wake-ups per POLL (one POLL every 200 ms). While every reader is online the
thread now refreshes twice per wake-up and sleeps until the next step is due: the reply
``REPLY_S`` after a frame went out (when the tick read it too; a tick later while it is still
coming in), the next POLL ``POLL_S`` after the last one. That is two wake-ups per POLL at the
same POLL rate and the same reply timing. While a reader is offline, coming up or being
retried, the thread keeps the plain 50 ms tick (``REFRESH_S``, the period libosdp asks for). A
command queued by the loop wakes it at once (a pipe).

Why not wake on the port becoming readable: the reply would be read as its first bytes arrive,
and libosdp (3.2) loses frames whose header comes in several reads (an emulated line handing
over two bytes at a time never brought the reader online); reading 50 ms after the frame went
out, as before, sees whole replies.

It also submits the loop's commands, watches the online and secure-channel bits, and retries
readers that stopped answering (libosdp on its own waits up to 300 s before it tries a silent
or NAKing reader again; a guard room wants to know within seconds that a reader is back).
Everything it learns goes to the event loop through ``post`` (``loop.call_soon_threadsafe``),
stamped with ``time.monotonic_ns()``."""
from __future__ import annotations

import collections
import os
import select
import threading
import time
from concurrent.futures import Future
from typing import Callable

import osdp_sys
from osdp import LibFlag, PDInfo

from ..threadname import name_thread
from .channel import SerialChannel

REFRESH_S = 0.050
POLL_S = 0.200   # POLL period of an idle online reader: the rate the 50 ms tick gave
REPLY_S = 0.050  # from a frame sent to reading its reply, as the 50 ms tick did
LOG_LEVEL = osdp_sys.LOG_ERROR  # never debug: debug output may show key material


def reader_flags(cfg: dict) -> list[int]:
    """libosdp flags for a reader config. Without EnforceSecure a wrong key silently falls
    back to clear text, so every keyed reader enforces it. Install mode cannot enforce
    (libosdp would not fall back to the default key), and says so in status."""
    if cfg["insecure"]:
        return []
    if cfg["install_mode"]:
        return [LibFlag.InstallMode]
    return [LibFlag.EnforceSecure]


class Bus:
    """``readers`` are reader configs in libosdp PD order. ``post(fn, *args)`` runs ``fn`` in
    the event loop. Calls back (in the loop): ``on_event(idx, t_ns, event)``,
    ``on_link(idx, t_ns, online, sc_active)``, ``on_completion(idx, command, ok)``."""

    def __init__(self, name: str, channel: SerialChannel, readers: list[dict],
                 reconnect_s: float, post: Callable, on_event: Callable,
                 on_link: Callable, on_completion: Callable):
        self.name = name
        self.channel = channel
        self.readers = readers
        self.reconnect_s = reconnect_s
        self._post = post
        self._on_event = on_event
        self._on_link = on_link
        self._on_completion = on_completion
        self._cmds: collections.deque = collections.deque()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._ctx = None
        n = len(readers)
        self._online = [False] * n
        self._sc = [False] * n
        self._since = [time.monotonic()] * n  # last link change or reconnect attempt
        self.reconnects = [0] * n
        self._attempts = [0] * n  # retries since the reader was last online
        self.refresh_errors = 0
        self.last_refresh_error = ""
        self.wakeups = 0          # times the thread woke (two refreshes each)
        self._all_online = False
        self._masks = (-1, -1)    # the status bits _watch_links last walked the readers for
        self.stopped = False

    # -- loop side ------------------------------------------------------------------------
    def start(self) -> None:
        osdp_sys.set_loglevel(LOG_LEVEL)
        infos = []
        for r in self.readers:
            key = bytes.fromhex(r["scbk"]) if r["scbk"] else None
            infos.append(PDInfo(r["address"], self.channel, scbk=key, name=r["name"],
                                flags=reader_flags(r)).get())
        self._ctx = osdp_sys.ControlPanel(infos)
        del infos  # the dicts hold the key; libosdp keeps its own copy
        self._ctx.set_event_callback(self._event_cb)
        if hasattr(self._ctx, "set_command_completion_callback"):
            self._ctx.set_command_completion_callback(self._completion_cb)
        self._thread = threading.Thread(target=self._run, name=f"osdp-{self.name}",
                                        daemon=True)
        self._thread.start()

    def submit(self, idx: int, command: dict) -> Future:
        """Queue a command for reader ``idx``; the future says whether libosdp took it."""
        fut: Future = Future()
        if self.stopped:
            fut.set_result(False)
            return fut
        self._cmds.append((idx, command, fut))
        self._wake()
        return fut

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # the pipe is full (the thread wakes anyway) or closed
            pass

    def stop(self, timeout: float = 5.0) -> None:
        """Blocking: end the thread (call it in a worker thread from the loop)."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self.stopped = True
        if self._thread is None or not self._thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._wake_r = self._wake_w = -1
        while self._cmds:
            _, _, fut = self._cmds.popleft()
            if not fut.done():
                fut.set_result(False)

    # -- the I/O thread -------------------------------------------------------------------
    def _event_cb(self, idx: int, event: dict) -> int:
        self._post(self._on_event, idx, time.monotonic_ns(), event)
        return 0

    def _completion_cb(self, idx: int, command: dict, status: int) -> None:
        cmd = command.get("command") if isinstance(command, dict) else command
        self._post(self._on_completion, idx, cmd, status == 0)

    def _run(self) -> None:
        name_thread(f"osdp-{self.name}")
        ctx = self._ctx
        ch = self.channel
        wake = self._wake_r
        poller = select.poll()          # registered once: no fd lists built per sleep
        poller.register(wake, select.POLLIN)
        wait = poller.poll
        monotonic = time.monotonic
        stopped = self._stop.is_set
        refresh = self._refresh
        next_poll = 0.0
        while not stopped():
            self.wakeups += 1
            if self._cmds:
                self._submit_queued(ctx)
            tx = ch.writes
            refresh(ctx)
            reads = ch.read_calls
            refresh(ctx)
            # libosdp reads the port only while it waits for (the rest of) a reply
            pending = ch.read_calls != reads
            wrote = ch.writes != tx
            now = monotonic()
            if wrote:
                next_poll = now + POLL_S
            self._watch_links(ctx, now)
            if not self._all_online:
                timeout = REFRESH_S
            elif wrote or pending:
                # the reply is read REPLY_S after the frame went out (when the 50 ms tick
                # read it too), or a tick later if it is still coming in; libosdp's own reply
                # timeout runs on these refreshes
                timeout = REPLY_S if wrote else REFRESH_S
            else:
                timeout = next_poll - now
                if timeout <= 0:      # due, yet libosdp sent nothing: tick until it does
                    timeout = REFRESH_S
            if wait(timeout * 1000.0):     # ms, rounded up
                try:
                    os.read(wake, 512)
                except BlockingIOError:
                    pass

    def _submit_queued(self, ctx) -> None:
        while self._cmds:
            idx, command, fut = self._cmds.popleft()
            try:
                ok = bool(ctx.submit_command(idx, command))
            except Exception as e:  # noqa: BLE001 - a bad dict must not kill the bus
                ok = False
                self.last_refresh_error = f"submit: {type(e).__name__}: {e}"
            if not fut.done():
                fut.set_result(ok)

    def _refresh(self, ctx) -> None:
        try:
            ctx.refresh()
        except Exception as e:  # noqa: BLE001 - keep polling whatever a callback did
            self.refresh_errors += 1
            self.last_refresh_error = f"{type(e).__name__}: {e}"

    def _watch_links(self, ctx, now: float) -> None:
        try:
            online_mask, sc_mask = ctx.status(), ctx.sc_status()
        except Exception as e:  # noqa: BLE001
            self.refresh_errors += 1
            self.last_refresh_error = f"status: {type(e).__name__}: {e}"
            self._all_online = False
            return
        self._all_online = all_online = online_mask == (1 << len(self.readers)) - 1
        if all_online and online_mask == self._masks[0] and sc_mask == self._masks[1]:
            return      # every reader online as before: nothing to report, none to retry
        self._masks = (online_mask, sc_mask)
        for idx in range(len(self.readers)):
            online = bool(online_mask & (1 << idx))
            sc = bool(sc_mask & (1 << idx))
            if online != self._online[idx] or sc != self._sc[idx]:
                self._online[idx], self._sc[idx] = online, sc
                self._since[idx] = now
                if online:
                    self._attempts[idx] = 0
                self._post(self._on_link, idx, time.monotonic_ns(), online, sc)
            if not ctx.is_pd_enabled(idx):
                # our disable (below) has been carried out: enable starts a fresh handshake
                ctx.enable_pd(idx)
                self._since[idx] = now
            elif not online and now - self._since[idx] >= self._retry_s(idx):
                # libosdp's hot-plug: a disable is carried out once the CP state machine is
                # idle (the reader offline), then the enable above retries at once. A
                # request already pending returns False.
                self._since[idx] = now
                if ctx.disable_pd(idx):
                    self.reconnects[idx] += 1
                    self._attempts[idx] += 1

    def _retry_s(self, idx: int) -> float:
        """0.5 s, 1 s, 2 s ... up to reconnect_s: a reader knocked off by line noise is back
        within a second, a dead one is not hammered."""
        return min(self.reconnect_s, 0.5 * (2 ** self._attempts[idx]))
