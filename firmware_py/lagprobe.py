"""How late the daemon's loop runs a timer while it works through a burst of samples.

A probe is a chain of ``call_later(PERIOD_S)`` callbacks: each one notes how much later than
asked it ran (whatever else the loop did meanwhile: feeding slices to the engine, storing
and logging their decisions, PUBACKs). It runs only while the daemon is busy (``busy()``
true), so an idle controller pays nothing for it; when the work is done it reports the
episode's worst lag once (``on_done(lag_ms, turn_ms, busy_s)``) and keeps the all-time worst
in ``max_ms``. The owner also hands it the CPU time of each of its own turns (``turn``): on a
shared CPU the lag includes the time the process waited for a core, the turn's CPU time is
what the loop itself blocked for.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional

PERIOD_S = 0.01        # one look every 10 ms while busy
QUIET_LOOKS = 10       # busy() false this many looks in a row (100 ms): the episode is over


class LagProbe:
    def __init__(self, loop: asyncio.AbstractEventLoop, busy: Callable[[], bool],
                 on_done: Optional[Callable[[float, float], None]] = None):
        self.loop = loop
        self.busy = busy
        self.on_done = on_done
        self.max_ms = 0.0            # worst lag seen in any episode
        self.turn_max_ms = 0.0       # longest turn (CPU ms) in any episode
        self.episodes = 0
        self._handle: Optional[asyncio.TimerHandle] = None
        self._ep_max = 0.0
        self._ep_turn = 0.0
        self._ep_start = 0.0
        self._quiet = 0
        self._due = 0.0

    @property
    def running(self) -> bool:
        return self._handle is not None

    def kick(self) -> None:
        """The daemon got busy: start an episode unless one runs."""
        if self._handle is not None:
            return
        self.episodes += 1
        self._ep_max, self._ep_turn, self._quiet = 0.0, 0.0, 0
        self._ep_start = time.monotonic()
        self._arm()

    def turn(self, cpu_s: float) -> None:
        """One turn of the owner's work took ``cpu_s`` seconds of its thread's CPU."""
        ms = cpu_s * 1000.0
        if self._handle is not None and ms > self._ep_turn:
            self._ep_turn = ms
            self.turn_max_ms = max(self.turn_max_ms, ms)

    def _arm(self) -> None:
        self._due = time.monotonic() + PERIOD_S
        self._handle = self.loop.call_later(PERIOD_S, self._look)

    def _look(self) -> None:
        now = time.monotonic()
        lag = max(0.0, (now - self._due) * 1000.0)
        if lag > self._ep_max:
            self._ep_max = lag
            self.max_ms = max(self.max_ms, lag)
        self._quiet = 0 if self.busy() else self._quiet + 1
        if self._quiet < QUIET_LOOKS:
            self._arm()
            return
        self._handle = None
        if self.on_done is not None:
            self.on_done(self._ep_max, self._ep_turn, now - self._ep_start)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
