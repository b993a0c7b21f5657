"""Where the edge -> platform milliseconds go: each hop of the alarm path timed on its own,
with the real parts (the daemon's wake-up and timer mechanism, the event log, the state file,
the outbox, the relay, paho, Mosquitto on loopback, the platform emulator's subscriber).

    python -m guardroom.bench.hops [--n 200] [--json] [--no-site]

Hops, in the order an alarm takes them (medians and p99 in ms):

* ``gpio_control_rtt``: the emulator's control command (press / release) round trip to the mock
  pin inside a running daemon; half of it is the loopback hop the e2e figure starts with
  (absent on a Pi, where lgpio's thread sees the edge). Needs the emulated site (``--no-site``
  skips it).
* ``wake_threadsafe``: a driver thread's ``call_soon_threadsafe(event.set)`` until the loop's
  task runs (how a sample wakes the loop).
* ``timer_lateness``: the loop sleeping in ``wait_for(event.wait(), timeout)`` until a deadline
  (how the debounce deadline is met): wake-up minus deadline.
* ``eventlog_append``, ``statefile_save``, ``outbox_append``: one alarm-sized event into the
  hash-chained event log, the engine snapshot written (no fsync: that runs in a thread), one
  event into the outbox (SQLite commit; fsync in its own thread).
* ``relay_to_platform``: ``Relay.publish_event`` (outbox append included) until the platform's
  paho thread has the message.
* ``paho_to_platform``: a bare paho publish (network thread started) until the same
  subscriber has it: the MQTT floor of the relay figure.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Optional

from .e2e import _machine


def _stats(xs: list[float]) -> dict:
    s = sorted(xs)
    if not s:
        return {"n": 0}
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    return {"n": len(s), "median": round(statistics.median(s), 3), "p99": round(p99, 3)}


def _ms(a_ns: int, b_ns: int) -> float:
    return (b_ns - a_ns) / 1e6


async def _wake_threadsafe(n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    ev = asyncio.Event()
    out = []
    for _ in range(n):
        ev.clear()
        t = [0]

        def poke():
            t[0] = time.monotonic_ns()
            loop.call_soon_threadsafe(ev.set)
        th = threading.Thread(target=poke)
        th.start()
        await ev.wait()
        out.append(_ms(t[0], time.monotonic_ns()))
        th.join()
    return out


async def _timer_lateness(n: int, sleep_ms: float = 5.0) -> list[float]:
    ev = asyncio.Event()
    out = []
    for _ in range(n):
        deadline = time.monotonic_ns() + int(sleep_ms * 1e6)
        timeout = max(0.0, (deadline - time.monotonic_ns()) / 1e9)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        out.append(_ms(deadline, time.monotonic_ns()))
    return out


async def _timer_lateness_spin(n: int, sleep_ms: float = 5.0, spin_ms: float = 1.5) -> list[float]:
    """The same, but the wait ends ``spin_ms`` early and the last stretch is spent yielding
    to the loop (``asyncio.sleep(0)``): what a daemon could do to meet a debounce deadline
    without epoll's millisecond rounding."""
    ev = asyncio.Event()
    out = []
    for _ in range(n):
        deadline = time.monotonic_ns() + int(sleep_ms * 1e6)
        timeout = max(0.0, (deadline - time.monotonic_ns()) / 1e9 - spin_ms / 1e3)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        while time.monotonic_ns() < deadline:
            await asyncio.sleep(0)
        out.append(_ms(deadline, time.monotonic_ns()))
    return out


def _snapshot_cost(n: int) -> list[float]:
    from guardroom.core import Engine  # noqa: F401  (the build in use)

    snap = _snapshot()
    xs = []
    for _ in range(n):
        t = time.monotonic_ns()
        json.dumps({"engine": snap}, separators=(",", ":"))
        xs.append(_ms(t, time.monotonic_ns()))
    return xs


def _event(i: int) -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "kind": "alarm", "cid": "1120",
            "area": "building", "zone": "panic_reception", "incident": i, "verified": False,
            "silent": True, "drill": False, "user": "", "text": "Panic button reception"}


