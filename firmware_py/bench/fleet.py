"""Fleet benchmark: N controllers on one Mosquitto, a platform of K consumer processes.

    guardroom bench fleet --controllers N [--processes P] [--consumers K] [--rate R] [--json]

Each controller has the real engine (a panic and a technical zone), its own outbox (SQLite,
fsync thread) and the real relay with its own MQTT session (client id and topic root unique per
controller, status birth/will); several controllers share a worker process and its asyncio
loop. The platform is K consumer processes on one MQTT v5 shared subscription
(``$share/platform/<prefix>/+/+/event``), persistent sessions, each message written to disk
before its PUBACK; alarms are acknowledged with a signed ack. The coordinator (this process)
starts everything, plays the scenarios, and joins what was made with what was received:
dedupe by id, seq gaps per controller, latency (made -> received, both CLOCK_MONOTONIC).

Scenarios (``--scenarios``, in this order): ``steady`` (every controller emits ``--rate``
events/s for ``--seconds``, one panic each among them), ``wave`` (every controller raises a
panic within one second), ``restart`` (the broker is stopped and started again under steady
traffic; time until every controller is back and every outbox drained), ``consumers`` (every
consumer SIGKILLed and restarted under traffic with alarms; nothing lost, acks still arrive).
``lost`` per scenario counts events a controller made that no consumer received (0 expected).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

KEY_HEX = "6b" * 32          # the fleet's ack key (bench only)
PREFIX = "guardroom"
SITE = "district"
SHARE = "platform"


def ctl_name(i: int) -> str:
    return f"ctl-{i:05d}"


def _site(name: str) -> dict:
    inst = {"active_ms": 0, "restore_ms": 0, "pulses": 1, "pulse_window_ms": 0}
    base = {"profile": "inst", "invert": False, "silent": None, "groups": [],
            "offline_grace_s": 30, "offline_alarm": False, "watch_days": 0, "cid": None,
            "momentary": False, "area": "site"}
    return {"controller": name, "profiles": {"inst": inst},
            "areas": {"site": {"entry_delay_s": 30, "exit_delay_s": 20, "bell_cutoff_s": 600,
                               "fallback_s": 0, "swinger_limit": 0, "sirens": [],
                               "strobes": []}},
            "groups": {}, "sabotage": {"count": 0, "window_s": 60},
            "zones": [dict(base, name="panic", point=0, type="panic"),
                      dict(base, name="mains", point=1, type="technical", cid=301)],
            "outputs": {}}


# ---------------------------------------------------------------------------- worker process
class Controller:
    """One controller: engine + outbox + relay, driven by the worker's loop."""

    def __init__(self, name: str, cfg: dict, d: str, loop, made: dict):
        from guardroom.core import Engine
        from guardroom.outbox import Outbox
        from guardroom.relay import Relay

        self.name, self.made = name, made
        self.engine = Engine(_site(name))
        self.outbox = Outbox(os.path.join(d, f"{name}.sqlite"), controller=name)
        self.relay = Relay(cfg, name, SITE, self.outbox, loop, on_ack=self._ack)
        self.scenario = "start"
        self.trouble = 0
        self.alarm_open = False
        self.acks = 0
        self.panics = 0

    def _emit(self, decisions) -> None:
        from guardroom import events

        t = time.monotonic_ns()
        for d in decisions:
            if d.report:
                ev = self.relay.publish_event(events.from_decision(d))
                self.made[ev["id"]] = (t, self.scenario, d.kind)

    def toggle(self) -> None:
        self.trouble ^= 1
        t = time.monotonic_ns()
        self._emit(self.engine.feed(t, 1, self.trouble))

    def panic(self) -> None:
        if not self.alarm_open:
            t = time.monotonic_ns()
            self.alarm_open = True
            self.panics += 1
            self._emit(list(self.engine.feed(t, 0, 1)) + list(self.engine.feed(t, 0, 0)))

    def reset(self) -> None:
        if self.alarm_open:
            self.alarm_open = False
            self._emit(self.engine.command(time.monotonic_ns(), "reset", area="site",
                                           user="bench"))

    def _ack(self, msg: dict) -> None:
        self.acks += 1
        self._emit(self.engine.ack(time.monotonic_ns(), int(msg["incident"]),
                                   user=f"platform:{msg.get('user', '')}"))


