"""The chatter guard: an input that changes far faster than any real contact is a fault (a
broken switch, a loose wire, interference), not a load the alarm path must carry.

``ChatterGuard`` is the counting rule, shared by every driver and pure (time is passed in):
more than ``limit`` changes within ``window_ns`` trips it. It keeps the times of the last
``limit`` changes in a small ring, so one change costs a few integer operations, whatever the
rate. What a driver does once it trips is the driver's business: the GPIO driver stops
listening to the pin's edges and samples the level instead; the polled drivers (Modbus, OSDP)
hold back the changes and let the latest level through at a fixed low rate. Either way the
driver reports ``chatter_event(...)`` through its sample buffer's event path and the daemon
raises a sensor trouble for the zones on that point (Contact ID 380, see
docs/operator/chatter.md), and restores it once the point has been quiet for ``quiet_ns``.

Counts (``changes``, ``held_back``, ``episodes``) are the point's own and are shown in the
zone's status: nothing is dropped silently.
"""
from __future__ import annotations

import math

#: Contact ID of the chatter trouble: 380 "sensor trouble" (see docs/operator/chatter.md)
CHATTER_CID = 380

_NEVER = -(1 << 62)


class ChatterGuard:
    """Counting for one point. ``rate`` changes per second sustained over ``window_ms``
    (``rate`` 0 = guard off), or directly more than ``limit`` changes within the window. Not thread-safe by itself: one thread calls ``change`` (the
    edge thread or the loop); the others only read the counters."""

    __slots__ = ("limit", "window_ns", "quiet_ns", "_ring", "_i", "changes", "held_back",
                 "episodes", "active", "since_ns", "last_change_ns")

    def __init__(self, rate: float, window_ms: float, quiet_s: float, limit: int | None = None):
        if limit is not None:       # a count of changes within the window, given directly
            self.limit = max(2, int(limit)) if limit > 0 else 0
        else:
            self.limit = max(2, math.ceil(rate * window_ms / 1000)) if rate > 0 else 0
        self.window_ns = int(window_ms * 1_000_000)
        self.quiet_ns = int(quiet_s * 1e9)
        self._ring = [_NEVER] * self.limit
        self._i = 0
        self.changes = 0        # every change seen (edges, or polled changes)
        self.held_back = 0      # changes not passed on one by one while chattering
        self.episodes = 0       # how many times the guard tripped from quiet
        self.active = False     # a chatter trouble is up
        self.since_ns = 0       # when the current episode (or the last one) started
        self.last_change_ns = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def change(self, t_ns: int) -> bool:
        """Count one change at ``t_ns``; True when it is one too many for the window."""
        self.changes += 1
        self.last_change_ns = t_ns
        n = self.limit
        if not n:
            return False
        ring, i = self._ring, self._i
        old = ring[i]
        ring[i] = t_ns
        self._i = i + 1 if i + 1 < n else 0
        return t_ns - old <= self.window_ns

    def reset_window(self) -> None:
        """Forget the recent changes (the count starts afresh, e.g. when listening again)."""
        self._ring = [_NEVER] * self.limit
        self._i = 0

    def trip(self, t_ns: int) -> bool:
        """Mark the point as chattering; True if this starts a new episode (raise trouble)."""
        if self.active:
            return False
        self.active = True
        self.episodes += 1
        self.since_ns = t_ns
        return True

    def quiet_since(self, t_ns: int) -> bool:
        """True when no change was seen for ``quiet_ns`` before ``t_ns``."""
        return t_ns - self.last_change_ns >= self.quiet_ns

    def restore(self) -> bool:
        """End the episode; True if one was active (report the restore)."""
        if not self.active:
            return False
        self.active = False
        self.reset_window()
        return True

    def stats(self) -> dict:
        return {"chatter": self.active, "changes": self.changes, "held_back": self.held_back,
                "episodes": self.episodes}


def chatter_event(driver: str, point: str, active: bool, t_ns: int, guard: ChatterGuard,
                  text: str) -> dict:
    """The notice a driver puts on ``sink.put_event`` when a point starts or stops
    chattering; the daemon turns it into a CID 380 trouble (or restore) for its zones."""
    return {"type": "chatter", "driver": driver, "point": point, "active": bool(active),
            "t_ns": t_ns, "text": text, **guard.stats()}


class PolledChatter:
    """The guard for a point whose values arrive by polling or status reports (Modbus,
    OSDP): changes beyond the limit are held back; while chattering, the latest value is
    let through at most once per ``sample_ns``; after ``quiet_ns`` without a change the
    trouble restores and every change passes again. All calls come from the event loop.

    ``offer(t_ns, value)`` -> value to report now or None; ``tick(t_ns)`` -> value to report
    (a sample while chattering) or None. ``tripped``/``restored`` are set when an episode
    starts or ends, for the driver to report and clear."""

    __slots__ = ("guard", "sample_ns", "last_sent", "latest", "next_sample_ns", "tripped",
                 "restored", "samples")

    def __init__(self, limit: int, window_ms: float, quiet_s: float, sample_ms: int):
        self.guard = ChatterGuard(0, window_ms, quiet_s, limit=limit)
        self.samples = 0
        self.sample_ns = int(sample_ms * 1_000_000)
        self.last_sent: int | None = None
        self.latest: int | None = None
        self.next_sample_ns = 0
        self.tripped = False
        self.restored = False

    def offer(self, t_ns: int, value: int) -> int | None:
        """A changed value was polled. Returns it if it is to be reported now."""
        g = self.guard
        self.latest = value
        if g.change(t_ns) and g.trip(t_ns):
            self.tripped = True
            self.next_sample_ns = t_ns + self.sample_ns
        if g.active:
            g.held_back += 1
            return None
        self.last_sent = value
        return value

    def reset(self, value: int | None) -> None:
        """The point's value was set from outside (OFFLINE, a first read): not a change."""
        self.latest = self.last_sent = value

    def tick(self, t_ns: int) -> int | None:
        """Called on every poll (cheap). While chattering: the level, once per sample
        period, if it differs from what was last reported; restores after the quiet time."""
        g = self.guard
        if not g.active:
            return None
        if g.quiet_since(t_ns):
            g.restore()
            self.restored = True
        elif t_ns >= self.next_sample_ns:
            self.next_sample_ns = t_ns + self.sample_ns
        else:
            return None
        if self.latest is not None and self.latest != self.last_sent:
            self.last_sent = self.latest
            self.samples += 1
            return self.latest
        return None

    def stats(self) -> dict:
        return {**self.guard.stats(), "samples": self.samples}
