"""The contract every driver follows, and the thread-safe sample buffer between drivers and the
daemon's event loop.

Values a driver reports for a point (``value`` in a sample):

    0 NORMAL   contact at rest / loop normal
    1 ACTIVE   contact active / loop in alarm
    2 TAMPER   supervised loop open (cut wire, cover removed)
    3 FAULT    supervised loop short
    4 OFFLINE  the device that carries the point stopped answering

Points are small integers: a driver registers each input point name it reports in the shared
``PointTable`` when it is built (``points.register(name)`` returns the id) and stamps every sample
with ``time.monotonic_ns()`` at the edge (in the callback / when the poll answer arrived).
Zones in the config then refer to points by name.
"""
from __future__ import annotations

import abc
import threading
import time
from array import array
from typing import Callable, Optional

NORMAL, ACTIVE, TAMPER, FAULT, OFFLINE = 0, 1, 2, 3, 4
VALUE_NAMES = ("normal", "active", "tamper", "fault", "offline")


class SampleBuffer:
    """Thread-safe hand-over of samples from driver threads (or the loop itself) to the loop.

    ``put`` appends ``(t_ns, point, value)`` to a flat int64 array and calls ``wake`` only when
    the buffer was empty, so a flood of edges costs a few wake-ups, not one per edge. The loop
    calls ``drain`` to take everything as one flat ``array('q')`` ``[t0, p0, v0, t1, p1, v1,
    ...]`` that goes straight into ``Engine.feed_many``. ``wake`` must itself be thread-safe
    (the daemon passes ``lambda: loop.call_soon_threadsafe(event.set)``).

    The time contract: a sample stamped more than ``window_ns`` away from ``clock()`` (the
    daemon's ``time.monotonic_ns``) when it is put, a wall-clock stamp for instance, is refused:
    counted in ``refused`` and reported once per point as a driver notice (the engine checks
    again). The notice carries ``cid`` 626 (time/date inaccurate): the daemon reports it as a
    trouble. On overflow (``limit`` int64 slots) the buffer is
    compacted to the latest sample of each (point, value), in their order: every point keeps
    its latest level and its last edge of each kind, so a panic press is never replaced by
    another point's flood; ``dropped`` counts the samples compacted away.

    Credentials (card reads, keypad PINs) and driver notices travel on a separate, rarer path:
    ``put_event(dict)``; ``drain_events()`` returns them in order.
    """

    __slots__ = ("_lock", "_buf", "_events", "_wake", "dropped", "limit", "refused",
                 "window_ns", "_clock", "_late_points")

    def __init__(self, wake: Optional[Callable[[], None]] = None, limit: int = 3_000_000,
                 window_ns: int = 600 * 1_000_000_000,
                 clock: Callable[[], int] = time.monotonic_ns):
        self._lock = threading.Lock()
        self._buf = array("q")
        self._events: list[dict] = []
        self._wake = wake
        self.limit = max(int(limit), 3)  # int64 slots (limit/3 samples) before compaction
        self.dropped = 0
        self.refused = 0
        self.window_ns = window_ns
        self._clock = clock
        self._late_points: set[int] = set()

    def set_wake(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def put(self, t_ns: int, point: int, value: int) -> None:
        now = self._clock()
        if not -self.window_ns <= t_ns - now <= self.window_ns:
            self._refuse(t_ns, point, now)
            return
        with self._lock:
            was_empty = not self._buf and not self._events
            if len(self._buf) + 3 > self.limit:
                self._compact()
            self._buf.extend((t_ns, point, value))
        if was_empty and self._wake is not None:
            self._wake()

    def _refuse(self, t_ns: int, point: int, now: int) -> None:
        with self._lock:
            self.refused += 1
            first = point not in self._late_points
            self._late_points.add(point)
        if first:
            self.put_event({"type": "notice", "t_ns": now, "driver": "buffer", "cid": 626,
                            "device": f"point {point}",
                            "text": f"sample stamped {t_ns} ns refused: more than "
                                    f"{self.window_ns // 1_000_000_000} s from the clock "
                                    f"({now} ns); later ones are only counted"})

    def _compact(self) -> None:
        """A runaway flood (lock held): keep the latest sample of each (point, value) in
        their order; if that is still too many, the latest sample of each point; then the
        newest samples."""
        buf = self._buf
        n = len(buf) // 3
        last: dict = {}
        for i in range(n):
            last[(buf[3 * i + 1], buf[3 * i + 2])] = i
        keep = sorted(last.values())
        if 3 * len(keep) + 3 > self.limit:
            per_point = {}
            for i in keep:
                per_point[buf[3 * i + 1]] = i
            keep = sorted(per_point.values())
        keep = keep[max(0, len(keep) - (self.limit // 3 - 1)):]
        out = array("q")
        for i in keep:
            out.extend(buf[3 * i:3 * i + 3])
        self.dropped += n - len(keep)
        self._buf = out

    def put_event(self, event: dict) -> None:
        with self._lock:
            was_empty = not self._buf and not self._events
            self._events.append(event)
        if was_empty and self._wake is not None:
            self._wake()

    def drain(self) -> array:
        with self._lock:
            buf, self._buf = self._buf, array("q")
        return buf

    def drain_events(self) -> list[dict]:
        with self._lock:
            ev, self._events = self._events, []
        return ev

    def __len__(self) -> int:
        with self._lock:
            return len(self._buf) // 3

    def waiting(self) -> bool:
        """Anything (sample or event) put and not drained yet. ``put`` wakes the loop only
        when the buffer was empty, so a loop that took a wake-up without draining (while it
        works through an older burst) must look here before it sleeps."""
        with self._lock:
            return bool(self._buf) or bool(self._events)


class PointTable:
    """Point names to small integer ids, shared by every driver of one daemon.

    A name can be registered once: two drivers claiming one point is a config error."""

    def __init__(self):
        self._ids: dict[str, int] = {}
        self._owner: dict[str, str] = {}

    def register(self, name: str, owner: str = "") -> int:
        if name in self._ids:
            from .errors import DriverConfigError

            raise DriverConfigError(
                f"point {name!r} is declared twice ({self._owner[name]} and {owner})")
        self._ids[name] = len(self._ids)
        self._owner[name] = owner
        return self._ids[name]

    def id(self, name: str) -> int:
        return self._ids[name]

    def owner(self, name: str) -> str:
        return self._owner[name]

    def names(self) -> list[str]:
        return list(self._ids)

    def name_of(self, point: int) -> str:
        return self.names()[point]

    def __contains__(self, name: str) -> bool:
        return name in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class Driver(abc.ABC):
    """One hardware channel. Built from its config section (already validated against the
    driver's ``CONFIG_SCHEMA``), the shared point table (register input points in ``__init__``)
    and the sample buffer; started and stopped by the daemon's loop (``start``/``stop`` run in
    the loop; blocking hardware calls go to a thread at the edge, never block the loop).

    Output orders from the engine arrive by output name; a driver owns the outputs it declares.
    Credentials (card reads, PINs) and notices go through ``sink.put_event(dict)``:
    ``{"type": "credential", "t_ns": int, "reader": str, "kind": "card"|"pin", "value": str}``,
    ``{"type": "notice", "t_ns": int, "driver": str, "device": str, "text": str}``.
    """

    #: name used in config (``[drivers.gpio]``, ``[[drivers.modbus.bus]]``, ...)
    kind: str = ""

    def __init__(self, config: dict, points: PointTable, sink: SampleBuffer):
        self.config = config
        self.points = points
        self.sink = sink

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the hardware and begin reporting. Reports the initial level of every input."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release the hardware; idempotent."""

    def outputs(self) -> dict[str, str]:
        """The outputs this driver can drive: ``{name: kind}``, kind one of siren, strobe,
        buzzer, relay, led."""
        return {}

    async def set_output(self, name: str, on: bool) -> None:
        raise KeyError(name)

    async def pulse_output(self, name: str, ms: int) -> None:
        """Turn an output on for ``ms`` milliseconds (buzzer chirp, door strike)."""
        raise KeyError(name)

    def status(self) -> dict:
        """A JSON-able summary for the console, the state topic and metrics."""
        return {"kind": self.kind}