def worker_main(args) -> int:
    import asyncio
    import logging

    logging.basicConfig(level=logging.ERROR)
    from guardroom.relay import MQTT_SCHEMA

    base = {"heartbeat_s": 10.0, "keepalive_s": 30, "cmd_hmac_key": KEY_HEX,
            "reconnect_max_s": args.reconnect_max_s, "protocol": args.protocol,
            "session_expiry_s": args.session_expiry_s}
    hosts = [h for h in args.hosts.split(",") if h]

    def config(i: int) -> dict:
        """Controller i's [mqtt]: one broker, or the cluster's nodes with its list starting at
        node i mod n (so the fleet is spread over the nodes)."""
        if not hosts:
            return MQTT_SCHEMA.validate(dict(base, host="127.0.0.1", port=args.port), "mqtt")
        k = i % len(hosts)
        return MQTT_SCHEMA.validate(dict(base, hosts=hosts[k:] + hosts[:k]), "mqtt")
    made: dict = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ctls = [Controller(ctl_name(i), config(i), args.dir, loop, made)
                for i in range(args.first, args.first + args.count)]
        for c in ctls:
            await c.relay.start()
        lines: asyncio.Queue = asyncio.Queue()

        def reader():
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")
        threading.Thread(target=reader, daemon=True).start()
        traffic: Optional[asyncio.Task] = None

        async def run_traffic(rate: float, seconds: float, panic: bool) -> None:
            # each controller: a toggle every 1/rate s (random phase); one panic somewhere
            end = loop.time() + seconds
            period = 1.0 / rate if rate > 0 else seconds
            due = [(loop.time() + random.random() * period, i) for i in range(len(ctls))]
            panics = {i: loop.time() + random.random() * seconds * 0.8 for i in range(len(ctls))} \
                if panic else {}
            while loop.time() < end:
                now = loop.time()
                for k, (when, i) in enumerate(due):
                    if when <= now:
                        ctls[i].toggle()
                        due[k] = (when + period, i)
                for i, when in list(panics.items()):
                    if when <= now:
                        ctls[i].panic()
                        del panics[i]
                nxt = min(min(w for w, _ in due), min(panics.values(), default=end), end)
                await asyncio.sleep(max(0.0, nxt - loop.time()))

        def status() -> dict:
            by: dict[str, int] = {}
            for c in ctls:
                st = c.relay.status()
                if st["connected"]:
                    key = f"{st['broker']}/{st['protocol']}"
                    by[key] = by.get(key, 0) + 1
            return {"controllers": len(ctls), "by_broker": by,
                    "connected": sum(1 for c in ctls if c.relay.status()["connected"]),
                    "depth": sum(c.outbox.depth() for c in ctls),
                    "attempts": sum(c.relay.counters["connect_attempts"] for c in ctls),
                    "acks": sum(c.acks for c in ctls), "made": len(made),
                    "panics": sum(c.panics for c in ctls),
                    "rss_kib": _rss_kib(os.getpid()), "cpu_s": _cpu_s(os.getpid())}

        while True:
            line = await lines.get()
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            for c in ctls:
                c.scenario = cmd.get("scenario", c.scenario)
            if op == "traffic":
                if traffic is not None and not traffic.done():
                    traffic.cancel()
                traffic = asyncio.create_task(run_traffic(cmd["rate"], cmd["seconds"],
                                                          cmd.get("panic", False)))
            elif op == "wave":
                for i in random.sample(range(len(ctls)), len(ctls)):
                    loop.call_later(random.random() * cmd["within"], ctls[i].panic)
            elif op == "reset":
                for c in ctls:
                    c.reset()
            elif op == "dump":           # before this process is killed on purpose
                with open(os.path.join(args.dir, f"made-{args.first}.json"), "w") as fh:
                    json.dump(made, fh)
            elif op == "finish":
                if traffic is not None:
                    traffic.cancel()
                with open(os.path.join(args.dir, f"made-{args.first}.json"), "w") as fh:
                    json.dump(made, fh)
                print(json.dumps(status()), flush=True)
                break
            print(json.dumps(status()), flush=True)
        for c in ctls:
            await c.relay.stop()
            c.outbox.close()

    asyncio.run(main())
    return 0