def _storage(n: int, d: str) -> dict:
    from guardroom.eventlog import EventLog
    from guardroom.outbox import Outbox
    from guardroom.statefile import StateFile

    res = {}
    log = EventLog(os.path.join(d, "events.sqlite"), keep=100_000)
    xs = []
    for i in range(n):
        t = time.monotonic_ns()
        log.append(_event(i))
        xs.append(_ms(t, time.monotonic_ns()))
    res["eventlog_append"] = _stats(xs)
    log.close()
    sf = StateFile(os.path.join(d, "state.json"))
    snap = {"engine": _snapshot(), "saved_at": "2026-01-01T00:00:00.000Z"}
    xs = []
    for _ in range(n):
        t = time.monotonic_ns()
        sf.save(snap, sync=False)
        xs.append(_ms(t, time.monotonic_ns()))
    res["statefile_save"] = _stats(xs)
    box = Outbox(os.path.join(d, "outbox.sqlite"), controller="bench")
    xs = []
    for i in range(n):
        t = time.monotonic_ns()
        ev = box.append(_event(i))
        xs.append(_ms(t, time.monotonic_ns()))
        box.remove(ev["seq"])
    res["outbox_append"] = _stats(xs)
    box.close()
    return res


def _snapshot() -> dict:
    """The snapshot of an engine the size of the school example (14 zones, 2 areas)."""
    from guardroom.core import Engine

    zones = [{"name": f"z{i}", "point": i, "type": "panic" if i < 2 else "perimeter",
              "area": "building" if i < 8 else "perimeter", "profile": "std", "invert": False,
              "silent": None, "groups": [], "offline_grace_s": 30, "offline_alarm": False,
              "watch_days": 0, "cid": None, "momentary": False} for i in range(14)]
    area = {"entry_delay_s": 30, "exit_delay_s": 20, "bell_cutoff_s": 600, "fallback_s": 60,
            "swinger_limit": 0, "sirens": ["siren"], "strobes": ["strobe"]}
    site = {"controller": "bench",
            "profiles": {"std": {"active_ms": 50, "restore_ms": 20, "pulses": 1,
                                 "pulse_window_ms": 0}},
            "areas": {"building": dict(area), "perimeter": dict(area)}, "groups": {},
            "zones": zones, "sabotage": {"count": 0, "window_s": 60},
            "outputs": {"siren": {"kind": "siren"}, "strobe": {"kind": "strobe"}}}
    e = Engine(site)
    e.feed(1, 0, 1)
    e.advance(10**9)
    return e.snapshot()


def _mqtt(n: int, d: str) -> dict:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from guardroom.emulators.broker import MosquittoBroker
    from guardroom.emulators.platform import Platform
    from guardroom.outbox import Outbox
    from guardroom.relay import MQTT_SCHEMA, Relay

    res = {}
    with MosquittoBroker(workdir=os.path.join(d, "broker")) as b:
        p = Platform("127.0.0.1", b.port, out=None, auto_ack=False)
        try:
            p.wait_until(lambda: p.connected.is_set(), 10)

            async def relay_run() -> list[float]:
                box = Outbox(os.path.join(d, "relay.sqlite"), controller="hops")
                r = Relay(MQTT_SCHEMA.validate({"host": "127.0.0.1", "port": b.port}, "mqtt"),
                          "hops", "bench", box, asyncio.get_running_loop())
                await r.start()
                xs = []
                try:
                    while not r.status()["connected"]:
                        await asyncio.sleep(0.01)
                    for i in range(n):
                        t = time.monotonic_ns()
                        ev = r.publish_event(_event(i))
                        await asyncio.to_thread(p.wait_until, lambda: ev["id"] in p.rx, 10)
                        xs.append(_ms(t, p.rx[ev["id"]][0]))
                        await r.wait_delivered(ev["seq"], 10)
                finally:
                    await r.stop()
                    box.close()
                return xs
            res["relay_to_platform"] = _stats(asyncio.run(relay_run()))

            c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            c.connect("127.0.0.1", b.port)
            c.loop_start()
            xs = []
            try:
                topic = "guardroom/bench/raw/event"
                for i in range(n):
                    ev = dict(_event(i), id=f"raw-{i}", seq=i + 1)
                    t = time.monotonic_ns()
                    c.publish(topic, json.dumps(ev), qos=1).wait_for_publish(10)
                    p.wait_until(lambda: ev["id"] in p.rx, 10)
                    xs.append(_ms(t, p.rx[ev["id"]][0]))
            finally:
                c.disconnect()
                c.loop_stop()
            res["paho_to_platform"] = _stats(xs)
        finally:
            p.close()
    return res


def _gpio(n: int) -> dict:
    from guardroom.emulators.site import EmulatedSite

    xs = []
    with EmulatedSite() as site:
        pin = site.points["panic_office"][1]
        for _ in range(n):          # press + release well inside the 50 ms debounce: glitches
            for fn in (site.gpio.press, site.gpio.release):
                t = time.monotonic_ns()
                fn(pin)
                xs.append(_ms(t, time.monotonic_ns()))
    return {"gpio_control_rtt": _stats(xs)}


