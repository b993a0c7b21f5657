"""A gpiozero mock pin factory whose pins announce every level change and play edge floods
the way a real line does.

``wait PIN LEVEL`` on the control channel blocks on the factory's condition instead of
polling, and each pin trims its ``states`` history (gpiozero's mock pins keep every change
forever, which a 50k-edge burst would turn into a memory leak).

A burst (``WatchedMockPin.play``) is a waveform on the wire, not a loop of ``drive_high`` /
``drive_low`` calls: a thread of its own ("the wire") plays it. While the pin has edge
detection on (a ``when_changed`` handler), the wire delivers every due edge to the handler,
in small batches as a kernel's edge queue would, and sleeps in between (it never spins while
holding the GIL). While nobody listens, the level simply follows the clock: reading the pin
computes it, and the wire costs the process nothing, as on a Pi where lgpio releases the
line's alerts and the edges stop at the kernel. That keeps the emulator's own cost out of a
flood measurement where the real hardware would not have any.
"""
from __future__ import annotations

import threading
import time

from gpiozero.pins.mock import MockFactory, MockPin

from ..threadname import name_thread

_KEEP_STATES = 64
_BATCH_S = 0.001     # the wire wakes at most every 1 ms to deliver the edges due meanwhile


class Wave:
    """``count`` level toggles from ``start`` (the level before the first toggle), the i-th
    (from 0) due at ``t0 + i * period_s`` (``perf_counter`` seconds). ``delivered`` toggles
    have been applied to the pin (and reported to its handler, if it had one)."""

    __slots__ = ("t0", "count", "period", "start", "delivered", "to_handler", "cancelled",
                 "finished", "t_end")

    def __init__(self, count: int, period_s: float, start: int):
        self.t0 = time.perf_counter()
        self.count = count
        self.period = period_s
        self.start = start
        self.delivered = 0
        self.to_handler = 0       # toggles that reached a when_changed handler
        self.cancelled = False
        self.finished = threading.Event()
        self.t_end = 0.0

    def due(self, now: float) -> int:
        if self.period <= 0:
            return self.count
        return min(self.count, int((now - self.t0) / self.period) + 1) if now >= self.t0 else 0

    def level(self, n: int) -> int:
        return self.start ^ (n & 1)

    def end_time(self) -> float:
        return self.t0 + max(0, self.count - 1) * self.period


class WatchedMockPin(MockPin):
    def __init__(self, factory, info):
        self._wave: Wave | None = None
        self._wire_wake = threading.Event()   # set when edge detection turns on / a wave ends
        super().__init__(factory, info)

    # -- level ----------------------------------------------------------------------------
    def _get_state(self):
        w = self._wave
        if w is not None:
            return bool(w.level(w.due(time.perf_counter())))
        return self._state

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed:
            if len(self.states) > _KEEP_STATES:
                self.clear_states()
            self._notify()
        return changed

    def _notify(self) -> None:
        cond = self._factory.changed
        with cond:
            cond.notify_all()

    def drive_high(self):
        self.stop_wave()
        super().drive_high()

    def drive_low(self):
        self.stop_wave()
        super().drive_low()

    # -- edge detection -------------------------------------------------------------------
    def _enable_event_detect(self):
        self._wire_wake.set()         # a wave playing unheard starts delivering again

    def _disable_event_detect(self):
        pass

    # -- the wire -------------------------------------------------------------------------
    def play(self, count: int, period_s: float) -> Wave:
        """Start a burst of ``count`` toggles ``period_s`` apart (0 = as fast as delivery
        goes); returns at once. ``wave.finished`` is set when it has played out."""
        self.stop_wave()
        wave = Wave(count, period_s, int(self._state))
        self._wave = wave
        threading.Thread(target=self._play, args=(wave,), name=f"gpio-wire-{self.info.name}",
                         daemon=True).start()
        return wave

    def stop_wave(self) -> None:
        """End a playing wave where it is now (its level stays)."""
        w = self._wave
        if w is not None:
            w.cancelled = True
            self._wire_wake.set()
            w.finished.wait(5)

    def _play(self, wave: Wave) -> None:
        name_thread(f"wire-{self.info.name}")
        clock = time.perf_counter
        try:
            while not wave.cancelled and wave.delivered < wave.count:
                now = clock()
                due = wave.due(now)
                if self._listened():
                    self._deliver(wave, due)
                    if wave.delivered >= wave.count:
                        break
                    nxt = wave.t0 + wave.delivered * wave.period
                    time.sleep(max(_BATCH_S, nxt - clock()))
                else:
                    # nobody listens: no work per edge; wait for the end or for a listener
                    wave.delivered = due
                    self._state = bool(wave.level(due))
                    if due >= wave.count:
                        break
                    self._wire_wake.clear()
                    if not self._listened():
                        self._wire_wake.wait(max(0.0, wave.end_time() - clock()) + _BATCH_S)
        finally:
            self._state = bool(wave.level(wave.delivered))
            self._last_change = time.monotonic()
            wave.t_end = clock()
            if self._wave is wave:
                self._wave = None
            wave.finished.set()
            self._notify()

    def _listened(self) -> bool:
        return self._when_changed is not None and self._edges == "both"

    def _deliver(self, wave: Wave, due: int) -> None:
        """Apply toggles up to ``due``, one handler call each (what lgpio's alert thread does
        for a listened pin). Stops early if the handler detaches itself."""
        level, n = wave.level, wave.delivered
        monotonic = time.monotonic
        call = self._call_when_changed
        while n < due and not wave.cancelled:
            n += 1
            self._state = bool(level(n))
            self._last_change = monotonic()
            wave.delivered = n
            wave.to_handler += 1
            call()
            if self._when_changed is None:
                break


class WatchedMockFactory(MockFactory):
    """``MockFactory`` with ``changed``, a condition notified on any pin level change."""

    def __init__(self):
        super().__init__(pin_class=WatchedMockPin)
        self.changed = threading.Condition()

    def wait_level(self, pin, level: int, timeout_s: float) -> bool:
        """Block until ``pin.state == level`` or the timeout; True if the level was reached."""
        with self.changed:
            return self.changed.wait_for(lambda: int(pin.state) == level, timeout=timeout_s)
