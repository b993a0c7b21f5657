"""Door supervision of one reader: forced open and held open, from the door contact, the
request-to-exit input and grants.

- A grant (REX pressed, ``grant()`` from the daemon after a good card) opens a window of
  ``grant_ms``. The first opening inside the window is authorised and uses the grant up.
- The contact opening outside a window is *forced*: ``forced`` goes ACTIVE until it closes.
- An authorised opening that stays open longer than ``held_s`` is *held*: ``held`` goes
  ACTIVE until it closes.

Runs in the event loop: ``schedule(delay_s, fn)`` is ``loop.call_later``; ``emit(t_ns,
which, value)`` reports ``"forced"``/``"held"`` changes. Times come in with every call."""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..base import ACTIVE, NORMAL


class Door:
    def __init__(self, held_s: float, grant_ms: int,
                 schedule: Callable[[float, Callable[[], None]], object],
                 emit: Callable[[int, str, int], None]):
        self.held_s = held_s
        self.grant_ms = grant_ms
        self._schedule = schedule
        self._emit = emit
        self.open: Optional[bool] = None  # None until the first report
        self.grant_until = 0
        self.forced = False
        self.held = False
        self._held_timer = None
        self.forced_count = 0
        self.held_count = 0

    def grant(self, t_ns: int, ms: Optional[int] = None) -> None:
        ms = self.grant_ms if ms is None else ms
        self.grant_until = max(self.grant_until, t_ns + ms * 1_000_000)

    def contact(self, t_ns: int, is_open: bool) -> None:
        """The door contact reported ``is_open`` (every report; repeats are ignored)."""
        was, self.open = self.open, is_open
        if was is is_open or (was is None and not is_open):
            return
        if is_open:
            if t_ns <= self.grant_until:
                self.grant_until = 0  # one grant, one opening
                self._cancel_held()
                self._held_timer = self._schedule(self.held_s, self._held_expired)
            else:
                self.forced = True
                self.forced_count += 1
                self._emit(t_ns, "forced", ACTIVE)
        else:
            self._cancel_held()
            if self.forced:
                self.forced = False
                self._emit(t_ns, "forced", NORMAL)
            if self.held:
                self.held = False
                self._emit(t_ns, "held", NORMAL)

    def _held_expired(self) -> None:
        self._held_timer = None
        if self.open and not self.held:
            self.held = True
            self.held_count += 1
            self._emit(time.monotonic_ns(), "held", ACTIVE)

    def _cancel_held(self) -> None:
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None

    def values(self) -> dict[str, int]:
        return {"forced": ACTIVE if self.forced else NORMAL,
                "held": ACTIVE if self.held else NORMAL}

    def close(self) -> None:
        self._cancel_held()
