"""Figures for docs/developer/outbox.md (not a test: run it by hand).

    .venv/bin/python tests/relay/bench_relay.py

Outbox append latency and fsync time on this disk, publish -> PUBACK round trip on loopback,
and a backlog of 10k events drained after a broker restart.
"""
import asyncio
import os
import statistics
import sys
import tempfile
import time

from guardroom.emulators.broker import MosquittoBroker
from guardroom.emulators.platform import Platform
from guardroom.outbox import Outbox
from guardroom.relay import MQTT_SCHEMA, Relay

EVENT = {"ts": "2024-05-01T10:00:00.000Z", "kind": "alarm", "cid": "1120", "area": "bank",
         "zone": "teller1", "incident": 1, "verified": False, "silent": True, "drill": False,
         "user": "", "text": "Panic button teller 1"}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def bench_outbox(d):
    box = Outbox(os.path.join(d, "a.sqlite"), fsync_ms=50, controller="b")
    lat = []
    for _ in range(10_000):
        t0 = time.perf_counter_ns()
        box.append(EVENT)
        lat.append((time.perf_counter_ns() - t0) / 1000)
    t_end = time.monotonic()
    while box.durable_seq < 10_000 and time.monotonic() - t_end < 5:
        time.sleep(0.001)
    print(f"outbox append: median {statistics.median(lat):.0f} us, p99 {pct(lat, 99):.0f} us, "
          f"max {max(lat):.0f} us (10k appends, fsync thread running)")
    print(f"  background fsyncs: {box.fsyncs}, last {box.fsync_last_ms:.2f} ms, "
          f"max {box.fsync_max_ms:.2f} ms")
    t0 = time.perf_counter()
    box.remove_many(range(1, 10_001))
    print(f"  remove 10k in one commit: {(time.perf_counter() - t0) * 1000:.1f} ms")
    # isolated events (how alarms really come): append -> known fsynced
    dur = []
    for _ in range(200):
        seq = box.append(EVENT)["seq"]
        t0 = time.perf_counter()
        while box.durable_seq < seq:
            time.sleep(0.0002)
        dur.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.06)
    print(f"  isolated append -> fsynced: median {statistics.median(dur):.2f} ms, "
          f"p99 {pct(dur, 99):.2f} ms, max {max(dur):.2f} ms (200 events, 60 ms apart)")
    box.close()
    # raw fsync of a small append on this disk
    path = os.path.join(d, "f.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    fs = []
    for _ in range(200):
        os.write(fd, b"x" * 300)
        t0 = time.perf_counter_ns()
        os.fsync(fd)
        fs.append((time.perf_counter_ns() - t0) / 1e6)
    os.close(fd)
    print(f"fsync (300 B append): median {statistics.median(fs):.2f} ms, "
          f"p99 {pct(fs, 99):.2f} ms, max {max(fs):.2f} ms")


async def bench_relay(d, broker):
    plat = Platform("127.0.0.1", broker.port, out=None, auto_ack=False)
    box = Outbox(os.path.join(d, "r.sqlite"), fsync_ms=50, controller="bench")
    cfg = MQTT_SCHEMA.validate({"host": "127.0.0.1", "port": broker.port}, "mqtt")
    r = Relay(cfg, "bench", "lab", box, asyncio.get_running_loop())
    await r.start()
    while not r.status()["connected"]:
        await asyncio.sleep(0.01)
    rtt = []
    for _ in range(2000):
        ev = r.publish_event(EVENT)
        rtt.append(await r.wait_delivered(ev["seq"], 5))
    print(f"publish -> PUBACK (loopback, one at a time, 2000): median "
          f"{statistics.median(rtt):.2f} ms, p99 {pct(rtt, 99):.2f} ms")
    await asyncio.to_thread(plat.wait_count, 2000, 30)

    await asyncio.to_thread(broker.stop)
    for _ in range(10_000):
        r.publish_event(EVENT)
    assert box.depth() == 10_000
    t0 = time.monotonic()
    await asyncio.to_thread(broker.start)
    while not r.status()["connected"]:
        await asyncio.sleep(0.001)
    t_conn = time.monotonic()
    while box.depth():
        await asyncio.sleep(0.005)
    dt = time.monotonic() - t_conn
    print(f"  reconnect after broker restart took {t_conn - t0:.2f} s (backoff)")
    try:
        await asyncio.to_thread(plat.wait_count, 12_000, 60)
    except TimeoutError:
        print(f"  platform got only {len(plat.events)}")
    print(f"backlog of 10k drained after broker restart: {dt:.2f} s from reconnect to empty "
          f"outbox = {10_000 / dt:.0f} events/s (platform got all {len(plat.events)}, "
          f"{plat.duplicates} duplicates, {len(plat.gaps)} gaps)")
    await r.stop()
    box.close()
    plat.close()


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu, dir {d}")
        bench_outbox(d)
        with MosquittoBroker() as b:
            asyncio.run(bench_relay(d, b))


if __name__ == "__main__":
    main()
