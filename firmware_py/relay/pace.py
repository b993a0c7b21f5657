"""A token bucket for the relay's non-alarm lane (``[mqtt] nonalarm_rate``).

The broker keeps one FIFO queue per subscriber session: whatever the controller sends faster
than the platform reads waits there, and an alarm sent later waits behind it, already out of
the controller's hands. Sending troubles, restores and tests no faster than the platform reads
keeps that queue short, so an alarm (never paced: lane 0 of the outbox) reaches the platform
right behind the few events in flight. Time is passed in (monotonic seconds).
"""
from __future__ import annotations

TICK_S = 0.01      # the shortest wait before sending more: lane-1 events leave in small batches


class Pace:
    """``rate`` events per second on average, at most ``burst`` at once; ``rate`` 0 = unpaced
    (``allowance`` returns None)."""

    def __init__(self, rate: float, now: float, burst: float = 0.0):
        self.rate = max(0.0, float(rate))
        self.burst = max(1.0, float(burst) or self.rate * 2 * TICK_S)
        self._tokens = self.burst
        self._t = now

    def allowance(self, now: float):
        """How many events may be sent now (an int), or None when unpaced."""
        if not self.rate:
            return None
        if now > self._t:
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
        self._t = max(self._t, now)
        return int(self._tokens)

    def spend(self, n: int) -> None:
        if self.rate and n:
            self._tokens -= n

    def wait_s(self) -> float:
        """How long until one more event may go (at least TICK_S)."""
        if not self.rate:
            return 0.0
        return max(TICK_S, (1.0 - self._tokens) / self.rate)
