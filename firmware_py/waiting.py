"""Waiting on deliveries, shared by the MQTT relay and the DC-09 path: futures keyed by an
event's seq, settled when its fate is known and cancelled when the path stops; and ending a
path's worker task."""
from __future__ import annotations

import asyncio
from typing import Any, Optional


async def end_task(task: Optional[asyncio.Task]) -> None:
    """Cancel a worker task and wait until it has finished; what it raised is dropped (the
    worker logs its own errors)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001
        pass


class Waiters:
    """Callers waiting for event ``seq``. Every method is called from the loop's thread."""

    def __init__(self) -> None:
        self._by_seq: dict[int, list[asyncio.Future]] = {}

    async def wait(self, seq: int, timeout_s: float) -> Any:
        """The value ``settle(seq, value)`` gives; asyncio.TimeoutError after ``timeout_s``,
        CancelledError if ``cancel_all`` comes first."""
        fut = asyncio.get_running_loop().create_future()
        self._by_seq.setdefault(seq, []).append(fut)
        try:
            return await asyncio.wait_for(fut, timeout_s)
        finally:
            lst = self._by_seq.get(seq)
            if lst and fut in lst:
                lst.remove(fut)
                if not lst:
                    del self._by_seq[seq]

    def settle(self, seq: int, value: Any = None) -> None:
        """Wake everyone waiting for ``seq`` with ``value``."""
        for fut in self._by_seq.pop(seq, ()):
            if not fut.done():
                fut.set_result(value)

    def cancel_all(self) -> None:
        for futs in self._by_seq.values():
            for fut in futs:
                if not fut.done():
                    fut.cancel()
        self._by_seq.clear()
