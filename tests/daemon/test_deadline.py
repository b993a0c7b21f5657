"""The engine loop's deadline wait (timerfd, or the yielding fallback): it never returns
before the deadline unless woken, a wake ends it at once, and a disarmed timer stays quiet."""
from __future__ import annotations

import asyncio
import time

import pytest

from guardroom.deadline import DeadlineTimer


@pytest.fixture(params=[True, False], ids=["timerfd", "fallback"])
def precise(request):
    return request.param


def test_timerfd_is_used_on_linux():
    async def main():
        t = DeadlineTimer(asyncio.get_running_loop(), asyncio.Event())
        try:
            return t.precise
        finally:
            t.close()
    assert asyncio.run(main())


def test_wait_never_ends_before_the_deadline(precise):
    async def main():
        wake = asyncio.Event()
        t = DeadlineTimer(asyncio.get_running_loop(), wake, precise=precise)
        early = []
        try:
            for ms in (0.3, 1.0, 2.5, 4.0, 0.0, -1.0):
                deadline = time.monotonic_ns() + int(ms * 1e6)
                await t.wait(deadline)
                now = time.monotonic_ns()
                if now < deadline:
                    early.append((ms, deadline - now))
                wake.clear()
        finally:
            t.close()
        return early
    assert asyncio.run(main()) == []


def test_a_wake_ends_the_wait_before_the_deadline(precise):
    async def main():
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        t = DeadlineTimer(loop, wake, precise=precise)
        try:
            deadline = time.monotonic_ns() + 60_000_000_000
            loop.call_later(0.01, wake.set)
            await asyncio.wait_for(t.wait(deadline), 30)
            return time.monotonic_ns() < deadline
        finally:
            t.close()
    assert asyncio.run(main())


def test_no_deadline_waits_for_the_wake_only_and_a_disarmed_timer_stays_quiet():
    async def main():
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        t = DeadlineTimer(loop, wake)
        try:
            t.arm(time.monotonic_ns() + 20_000_000)
            waiting = asyncio.ensure_future(t.wait(-1))   # no deadline: disarms
            await asyncio.sleep(0.1)       # well past the deadline that was disarmed
            quiet = not waiting.done() and not wake.is_set()
            wake.set()
            await asyncio.wait_for(waiting, 5)
            return quiet
        finally:
            t.close()
    assert asyncio.run(main())
