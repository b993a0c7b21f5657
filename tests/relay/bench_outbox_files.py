"""Figures for docs/performance.md (not a test: run it by hand): what the outbox's file
maintenance costs the event loop.

    .venv/bin/python tests/relay/bench_outbox_files.py vanish 50000 200000
    .venv/bin/python tests/relay/bench_outbox_files.py compact 50000 200000
    .venv/bin/python tests/relay/bench_outbox_files.py compact-ab 200000 200000 200000
    .venv/bin/python tests/relay/bench_outbox_files.py elog-vanish 100000 1000000
    .venv/bin/python tests/relay/bench_outbox_files.py elog-burst 200000

``vanish N``: an outbox holding N events has its file deleted while open; ``maintain()`` is
called every 10 ms (the relay calls it every tick) until the outbox is back on a new file, with a
loop-lag probe (a 1 ms timer) running: the longest ``maintain()`` call, the worst timer
lateness, and the time until the new file holds everything.

``compact N``: N events stored, then removed as the relay does after PUBACKs (1000 per commit),
then the file is left to the fsync thread: file size before and after, time until it shrank,
the longest writer append while it worked (an alarm arriving every 20 ms) and the loop lag
(p99 and worst). ``compact-ab N``: the same without compaction (20 s), then with it.
"""
import asyncio
import os
import statistics
import sys
import tempfile
import time

from guardroom.outbox import Outbox

EVENT = {"ts": "2024-05-01T10:00:00.000Z", "kind": "trouble", "cid": "1380", "area": "bank",
         "zone": "door1", "incident": 0, "verified": False, "silent": False, "drill": False,
         "user": "", "text": "Zone door1 trouble (burst of a chattering input, for the bench)"}


class LagProbe:
    """A timer every ``period`` s; ``worst`` is its largest lateness (ms)."""

    def __init__(self, period: float = 0.001):
        self.period = period
        self.worst = 0.0
        self.lags: list[float] = []
        self._task = None

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.period)
            lag = (loop.time() - t - self.period) * 1000
            self.lags.append(lag)
            self.worst = max(self.worst, lag)

    def p99(self) -> float:
        xs = sorted(self.lags) or [0.0]
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))]

    async def __aenter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.sleep(0.005)          # the probe's timer is running
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()


def _fill(box, n):
    for i in range(0, n, 1000):
        box.append_many([EVENT] * min(1000, n - i))


def _file_mib(path, sides=("", "-wal")):
    total = 0
    for s in sides:
        try:
            total += os.stat(path + s).st_size
        except OSError:
            pass
    return total / 2 ** 20


async def vanish(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "outbox.sqlite")
        box = Outbox(path, fsync_ms=50, controller="b")
        _fill(box, n)
        box.flush()
        await asyncio.sleep(0.5)
        calls = []
        os.unlink(path)
        box._next_check = 0.0
        t0 = time.perf_counter()
        async with LagProbe() as probe:
            while True:
                c0 = time.perf_counter()
                box.maintain()
                calls.append((time.perf_counter() - c0) * 1000)
                if box.healthy and os.path.exists(path) and not box.in_memory:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
        took = time.perf_counter() - t0
        ok = len(box.pending()) == n
        print(f"vanish {n}: back on a new file after {took:.2f} s, longest maintain() "
              f"{max(calls):.1f} ms, worst loop lag {probe.worst:.1f} ms, "
              f"{'all' if ok else 'NOT all'} {n} events kept ({_file_mib(path):.1f} MiB)")
        box.close()


async def compact(n: int, off: bool = False) -> None:
    """``off``: the same run with compaction disabled (the baseline of the loop lag)."""
    import guardroom.outbox as ob

    saved = ob.COMPACT_MIN
    if off:
        ob.COMPACT_MIN = 1 << 62
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "outbox.sqlite")
        box = Outbox(path, fsync_ms=50, controller="b")
        _fill(box, n)
        for s in range(1, n + 1, 1000):
            box.remove_many(range(s, min(n + 1, s + 1000)))
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        before, wal0 = _file_mib(path, ("",)), _file_mib(path, ("-wal",))
        t0 = time.perf_counter()
        appends = []
        async with LagProbe() as probe:
            while time.perf_counter() - t0 < (20 if off else 60):
                a0 = time.perf_counter()
                seq = box.append(dict(EVENT, kind="alarm", cid="1120"))["seq"]
                appends.append((time.perf_counter() - a0) * 1000)
                box.remove(seq)
                await asyncio.sleep(0.02)
                if _file_mib(path, ("",)) < 1.0 and not getattr(box, "compacting", False):
                    break
        took = time.perf_counter() - t0
        ob.COMPACT_MIN = saved
        print(f"compact{' OFF' if off else ''} {n}: database {before:.1f} -> {_file_mib(path, ('',)):.1f} MiB, WAL "
              f"{wal0:.1f} -> {_file_mib(path, ('-wal',)):.1f} MiB in {took:.2f} s "
              f"({getattr(box, 'compact_steps', 0)} steps, longest "
              f"{getattr(box, 'compact_max_ms', 0):.1f} ms); alarm append+remove meanwhile "
              f"median "
              f"{statistics.median(appends):.2f} ms, max {max(appends):.1f} ms "
              f"({len(appends)}); loop lag p99 {probe.p99():.1f} ms, worst {probe.worst:.1f} ms")
        box.close()


