"""Shared test helpers for asyncio bodies: run one with a failure bound, await a condition."""
from __future__ import annotations

import asyncio


def run(coro, timeout: float = 60.0):
    """Run a coroutine to completion; ``timeout`` is only a failure bound."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def until(cond, timeout: float = 10.0, what: str = "condition"):
    """Await a condition polled on the loop; raises AssertionError on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