# ---------------------------------------------------------------------------- consumer process
def consumer_main(args) -> int:
    """One platform consumer: shared subscription, persistent session, each message appended
    to its file (os.write: survives SIGKILL) before paho sends the PUBACK; alarms acked."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from guardroom.cmdauth import sign

    key = bytes.fromhex(KEY_HEX)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-platform-{args.consumer}",
                    protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600

    def on_connect(cl, u, flags, rc, p):
        cl.subscribe(f"$share/{SHARE}/{PREFIX}/+/+/event", qos=1)

    def on_message(cl, u, msg):
        t = time.monotonic_ns()
        try:
            ev = json.loads(msg.payload)
        except ValueError:
            return
        os.write(fd, (json.dumps([ev.get("id"), t]) + "\n").encode())
        if ev.get("kind") == "alarm" and ev.get("incident"):
            root = msg.topic.rsplit("/", 1)[0]
            ack = sign({"incident": ev["incident"], "user": "fleet",
                        "sender": f"platform-{args.consumer}"}, key)
            cl.publish(root + "/ack", json.dumps(ack), qos=1)

    c.on_connect, c.on_message = on_connect, on_message
    c.max_inflight_messages_set(100)
    c.reconnect_delay_set(0.1, 2)
    c.connect("127.0.0.1", args.port, 30, clean_start=False, properties=props)
    signal.signal(signal.SIGTERM, lambda *a: c.disconnect())
    c.loop_forever(retry_first_connection=True)
    return 0


# ---------------------------------------------------------------------------- coordinator
def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _peak_connects(log_path: str, since: float) -> int:
    """Most CONNECTs the broker accepted in one second since ``since`` (its log's stamps)."""
    per: dict[int, int] = {}
    try:
        with open(log_path, errors="replace") as fh:
            for line in fh:
                if "New client connected" in line:
                    t = int(line.split(":", 1)[0])
                    if t >= int(since):
                        per[t] = per.get(t, 0) + 1
    except (OSError, ValueError):
        return -1
    return max(per.values(), default=0)


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 2) if s else 0.0


