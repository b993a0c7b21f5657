"""The one owner of every output (sirens, strobes, relays, door strikes, reader LEDs).

The engine says what each output should be (``order``); a person at the console may switch
one by hand for a while (``manual``). This object holds both, decides what the hardware must
show (a manual override wins while it lasts, the engine's wish otherwise) and re-applies it:

- at start, once the drivers run (orders from the engine's restored state arrive before that
  and are only recorded: nothing is lost, nothing is sent to a driver that is not started);
- after a driver reports a device back online (``reapply(kind)``);
- when a manual override ends: console logout, idle logout, link loss (``end_manual``), its
  time limit (``MANUAL_MAX_S``), or a new order of the engine for that output.

Writes go through one ordered queue per driver (a slow Modbus line never delays a GPIO
siren). ``told`` is what the hardware last confirmed, and that is what the retained state
reports, never only what was wanted.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional

log = logging.getLogger(__name__)

MANUAL_MAX_S = 600.0   # a hand-switched output returns to the engine's wish after this


class OutputOwner:
    def __init__(self, outputs_map: dict, drivers: dict, *,
                 on_change: Callable[[], None] = lambda: None,
                 on_error: Callable[[str, Exception], None] = lambda n, e: None):
        self.outputs_map = outputs_map            # name -> (driver, kind)
        self.drivers = drivers                    # driver kind -> driver
        self.on_change, self.on_error = on_change, on_error
        self.wanted: dict[str, bool] = {}         # the engine's wish
        self.manual: dict[str, tuple[bool, str, asyncio.TimerHandle | None]] = {}
        self.told: dict[str, bool] = {}           # what the hardware confirmed last
        self._queues: dict[str, asyncio.Queue] = {}
        self._tasks: list[asyncio.Task] = []
        self.started = False
        self.errors = 0

    # ------------------------------------------------------------------ engine side
    def order(self, name: str, on: bool) -> None:
        """The engine's order. A new order ends a manual override of that output (a real
        alarm is never held silent by a wiring check); a repeated one leaves it."""
        changed = self.wanted.get(name) != bool(on)
        self.wanted[name] = bool(on)
        if name in self.manual:
            if not changed:
                return
            m = self.manual.pop(name)
            if m[2] is not None:
                m[2].cancel()
            log.info("output %s: the engine's new order ends the manual override", name)
        self._send(name, bool(on))

    def effective(self, name: str) -> bool:
        m = self.manual.get(name)
        return m[0] if m is not None else self.wanted.get(name, False)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Create the per-driver queues and drive every output to what it should be (call
        once the drivers are started)."""
        for kind in self.drivers:
            q: asyncio.Queue = asyncio.Queue()
            self._queues[kind] = q
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._worker(kind, q), name=f"outputs-{kind}"))
        self.started = True
        for name in self.outputs_map:
            self._send(name, self.effective(name))

    async def stop(self) -> None:
        for _, _, h in self.manual.values():
            if h is not None:
                h.cancel()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def reapply(self, kind: Optional[str] = None) -> int:
        """Send every output of driver ``kind`` (all when None) again; returns how many."""
        n = 0
        for name, (drv, _) in self.outputs_map.items():
            if kind is None or self._kind_of(drv) == kind:
                self._send(name, self.effective(name))
                n += 1
        return n

    # ------------------------------------------------------------------ manual overrides
    async def manual_set(self, name: str, on: bool, who: str = "console",
                         max_s: float = MANUAL_MAX_S) -> None:
        """Switch an output by hand (wiring checks). Held until ``end_manual(who)`` or
        ``max_s``; the driver's answer is awaited so the caller sees a failure."""
        drv, _ = self.outputs_map[name]
        old = self.manual.pop(name, None)
        if old is not None and old[2] is not None:
            old[2].cancel()
        handle = asyncio.get_running_loop().call_later(max_s, self._expire, name, who)
        self.manual[name] = (bool(on), who, handle)
        await drv.set_output(name, bool(on))
        self.told[name] = bool(on)
        self.on_change()

    def end_manual(self, who: Optional[str] = None, why: str = "") -> list[str]:
        """End the overrides of ``who`` (all when None): those outputs go back to the
        engine's wish at once. Returns their names."""
        ended = [n for n, (_, w, _) in self.manual.items() if who is None or w == who]
        for name in ended:
            _, _, h = self.manual.pop(name)
            if h is not None:
                h.cancel()
            log.info("output %s back to the engine's order (%s)", name,
                     why or "manual override ended")
            self._send(name, self.wanted.get(name, False))
        return ended

    def _expire(self, name: str, who: str) -> None:
        m = self.manual.get(name)
        if m is not None and m[1] == who:
            self.manual[name] = (m[0], m[1], None)
            self.end_manual_one(name, f"manual override by {who} timed out")

    def end_manual_one(self, name: str, why: str) -> None:
        m = self.manual.pop(name, None)
        if m is None:
            return
        if m[2] is not None:
            m[2].cancel()
        log.info("output %s back to the engine's order (%s)", name, why)
        self._send(name, self.wanted.get(name, False))

    # ------------------------------------------------------------------ the writes
    def _kind_of(self, drv) -> str:
        for k, d in self.drivers.items():
            if d is drv:
                return k
        return ""

    def _send(self, name: str, on: bool) -> None:
        if not self.started:
            return                     # start() applies it
        target = self.outputs_map.get(name)
        if target is None:
            return
        q = self._queues.get(self._kind_of(target[0]))
        if q is not None:
            q.put_nowait((name, on))

    async def _worker(self, kind: str, q: asyncio.Queue) -> None:
        drv = self.drivers[kind]
        while True:
            name, on = await q.get()
            if self.effective(name) != on:
                continue               # overtaken by a newer wish already queued
            try:
                await drv.set_output(name, on)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001
                self.errors += 1
                log.error("output %s failed: %s", name, e)
                self.on_error(name, e)
                continue
            if self.told.get(name) != on:
                self.told[name] = on
                self.on_change()

    def state(self) -> dict[str, bool]:
        """What each output's hardware was last told (and confirmed)."""
        return {n: bool(self.told.get(n, False)) for n in self.outputs_map}
