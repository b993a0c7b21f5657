"""Meet the engine's deadlines (a debounce ending, an entry delay running out) to the
sub-millisecond, without polling.

asyncio sleeps in ``epoll_wait`` whose timeout is whole milliseconds, rounded up: a loop
waiting for a deadline wakes 0-1 ms after it. On Linux a ``timerfd`` armed at the deadline
(absolute CLOCK_MONOTONIC, the clock of ``time.monotonic_ns()``) is registered as a reader of
the loop instead: epoll returns when the kernel's high-resolution timer fires, tens of
microseconds late, and costs nothing while waiting. Elsewhere (no timerfd) the wait ends
``EARLY_NS`` before the deadline and the rest is spent yielding to the loop.

Either way the caller reads the clock after the wait, and the wait never returns before the
deadline unless woken: the engine is given the real time, never the deadline.

Only the daemon's engine loop uses this. Drivers' poll timers keep asyncio's (or their
thread's) coarse sleeps: they gain nothing from precision.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import time

log = logging.getLogger("guardroom.deadline")

EARLY_NS = 1_500_000     # without timerfd: wake this much before a deadline, then yield

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
        return libc
    except (OSError, AttributeError):
        return None


class DeadlineTimer:
    """``await timer.wait(wake, t_ns)``: until the event ``wake`` is set or the clock reaches
    ``t_ns``. With a timerfd, ``arm(t_ns)`` makes the loop set ``wake`` once the clock has
    reached ``t_ns`` (``arm(-1)`` disarms). ``precise`` is False where no timerfd exists, or
    when asked (the yielding fallback)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event,
                 precise: bool = True):
        self.loop = loop
        self.wake = wake
        self._fd = -1
        self._armed = -1
        self._spec = _Itimerspec()
        self._libc = _libc() if precise else None
        if self._libc is not None:
            fd = self._libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd >= 0:
                self._fd = fd
                loop.add_reader(fd, self._fired)
            else:
                log.info("timerfd not available (errno %d): deadlines met to the ms",
                         ctypes.get_errno())
        self.precise = self._fd >= 0

    def arm(self, t_ns: int) -> None:
        if not self.precise or t_ns == self._armed:
            return
        self._armed = t_ns
        v = self._spec.it_value
        if t_ns < 0:
            v.tv_sec, v.tv_nsec = 0, 0          # disarm
        else:
            t_ns = max(t_ns, 1)                 # 0 would disarm
            v.tv_sec, v.tv_nsec = divmod(t_ns, 1_000_000_000)
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec),
                                      None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime")

    def _fired(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:      # re-armed for later between the wake-up and now
            return
        self._armed = -1
        self.wake.set()

    def close(self) -> None:
        if self._fd >= 0:
            self.loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
            self.precise = False

    async def wait(self, deadline_ns: int) -> None:
        """Until ``wake`` is set or the clock reaches ``deadline_ns`` (-1: no deadline).
        Returns early only when woken; the caller reads the clock itself afterwards."""
        wake = self.wake
        if wake.is_set():
            return
        if deadline_ns < 0:
            self.arm(-1)
            await wake.wait()
            return
        if self.precise:
            self.arm(deadline_ns)      # the timerfd's reader sets ``wake``
            await wake.wait()
            return
        timeout = (deadline_ns - EARLY_NS - time.monotonic_ns()) / 1e9
        if timeout > 0:
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                pass
        while not wake.is_set() and time.monotonic_ns() < deadline_ns:
            await asyncio.sleep(0)     # the last stretch: other callbacks run meanwhile