class Fleet:
    def __init__(self, n: int, procs: int, consumers: int, reconnect_max_s: float, log):
        from guardroom.emulators.broker import MosquittoBroker

        self.n, self.procs, self.k, self.log = n, procs, consumers, log
        self.dir = tempfile.mkdtemp(prefix="guardroom-fleet-")
        self.broker = MosquittoBroker(workdir=os.path.join(self.dir, "broker"))
        self.reconnect_max_s = reconnect_max_s
        self.protocol = "auto"
        self.session_expiry_s = 0                   # the controllers' [mqtt] session_expiry_s
        self.hosts: list[str] = []                  # a cluster's MQTT endpoints (host:port)
        self.workers: list[subprocess.Popen] = []
        self.ranges: list[tuple[int, int]] = []     # (first, count) of each worker
        self.dead: set[str] = set()                 # controllers of a killed worker
        self.consumers: dict[int, subprocess.Popen] = {}

    def start_broker(self) -> None:
        self.broker.start()

    def start(self) -> None:
        self.start_broker()
        for k in range(self.k):
            self.start_consumer(k)
        per = -(-self.n // self.procs)
        for first in range(0, self.n, per):
            count = min(per, self.n - first)
            self.ranges.append((first, count))
            self.workers.append(subprocess.Popen(
                [sys.executable, "-m", "guardroom.bench.fleet", "--worker", "--first",
                 str(first), "--count", str(count), "--port", str(self.broker.port),
                 "--dir", self.dir, "--reconnect-max-s", str(self.reconnect_max_s),
                 "--protocol", self.protocol, "--hosts", ",".join(self.hosts),
                 "--session-expiry-s", str(self.session_expiry_s)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1))

    def start_consumer(self, k: int) -> None:
        self.consumers[k] = subprocess.Popen(
            [sys.executable, "-m", "guardroom.bench.fleet", "--consumer", str(k), "--port",
             str(self.broker.port), "--out", os.path.join(self.dir, f"rx-{k}.jsonl")])

    def kill_consumers(self) -> None:
        for p in self.consumers.values():
            p.kill()
            p.wait()

    def send(self, **cmd) -> list[dict]:
        for w in self.workers:
            w.stdin.write(json.dumps(cmd) + "\n")
            w.stdin.flush()
        return [json.loads(w.stdout.readline()) for w in self.workers]

    def status(self) -> dict:
        sts = self.send(op="status")
        out = {k: sum(s[k] for s in sts) for k in ("controllers", "connected", "depth",
                                                    "attempts", "acks", "made", "rss_kib",
                                                    "panics")}
        out["cpu_s"] = round(sum(s["cpu_s"] for s in sts), 2)
        out["by_broker"] = {}
        for s in sts:
            for k, v in s.get("by_broker", {}).items():
                out["by_broker"][k] = out["by_broker"].get(k, 0) + v
        return out

    def received(self) -> int:
        """Distinct event ids the consumers have written so far."""
        ids = set()
        for k in range(self.k):
            try:
                with open(os.path.join(self.dir, f"rx-{k}.jsonl"), "rb") as fh:
                    for line in fh:
                        if line.endswith(b"\n"):
                            ids.add(line.split(b",", 1)[0])
            except OSError:
                pass
        return len(ids)

    def wait(self, cond, timeout: float, what: str) -> float:
        t0 = time.monotonic()
        while True:
            st = self.status()
            if cond(st):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"fleet: timed out waiting for {what}: {st}")
            time.sleep(0.2)   # the workers are other processes: status is polled

    def drained(self, timeout: float = 60) -> Optional[float]:
        """Every controller connected, every outbox empty, every made event received: the
        seconds it took, or None if that did not happen within ``timeout`` (the analysis then
        shows what is missing)."""
        try:
            return round(self.wait(lambda s: s["connected"] == self.n and s["depth"] == 0
                                   and self.received() >= s["made"], timeout, "drain"), 2)
        except RuntimeError as e:
            self.log(str(e))
            return None

    def finish(self) -> tuple[dict, list]:
        self.send(op="finish")
        for w in self.workers:
            w.wait(60)
        made: dict = {}
        for f in os.listdir(self.dir):
            if f.startswith("made-"):
                with open(os.path.join(self.dir, f)) as fh:
                    made.update(json.load(fh))
        rx = []
        for k in range(self.k):
            with open(os.path.join(self.dir, f"rx-{k}.jsonl")) as fh:
                rx += [json.loads(line) for line in fh if line.strip()]
        return made, rx

    def stop(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        for p in self.consumers.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.broker.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def _death(fleet: "Fleet", log) -> dict:
    """SIGKILL the last worker process: its controllers' last wills (``offline``, retained on
    ``status``) must reach a platform subscriber. The rest of the fleet goes on without it."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    first, count = fleet.ranges[-1]
    victims = {ctl_name(i) for i in range(first, first + count)}
    offline: dict[str, int] = {}
    armed = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(cl, u, msg):
        ctl = msg.topic.split("/")[-2]
        if armed.is_set() and msg.payload == b"offline" and ctl in victims:
            offline.setdefault(ctl, time.monotonic_ns())
    c.on_message = on_message
    c.on_connect = lambda cl, *a: cl.subscribe(f"{PREFIX}/+/+/status", 1)
    c.connect("127.0.0.1", fleet.broker.port)
    c.loop_start()
    try:
        time.sleep(1.0)                  # retained "online"s delivered first
        armed.set()
        t0 = time.monotonic_ns()
        w = fleet.workers.pop()
        fleet.ranges.pop()
        w.stdin.write(json.dumps({"op": "dump"}) + "\n")   # what it made, for the analysis
        w.stdin.flush()
        w.stdout.readline()
        w.kill()
        w.wait()
        deadline = time.monotonic() + 100
        while len(offline) < count and time.monotonic() < deadline:
            time.sleep(0.05)             # another process's wills: polled
        times = sorted((t - t0) / 1e6 for t in offline.values())
    finally:
        c.disconnect()
        c.loop_stop()
    fleet.n -= count
    fleet.dead.update(victims)
    return {"killed_controllers": count, "offline_seen": len(times),
            "offline_p50_ms": _pct(times, 0.5), "offline_all_ms": _pct(times, 1.0)}


def analyse(made: dict, rx: list, scenarios: list[str]) -> dict:
    first: dict[str, int] = {}
    dups = 0
    for eid, t in rx:
        if eid in first:
            dups += 1
        else:
            first[eid] = t
    per_ctl: dict[str, set] = {}
    for eid in first:
        ctl, _, seq = eid.rpartition("-")
        per_ctl.setdefault(ctl, set()).add(int(seq))
    gaps = sum((max(s) - len(s)) for s in per_ctl.values())
    out = {"duplicates_delivered": dups, "duplicates_after_dedup": 0,
           "seq_gaps": gaps, "unknown_received": sum(1 for e in first if e not in made)}
    for sc in scenarios:
        ids = [e for e, v in made.items() if v[1] == sc]
        got = [e for e in ids if e in first]
        lat = [(first[e] - made[e][0]) / 1e6 for e in got]
        alat = [(first[e] - made[e][0]) / 1e6 for e in got if made[e][2] == "alarm"]
        out[sc] = {"made": len(ids), "received": len(got), "lost": len(ids) - len(got),
                   "latency_ms": {"p50": _pct(lat, 0.5), "p99": _pct(lat, 0.99),
                                  "max": _pct(lat, 1.0)},
                   "alarms": len(alat),
                   "alarm_latency_ms": {"p50": _pct(alat, 0.5), "p99": _pct(alat, 0.99),
                                        "max": _pct(alat, 1.0)}}
    return out


def run(n: int, procs: int, consumers: int, rate: float, seconds: float, scenarios: list[str],
        reconnect_max_s: float = 5.0, outage_s: float = 3.0, log=lambda s: None) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # children inherit it
    fleet = Fleet(n, procs, consumers, reconnect_max_s, log)
    res: dict = {"controllers": n, "processes": procs, "consumer_processes": consumers,
                 "rate_per_controller": rate, "seconds": seconds}
    try:
        t0 = time.monotonic()
        fleet.start()
        res["connect_all_s"] = round(fleet.wait(lambda s: s["connected"] == n, 300,
                                                "every controller connected"), 2)
        res["start_s"] = round(time.monotonic() - t0, 2)
        fleet.drained()
        st0 = fleet.status()
        res["idle"] = {"worker_rss_kib_per_controller": round(st0["rss_kib"] / n, 1),
                       "broker_rss_kib": _rss_kib(fleet.broker.pid)}
        for sc in scenarios:
            log(f"scenario {sc}")
            st_a, b_a, t_a = fleet.status(), _cpu_s(fleet.broker.pid), time.monotonic()
            r: dict = {}
            if sc == "steady":
                fleet.send(op="traffic", rate=rate, seconds=seconds, panic=True, scenario=sc)
                time.sleep(seconds)
                r["drain_s"] = fleet.drained()
                fleet.send(op="reset", scenario="reset")
            elif sc == "wave":
                fleet.send(op="wave", within=1.0, scenario=sc)
                r["all_acked_s"] = round(fleet.wait(
                    lambda s: s["acks"] - st_a["acks"] >= n, 120, "every alarm acked"), 2)
                r["drain_s"] = fleet.drained()
                fleet.send(op="reset", scenario="reset")
            elif sc == "restart":
                fleet.send(op="traffic", rate=rate, seconds=seconds, scenario=sc)
                time.sleep(1.0)
                fleet.broker.stop()
                time.sleep(outage_s)
                a0 = fleet.status()["attempts"]
                wall0 = time.time()
                fleet.broker.start()
                tb = time.monotonic()
                fleet.wait(lambda s: s["connected"] == n, 300, "reconnect")
                r["all_back_s"] = round(time.monotonic() - tb, 2)
                r["attempts_during_outage"] = a0 - st_a["attempts"]
                r["peak_connects_per_s"] = _peak_connects(fleet.broker.log_path, wall0)
                r["outage_s"] = outage_s
                time.sleep(max(0.0, t_a + seconds - time.monotonic()))
                r["drain_s"] = fleet.drained()
            elif sc == "death":
                r.update(_death(fleet, log))
                n = fleet.n
            elif sc == "consumers":
                fleet.send(op="traffic", rate=rate, seconds=seconds, panic=True, scenario=sc)
                time.sleep(1.0)
                fleet.kill_consumers()
                time.sleep(outage_s)
                for k in range(consumers):
                    fleet.start_consumer(k)
                time.sleep(max(0.0, t_a + seconds - time.monotonic()))
                r["drain_s"] = fleet.drained()
                try:
                    fleet.wait(lambda s: s["acks"] - st_a["acks"] >= s["panics"] - st_a["panics"],
                               60, "acks of every alarm")
                except RuntimeError as e:
                    log(str(e))
                st = fleet.status()
                r["alarms_raised"] = st["panics"] - st_a["panics"]
                r["acks"] = st["acks"] - st_a["acks"]
                fleet.send(op="reset", scenario="reset")
            st_b = fleet.status()
            span = time.monotonic() - t_a
            if sc == "death":            # the killed worker's counters went with it
                res[sc] = r
                continue
            r["events_made"] = st_b["made"] - st_a["made"]
            r["events_per_s"] = round(r["events_made"] / span, 1)
            r["broker_cpu_pct"] = round((_cpu_s(fleet.broker.pid) - b_a) / span * 100, 1) \
                if sc != "restart" else None
            r["controllers_cpu_pct"] = round((st_b["cpu_s"] - st_a["cpu_s"]) / span * 100, 1)
            r["broker_rss_kib"] = _rss_kib(fleet.broker.pid)
            r["worker_rss_kib_per_controller"] = round(st_b["rss_kib"] / n, 1)
            res[sc] = r
        fleet.drained()
        made, rx = fleet.finish()
        stats = analyse(made, rx, scenarios)
        for sc in scenarios:
            res[sc].update(stats.pop(sc))
        other = {v[1] for v in made.values()} - set(scenarios)
        res["other_events"] = analyse(made, rx, sorted(other))   # resets, acks between
        for sc in sorted(other):
            res["other_events"][sc] = {k: res["other_events"][sc][k]
                                       for k in ("made", "received", "lost")}
            res["other_events"] = {k: v for k, v in res["other_events"].items() if k in other}
        res.update(stats)
        res["lost"] = sum(res[sc]["lost"] for sc in scenarios)
        res["made_total"] = len(made)
        got = {i for i, _ in rx}
        res["lost_total"] = sum(1 for e in made if e not in got)
        res["lost_ids_sample"] = sorted(e for e in made if e not in got)[:20]
    finally:
        fleet.stop()
    return res


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom bench fleet",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--controllers", type=int, default=100)
    ap.add_argument("--processes", type=int, default=0, help="worker processes (0: 100 "
                    "controllers each, at least 2; paho's select() cannot watch a socket "
                    "numbered above 1023, and each controller holds ~6 descriptors)")
    ap.add_argument("--consumers", type=int, default=2, help="platform consumer processes")
    ap.add_argument("--rate", type=float, default=0.2, help="events/s per controller")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the traffic phases")
    ap.add_argument("--outage-s", type=float, default=3.0, help="broker/consumer outage")
    ap.add_argument("--reconnect-max-s", type=float, default=5.0,
                    help="the controllers' [mqtt] reconnect_max_s")
    ap.add_argument("--scenarios", default="",
                    help="comma list of steady, wave, restart, consumers, death (death kills "
                         "a worker process: put it last); default steady,wave,restart,"
                         "consumers. With --broker rabbitmq-cluster: steady, nodekill, after "
                         "(steady traffic on the nodes left; default all three)")
    ap.add_argument("--kill-node", type=int, default=0, help="rabbitmq-cluster: the node "
                    "killed in nodekill (0 holds the quorum queues' leaders)")
    ap.add_argument("--protocol", choices=("auto", "v5", "v311"), default="auto",
                    help="the controllers' [mqtt] protocol")
    ap.add_argument("--broker", choices=("mosquitto", "rabbitmq-cluster"), default="mosquitto",
                    help="mosquitto: one broker, MQTT 5 shared subscriptions; rabbitmq-cluster: "
                         "three RabbitMQ nodes (MQTT 3.1.1), AMQP consumers on a quorum queue, "
                         "one node killed (scenarios steady,nodekill; see "
                         "guardroom.bench.fleet_rabbit)")
    ap.add_argument("--nodes", type=int, default=3, help="rabbitmq-cluster: nodes")
    ap.add_argument("--settle-s", type=float, default=10.0,
                    help="rabbitmq-cluster: idle time after every controller connected, before "
                         "measuring (the nodes are still making the session queues)")
    ap.add_argument("--clean-sessions", action="store_true",
                    help="rabbitmq-cluster: controllers on clean sessions (session_expiry_s 0) "
                         "instead of persistent ones on quorum queues: shows what a node death "
                         "does to them")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    # internal: the worker and consumer processes
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--consumer", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--hosts", default="", help=argparse.SUPPRESS)
    ap.add_argument("--session-expiry-s", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if args.consumer >= 0:
        return consumer_main(args)
    procs = args.processes or max(2, -(-args.controllers // 100))
    rabbit = args.broker == "rabbitmq-cluster"
    scen = [s for s in (args.scenarios or ("steady,nodekill,after" if rabbit else
                                            "steady,wave,restart,consumers")).split(",") if s]
    bad = set(scen) - ({"steady", "nodekill", "after"} if rabbit else
                       {"steady", "wave", "restart", "consumers", "death"})
    if bad:
        ap.error(f"unknown scenario(s) for {args.broker}: {', '.join(sorted(bad))}")
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else (lambda s: None)
    if rabbit:
        from . import fleet_rabbit
        from ..emulators.rabbitmq import available

        if available():
            ap.error(available())
        if not 0 <= args.kill_node < args.nodes or args.nodes < 1:
            ap.error("--kill-node must name one of the --nodes")
        res = fleet_rabbit.run(args.controllers, procs, args.consumers, args.rate,
                               args.seconds, scen, args.reconnect_max_s, args.nodes,
                               args.kill_node, args.protocol, log,
                               clean_sessions=args.clean_sessions, settle_s=args.settle_s)
        print(json.dumps(res, indent=2) if args.json else fleet_rabbit.report(res, scen))
        return 0 if res["lost_total"] == 0 and res["seq_gaps"] == 0 else 1
    res = run(args.controllers, procs, args.consumers, args.rate, args.seconds, scen,
              args.reconnect_max_s, args.outage_s, log)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{res['controllers']} controllers in {res['processes']} processes, "
              f"{res['consumer_processes']} consumers; all connected in {res['connect_all_s']} s")
        for sc in scen:
            r = res[sc]
            print(f"{sc:10} made {r['made']:>7} lost {r['lost']:>3}  {r['events_per_s']:>7} ev/s"
                  f"  p50/p99 {r['latency_ms']['p50']}/{r['latency_ms']['p99']} ms"
                  f"  alarms p50/p99 {r['alarm_latency_ms']['p50']}/"
                  f"{r['alarm_latency_ms']['p99']} ms  drain {r.get('drain_s')} s")
        print(f"duplicates delivered {res['duplicates_delivered']}, after dedup 0, "
              f"seq gaps {res['seq_gaps']}, lost {res['lost']}")
    return 0 if res["lost_total"] == 0 and res["seq_gaps"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