async def elog_vanish(n: int) -> None:
    """The event log (N rows) deleted while open; the committer thread's check moves it while
    the loop appends a row every 2 ms (as the daemon logs): the longest append (it waits for
    the log's lock while a page is read or the copy is put in place) and the loop lag."""
    import threading

    from guardroom.eventlog import EventLog

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "events.sqlite")
        elog = EventLog(path)
        for i in range(0, n, 1000):
            elog.append_many([dict(EVENT, seq=j) for j in range(i, min(n, i + 1000))])
        elog.commit()
        await asyncio.sleep(0.3)
        os.unlink(path)
        appends = []
        async with LagProbe() as probe:
            t0 = time.perf_counter()
            th = threading.Thread(target=elog.check_file)
            th.start()
            while th.is_alive():
                a0 = time.perf_counter()
                elog.append(dict(EVENT, seq=-1))
                appends.append((time.perf_counter() - a0) * 1000)
                await asyncio.sleep(0.002)
            took = time.perf_counter() - t0
        ok = elog.verify()[0] and os.path.exists(path)
        print(f"event log vanish {n}: moved in {took:.2f} s, {len(appends)} appends meanwhile: "
              f"median {statistics.median(appends):.2f} ms, max {max(appends):.1f} ms; loop "
              f"lag p99 {probe.p99():.1f} ms, worst {probe.worst:.1f} ms; chain "
              f"{'verifies' if ok else 'BROKEN'}")
        elog.close()


async def elog_burst(n: int) -> None:
    """N rows logged as the daemon logs a burst (append_many of 200 rows, the loop yielding
    between), the committer committing every 100 ms: the longest append_many (it waits for the
    log's lock while the committer commits, and a commit may checkpoint) and the loop lag."""
    from guardroom.eventlog import EventLog

    commits = []
    real_commit = EventLog.commit

    def timed_commit(self):            # the committer's commit: the lock is held throughout
        c0 = time.perf_counter()
        real_commit(self)
        commits.append((time.perf_counter() - c0) * 1000)

    EventLog.commit = timed_commit
    with tempfile.TemporaryDirectory() as d:
        elog = EventLog(os.path.join(d, "events.sqlite"), keep=10 * n)
        appends = []
        async with LagProbe() as probe:
            t0 = time.perf_counter()
            for i in range(0, n, 200):
                a0 = time.perf_counter()
                elog.append_many([dict(EVENT, seq=j) for j in range(i, i + 200)])
                appends.append((time.perf_counter() - a0) * 1000)
                await asyncio.sleep(0)
            took = time.perf_counter() - t0
            await asyncio.sleep(0.3)
        xs = sorted(appends)
        wal = _file_mib(os.path.join(d, "events.sqlite"), ("-wal",))
        print(f"event log burst {n}: {n / took:.0f} rows/s; append_many(200) median "
              f"{statistics.median(xs):.2f} ms, p99 {xs[int(len(xs) * 0.99)]:.1f} ms, max "
              f"{xs[-1]:.1f} ms; loop lag p99 {probe.p99():.1f} ms, worst {probe.worst:.1f} ms; "
              f"WAL {wal:.1f} MiB; commits (lock held) median "
              f"{statistics.median(commits):.1f} ms, max {max(commits):.1f} ms ({len(commits)})")
        elog.close()
    EventLog.commit = real_commit


def main(argv):
    what, sizes = argv[0], [int(x) for x in argv[1:]] or [50_000, 200_000]
    for n in sizes:
        if what == "compact-ab":         # compaction off, then on: same sitting, alternated
            asyncio.run(compact(n, off=True))
            asyncio.run(compact(n))
        else:
            asyncio.run({"vanish": vanish, "compact": compact, "elog-vanish": elog_vanish,
                         "elog-burst": elog_burst}[what](n))


if __name__ == "__main__":
    main(sys.argv[1:])