def _daemon_path(n: int) -> dict:
    """The daemon in this process on the emulated site, its alarm path timed from inside: the
    daemon's own methods are wrapped (on the instance; the code under them is unchanged)."""
    from guardroom.daemon import Daemon
    from guardroom.emulators.site import EmulatedSite, _LoopThread

    from .e2e import _base_patch, _reset_building

    marks: dict[str, int] = {}
    zone_t: list[int] = []

    def wrap(obj, name, before=None, after=None, only_first=False, requires=""):
        fn = getattr(obj, name)

        def inner(*a, **kw):
            if requires and requires not in marks:
                return fn(*a, **kw)
            if before and (not only_first or before not in marks):
                marks[before] = time.monotonic_ns()
            out = fn(*a, **kw)
            if after and (not only_first or after not in marks):
                marks[after] = time.monotonic_ns()
            return out
        setattr(obj, name, inner)

    rows: dict[str, list[float]] = {}
    with EmulatedSite(patch=_base_patch, daemon=False) as site:
        lt = _LoopThread()
        d = Daemon(site.config, site.config_path)
        try:
            lt.run(d.start())
            site._connect_gpio(30)
            p = site.platform
            p.wait_until(lambda: p.status.get(site._status_key()) == "online", 30)
            pumps: list[int] = []
            pump_once = d._pump_once

            def pump():
                pumps.append(time.monotonic_ns())
                return pump_once()
            d._pump_once = pump
            wrap(d, "_save_state_fast", "state0", "state1", only_first=True)
            wrap(d.relay, "send", "pub0", "pub1", only_first=True, requires="state1")
            wrap(d.outbox, "append_many", "box0", "box1", only_first=True)
            one = d._apply_one

            def apply_one(dec, *a, **kw):
                if dec.kind == "zone" and dec.state == "active" and not zone_t:
                    zone_t.append(dec.t_ns)
                return one(dec, *a, **kw)
            d._apply_one = apply_one
            for i in range(n):
                last = max((e["seq"] for e in p.events), default=0)
                marks.clear()
                zone_t.clear()
                pumps.clear()
                t0 = time.monotonic_ns()
                site.press("panic_reception")
                ev = p.wait_for(lambda e: e.get("seq", 0) > last and e["kind"] == "alarm", 10)
                rx = p.rx[ev["id"]][0]
                deadline = zone_t[0]                  # the debounce deadline (engine time)
                marks["pump"] = max(t for t in pumps if t <= marks["box0"])
                end = time.monotonic() + 2
                while "pub1" not in marks and time.monotonic() < end:
                    time.sleep(0.001)    # the loop thread may still be inside publish_event
                for key, a, b in (
                        ("d_press_to_edge", t0, deadline - 50_000_000),
                        ("d_deadline_to_pump", deadline, marks["pump"]),
                        ("d_pump_to_outbox", marks["pump"], marks["box0"]),
                        ("d_outbox_append", marks["box0"], marks["box1"]),
                        ("d_outbox_to_state_save", marks["box1"], marks["state0"]),
                        ("d_state_save", marks["state0"], marks["state1"]),
                        ("d_state_save_to_send", marks["state1"], marks["pub0"]),
                        ("d_send", marks["pub0"], marks["pub1"]),
                        ("d_send_to_platform", marks["pub0"], rx),
                        ("d_total_minus_debounce", t0 + 50_000_000, rx)):
                    rows.setdefault(key, []).append(_ms(a, b))
                _reset_building(site, "panic_reception")   # release, reset, the 3120
        finally:
            lt.run(d.stop())
            lt.stop()
    return {k: _stats(v) for k, v in rows.items()}


def run(n: int, site: bool = True) -> dict:
    res = {"machine": _machine(), "n": n}
    res["wake_threadsafe"] = _stats(asyncio.run(_wake_threadsafe(n)))
    res["timer_lateness"] = _stats(asyncio.run(_timer_lateness(n)))
    res["timer_lateness_spin"] = _stats(asyncio.run(_timer_lateness_spin(n)))
    res["state_json_dumps"] = _stats(_snapshot_cost(n))
    d = tempfile.mkdtemp(prefix="guardroom-hops-")
    try:
        res.update(_storage(n, d))
        res.update(_mqtt(n, d))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if site:
        res.update(_gpio(n))
        res.update(_daemon_path(max(10, n // 5)))
    return res


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom bench hops", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="repeats per hop")
    ap.add_argument("--no-site", action="store_true", help="skip the GPIO control hop")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.n, not args.no_site)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'hop':24} {'median ms':>10} {'p99 ms':>10} {'n':>5}")
    for k, v in res.items():
        if isinstance(v, dict) and "median" in v:
            print(f"{k:24} {v['median']:>10.3f} {v['p99']:>10.3f} {v['n']:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
