"""DC-09 path benchmark: the transmitter against the ARC emulator (pysiaalarm) on loopback.

    python -m guardroom.bench.dc09 [--events 300] [--failovers 5] [--silent] [--json]
    guardroom bench dc09

Figures (milliseconds unless said; medians and p99):

* ``event_to_ack_<proto>_<plain|aes256>``: an event handed to the path (``offer``: stored in
  the path's outbox) until the receiver's ACK is read, one event at a time;
* ``burst_<n>_events_per_s``: ``n`` events offered at once, delivered one message at a time
  (stop-and-wait), encrypted over TCP;
* ``failover_refused_s``: the primary's port is closed; an event offered until the backup's
  ACK, with the default ``attempts`` (3), ``retry_s`` (0.5) and ``retry_max_s`` (5);
* ``failover_silent_s`` (``--silent``): the primary accepts but never answers (a black hole):
  bound by ``attempts`` x ``ack_timeout_s`` (3 x 5 s by default) plus the backoff.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time

from ..dc09 import DC09_SCHEMA, Dc09Path
from ..outbox import Outbox

KEY = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"


def _stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    return {"n": len(s), "median": round(statistics.median(s), 3),
            "p99": round(s[min(len(s) - 1, int(len(s) * 0.99))], 3), "max": round(s[-1], 3)}


def _event(i: int) -> dict:
    return {"ts": "", "kind": "alarm", "cid": "1120", "area": "", "zone": "", "incident": i,
            "text": f"bench {i}", "id": f"bench-{i}"}


async def _path(ports, key="", protocol="tcp", **kw):
    raw = {"account": "1234", "key": key, "poll_s": 3600,
           "receivers": [{"name": f"r{i}", "host": "127.0.0.1", "port": p,
                          "protocol": protocol} for i, p in enumerate(ports)]}
    raw.update(kw)
    cfg = DC09_SCHEMA.validate(raw, "dc09")
    box = Outbox(tempfile.mkdtemp(prefix="dc09-bench-") + "/outbox-dc09.sqlite",
                 controller="bench")
    path = Dc09Path(cfg, box)
    await path.start()
    return path


async def _latency(protocol: str, key: str, n: int) -> list[float]:
    from ..emulators.arc import ArcEmulator

    arc = await ArcEmulator(key=key, protocol=protocol).start()
    path = await _path([arc.port], key, protocol)
    try:
        await path.wait_delivered(path.offer(_event(0))["seq"], 10)   # connect, first poll
        path.latencies.clear()
        for i in range(1, n + 1):
            await path.wait_delivered(path.offer(_event(i))["seq"], 10)
        return list(path.latencies)
    finally:
        await path.stop()
        path.outbox.close()
        await arc.stop()


async def _burst(n: int) -> float:
    from ..emulators.arc import ArcEmulator

    arc = await ArcEmulator(key=KEY).start()
    path = await _path([arc.port], KEY)
    try:
        await path.wait_delivered(path.offer(_event(0))["seq"], 10)
        t0 = time.perf_counter()
        last = [path.offer(_event(i)) for i in range(1, n + 1)][-1]
        await path.wait_delivered(last["seq"], 120)
        return n / (time.perf_counter() - t0)
    finally:
        await path.stop()
        path.outbox.close()
        await arc.stop()


async def _failover(silent: bool) -> float:
    from ..emulators.arc import ArcEmulator

    primary = await ArcEmulator(name="primary").start()
    backup = await ArcEmulator(name="backup").start()
    path = await _path([primary.port, backup.port])
    try:
        await path.wait_delivered(path.offer(_event(0))["seq"], 10)
        if silent:
            primary.mode = "silent"
        else:
            await primary.stop()
        t0 = time.perf_counter()
        await path.wait_delivered(path.offer(_event(1))["seq"], 120)
        assert path.active == 1
        return time.perf_counter() - t0
    finally:
        await path.stop()
        path.outbox.close()
        await primary.stop()
        await backup.stop()


async def bench(events: int, failovers: int, silent: bool) -> dict:
    out: dict = {}
    for proto in ("tcp", "udp"):
        for name, key in (("plain", ""), ("aes256", KEY)):
            out[f"event_to_ack_{proto}_{name}_ms"] = _stats(await _latency(proto, key, events))
    out[f"burst_{events}_events_per_s"] = round(await _burst(events), 1)
    out["failover_refused_s"] = _stats([await _failover(False) for _ in range(failovers)])
    if silent:
        out["failover_silent_s"] = _stats([await _failover(True)])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom bench dc09", description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--failovers", type=int, default=5)
    ap.add_argument("--silent", action="store_true",
                    help="also time a failover from a silent primary (~17 s each)")
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    try:
        import pysiaalarm  # noqa: F401
    except ImportError:
        print("guardroom bench dc09 needs pysiaalarm (pip install 'guardroom[test]')",
              file=sys.stderr)
        return 2
    logging.getLogger("guardroom.dc09").setLevel(logging.ERROR)   # failovers are expected
    res = asyncio.run(bench(ns.events, ns.failovers, ns.silent))
    if ns.json:
        print(json.dumps(res, indent=2))
        return 0
    for k, v in res.items():
        if isinstance(v, dict):
            print(f"{k:36s} median {v['median']:>9} p99 {v['p99']:>9} max {v['max']:>9} "
                  f"(n={v['n']})")
        else:
            print(f"{k:36s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
