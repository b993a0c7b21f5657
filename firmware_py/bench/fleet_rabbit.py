"""Fleet benchmark on a RabbitMQ cluster: the broker tier of a district, with one node killed.

    guardroom bench fleet --broker rabbitmq-cluster --controllers N [--nodes 3]
        [--scenarios steady,nodekill,after] [--kill-node 0] [--clean-sessions] [--json]

The bench starts ``--nodes`` RabbitMQ nodes on this machine (guardroom.emulators.rabbitmq: own
node names, ports and data dirs under a temp dir, MQTT plugin, clustered) and stops them at the
end, on failure and on Ctrl-C too. The controllers are the ones of ``guardroom bench fleet``
(real engine, outbox and relay in worker processes); each has ``[mqtt] hosts`` = every node's
MQTT port, its list starting at node ``i mod nodes``, so the fleet is spread over the nodes and
moves on when its node goes. RabbitMQ 3.10 speaks MQTT 3.1.1 only: the relay's ``auto`` mode
falls back to it. Controllers have persistent sessions (``session_expiry_s``) whose queues are
quorum queues (``mqtt.durable_queue_type = quorum``), so they can resume on another node;
``--clean-sessions`` shows what happens without (they cannot subscribe anywhere while their
node is down). ``after`` is steady traffic on the nodes left.

The platform reads over AMQP, not MQTT: quorum queues (replicated on every node) bound to
``amq.topic`` (where the MQTT plugin publishes, ``/`` becoming ``.``): ``platform.events``
(``guardroom.*.*.event``) and ``platform.status`` (status births and wills, state, a
last-value store per controller). K consumer processes compete on them, prefetch 200, each
message written to disk before its manual ack; alarms are acknowledged with a signed ack
published on ``amq.topic`` to the controller's ``ack`` topic. A consumer whose node dies moves
to the next node.

``nodekill``: traffic with alarms; a third of the way in node ``--kill-node`` is SIGKILLed (by
default node 0: it holds the quorum queues' leaders, a third of the controllers and consumer
0). Reported: the time until every controller is connected to a live node, the drain, lost
(made, never received), duplicates, the latency of the events of the moved controllers around
the kill (delayed), acks received for the alarms, and what the platform saw of the moved
controllers (wills: none can come from a dead node; births on the new node).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from typing import Optional

from .fleet import KEY_HEX, PREFIX, SITE, Fleet, _cpu_s, _pct, _rss_kib, analyse

Q_EVENTS = "platform.events"
Q_STATUS = "platform.status"
PREFETCH = 200
WARMUP_S = 10.0
SESSION_EXPIRY_S = 3600      # the controllers' [mqtt] session_expiry_s on the cluster


def declare(port: int) -> None:
    """The platform's quorum queues and their bindings on ``amq.topic`` (idempotent)."""
    import pika

    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    try:
        ch = conn.channel()
        for q, keys in ((Q_EVENTS, [f"{PREFIX}.*.*.event"]),
                        (Q_STATUS, [f"{PREFIX}.*.*.status", f"{PREFIX}.*.*.state"])):
            args = {"x-queue-type": "quorum"}
            if q == Q_STATUS:        # a last-value store needs them in order: one consumer
                args["x-single-active-consumer"] = True
            ch.queue_declare(q, durable=True, arguments=args)
            for k in keys:
                ch.queue_bind(q, "amq.topic", routing_key=k)
    finally:
        conn.close()


# ---------------------------------------------------------------------------- consumer process
def consumer_main(args) -> int:
    """One platform consumer over AMQP: competing on the quorum queues, every message written
    (os.write: survives SIGKILL) before its manual ack; an alarm gets a signed ack back on
    the controller's ack topic. On a lost connection: the next node."""
    import pika

    from guardroom.cmdauth import sign

    key = bytes.fromhex(KEY_HEX)
    ports = [int(p) for p in args.amqp.split(",")]
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sfd = os.open(args.out + ".status", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    cfd = os.open(args.out + ".conn", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def on_event(ch, method, props, body):
        t = time.monotonic_ns()
        try:
            ev = json.loads(body)
        except ValueError:
            ch.basic_ack(method.delivery_tag)
            return
        os.write(fd, (json.dumps([ev.get("id"), t]) + "\n").encode())
        if ev.get("kind") == "alarm" and ev.get("incident"):
            ack = sign({"incident": ev["incident"], "user": "fleet",
                        "sender": f"platform-{args.consumer}"}, key)
            ch.basic_publish("amq.topic", method.routing_key.rsplit(".", 1)[0] + ".ack",
                             json.dumps(ack).encode())
        ch.basic_ack(method.delivery_tag)

    def on_status(ch, method, props, body):
        parts = method.routing_key.split(".")
        os.write(sfd, (json.dumps([parts[-2], parts[-1], body[:200].decode(errors="replace"),
                                   time.monotonic_ns()]) + "\n").encode())
        ch.basic_ack(method.delivery_tag)

    attempt = 0
    while True:
        port = ports[(args.consumer + attempt) % len(ports)]
        try:
            conn = pika.BlockingConnection(pika.ConnectionParameters(
                "127.0.0.1", port, heartbeat=10, connection_attempts=1, socket_timeout=2))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=PREFETCH)
            ch.basic_consume(Q_EVENTS, on_event)
            ch.basic_consume(Q_STATUS, on_status)
            os.write(cfd, (json.dumps([port, time.monotonic_ns()]) + "\n").encode())
            ch.start_consuming()
        except (pika.exceptions.AMQPError, OSError):
            attempt += 1
            time.sleep(0.2)    # then the next node


# ---------------------------------------------------------------------------- coordinator
class RabbitFleet(Fleet):
    def __init__(self, n: int, procs: int, consumers: int, reconnect_max_s: float,
                 nodes: int, protocol: str, log, clean_sessions: bool = False):
        from guardroom.emulators.rabbitmq import RabbitCluster

        super().__init__(n, procs, consumers, reconnect_max_s, log)
        self.protocol = protocol
        # persistent controller sessions whose subscription queues are quorum queues
        # (replicated): a controller whose node dies resumes its session on another node.
        # A clean session's queue is a classic queue on the node it was made on, and while
        # that node is down no other node lets the controller subscribe again.
        self.session_expiry_s = 0 if clean_sessions else SESSION_EXPIRY_S
        self.cluster = RabbitCluster(nodes, workdir=os.path.join(self.dir, "rabbit"), log=log,
                                     mqtt_config={"mqtt.durable_queue_type": "quorum"})

    def start_broker(self) -> None:
        self.cluster.start()
        self.hosts = [f"127.0.0.1:{p}" for p in self.cluster.mqtt_ports]
        declare(self.cluster.amqp_ports[0])

    def start_consumer(self, k: int) -> None:
        self.consumers[k] = subprocess.Popen(
            [sys.executable, "-m", "guardroom.bench.fleet_rabbit", "--consumer", str(k),
             "--amqp", ",".join(str(p) for p in self.cluster.amqp_ports),
             "--out", os.path.join(self.dir, f"rx-{k}.jsonl")])

    def lines(self, suffix: str) -> list:
        out = []
        for k in range(self.k):
            try:
                with open(os.path.join(self.dir, f"rx-{k}.jsonl{suffix}")) as fh:
                    out += [json.loads(x) for x in fh if x.endswith("\n")]
            except OSError:
                pass
        return out

    def broker_cpu(self) -> dict:
        """CPU seconds of every running node, by pid (a killed node drops out)."""
        return {p: _cpu_s(p) for p in self.cluster.pids()}

    def broker_rss_kib(self) -> int:
        return sum(_rss_kib(p) for p in self.cluster.pids())

    def stop(self) -> None:
        try:
            for w in self.workers:
                if w.poll() is None:
                    w.kill()
                    w.wait()
            for p in self.consumers.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
        finally:
            self.cluster.stop()
            self.crashes = self.cluster.crash_reasons()
            for why, count in self.crashes.items():
                self.log(f"broker log: {count} x {why}")
            super().stop()


def _nodekill(fleet: RabbitFleet, victim: int, rate: float, seconds: float, log) -> dict:
    port = fleet.cluster.mqtt_ports[victim]
    on_victim = f"127.0.0.1:{port}/"
    st_a = fleet.status()
    fleet.send(op="traffic", rate=rate, seconds=seconds, panic=True, scenario="nodekill")
    time.sleep(seconds / 3)
    before = fleet.status()
    r: dict = {"killed_node": victim,
               "controllers_on_killed_node": sum(v for k, v in before["by_broker"].items()
                                                 if k.startswith(on_victim)),
               "by_broker_before": before["by_broker"]}
    t_kill = time.monotonic_ns()
    fleet.cluster.kill(victim)
    log(f"node {victim} killed")
    try:
        r["moved_s"] = round(fleet.wait(
            lambda s: s["connected"] == fleet.n and not any(k.startswith(on_victim)
                                                           for k in s["by_broker"]),
            120, "every controller on a live node"), 2)
    except RuntimeError as e:
        log(str(e))
        r["moved_s"] = None
    r["by_broker_after"] = fleet.status()["by_broker"]
    time.sleep(max(0.0, (t_kill / 1e9) + seconds * 2 / 3 - time.monotonic()))
    r["drain_s"] = fleet.drained(60)
    try:
        fleet.wait(lambda s: s["acks"] - st_a["acks"] >= s["panics"] - st_a["panics"], 30,
                   "acks of every alarm")
    except RuntimeError as e:
        log(str(e))
    st = fleet.status()
    r["alarms_raised"] = st["panics"] - st_a["panics"]
    r["acks"] = st["acks"] - st_a["acks"]
    r["t_kill_ns"] = t_kill
    r["t_done_ns"] = time.monotonic_ns()   # before the fleet stops (each stop says offline)
    return r


def _after_kill(r: dict, made: dict, rx: list, status: list, conns: list, nodes: int) -> dict:
    """What the kill did to the controllers that were on the killed node: the latency of their
    events made from 2 s before the kill to the end of the move, the platform's view."""
    t_kill, t_done, victim = r.pop("t_kill_ns"), r.pop("t_done_ns"), r["killed_node"]
    status = [x for x in status if x[3] < t_done]
    t_end = t_kill + int(((r["moved_s"] or 120) + 1) * 1e9)
    first: dict[str, int] = {}
    for eid, t in rx:
        first.setdefault(eid, t)

    def moved(ctl: str) -> bool:
        return int(ctl.rsplit("-", 1)[1]) % nodes == victim

    lat = [(first[e] - v[0]) / 1e6 for e, v in made.items()
           if moved(e.rsplit("-", 1)[0]) and t_kill - 2e9 <= v[0] <= t_end and e in first]
    others = [(first[e] - v[0]) / 1e6 for e, v in made.items()
              if not moved(e.rsplit("-", 1)[0]) and t_kill - 2e9 <= v[0] <= t_end
              and e in first]
    wills = {c for c, kind, body, t in status if kind == "status" and body == "offline"
             and t > t_kill and moved(c)}
    births = {}
    for c, kind, body, t in status:
        if kind == "status" and body == "online" and t > t_kill and moved(c):
            births.setdefault(c, (t - t_kill) / 1e6)
    r["moved_events_around_kill"] = {"count": len(lat), "p50_ms": _pct(lat, 0.5),
                                     "p99_ms": _pct(lat, 0.99), "max_ms": _pct(lat, 1.0)}
    r["other_events_around_kill"] = {"count": len(others), "p50_ms": _pct(others, 0.5),
                                     "p99_ms": _pct(others, 0.99), "max_ms": _pct(others, 1.0)}
    r["platform_saw_wills"] = len(wills)
    seqs: dict[str, list] = {}
    for c, kind, body, t in sorted(status, key=lambda x: x[3]):
        if kind == "status" and moved(c) and t > t_kill - 1e9:
            seqs.setdefault(c, []).append([body, round((t - t_kill) / 1e6, 1)])
    r["status_after_kill_sample"] = dict(sorted(seqs.items())[:3])
    r["platform_last_status_offline"] = sum(1 for v in seqs.values() if v[-1][0] != "online")
    b = sorted(births.values())
    r["platform_saw_births"] = len(b)
    r["births_after_kill_ms"] = {"p50": _pct(b, 0.5), "max": _pct(b, 1.0)}
    r["consumer_connections"] = len(conns)
    r["consumer_moves"] = sum(1 for _, t in conns if t > t_kill)
    return r


def run(n: int, procs: int, consumers: int, rate: float, seconds: float, scenarios: list[str],
        reconnect_max_s: float = 5.0, nodes: int = 3, kill_node: int = 0,
        protocol: str = "auto", log=lambda s: None, clean_sessions: bool = False,
        settle_s: float = WARMUP_S) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    old_term = signal.signal(signal.SIGTERM, _terminate)   # SIGTERM cleans up like Ctrl-C
    fleet = RabbitFleet(n, procs, consumers, reconnect_max_s, nodes, protocol, log,
                        clean_sessions)
    res: dict = {"broker": f"rabbitmq-cluster ({nodes} nodes)", "controllers": n,
                 "processes": procs, "consumer_processes": consumers,
                 "rate_per_controller": rate, "seconds": seconds, "protocol": protocol,
                 "session_expiry_s": fleet.session_expiry_s,
                 "reconnect_max_s": reconnect_max_s}
    try:
        t0 = time.monotonic()
        fleet.start()
        res["cluster_start_s"] = round(time.monotonic() - t0, 2)
        res["connect_all_s"] = round(fleet.wait(lambda s: s["connected"] == n, 300,
                                                "every controller connected"), 2)
        # the nodes are still busy making every controller's quorum session queue (3 Raft
        # members each) for a while after the last CONNACK: let them settle before measuring
        time.sleep(settle_s)
        res["settle_s"] = settle_s
        st0 = fleet.status()
        res["by_broker"] = st0["by_broker"]
        res["idle"] = {"worker_rss_kib_per_controller": round(st0["rss_kib"] / n, 1),
                       "broker_rss_kib_all_nodes": fleet.broker_rss_kib()}
        for sc in scenarios:
            log(f"scenario {sc}")
            st_a, b_a, t_a = fleet.status(), fleet.broker_cpu(), time.monotonic()
            if sc in ("steady", "after"):
                r: dict = {}
                fleet.send(op="traffic", rate=rate, seconds=seconds, panic=True, scenario=sc)
                time.sleep(seconds)
                r["drain_s"] = fleet.drained(60)
                fleet.send(op="reset", scenario="reset")
            else:
                r = _nodekill(fleet, kill_node, rate, seconds, log)
                fleet.send(op="reset", scenario="reset")
            st_b = fleet.status()
            span = time.monotonic() - t_a
            r["events_made"] = st_b["made"] - st_a["made"]
            r["events_per_s"] = round(r["events_made"] / span, 1)
            b_b = fleet.broker_cpu()    # the nodes alive at both ends
            r["broker_cpu_pct_live_nodes"] = round(sum(b_b[p] - b_a[p] for p in b_b
                                                       if p in b_a) / span * 100, 1)
            r["controllers_cpu_pct"] = round((st_b["cpu_s"] - st_a["cpu_s"]) / span * 100, 1)
            r["broker_rss_kib_all_nodes"] = fleet.broker_rss_kib()
            res[sc] = r
        fleet.drained(60)
        made, rx = fleet.finish()
        stats = analyse(made, rx, scenarios)
        for sc in scenarios:
            res[sc].update(stats.pop(sc))
        if "nodekill" in scenarios:
            _after_kill(res["nodekill"], made, rx, fleet.lines(".status"),
                        fleet.lines(".conn"), nodes)
        res.update(stats)
        got = {i for i, _ in rx}
        res["made_total"] = len(made)
        res["lost_total"] = sum(1 for e in made if e not in got)
        res["lost"] = sum(res[sc]["lost"] for sc in scenarios)
        res["lost_ids_sample"] = sorted(e for e in made if e not in got)[:20]
    finally:
        fleet.stop()
        signal.signal(signal.SIGTERM, old_term)
        res["broker_crash_reasons"] = getattr(fleet, "crashes", {})
    return res


def _terminate(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def report(res: dict, scenarios: list[str]) -> str:
    lines = [f"{res['controllers']} controllers on {res['broker']}, protocol {res['protocol']},"
             f" {res['consumer_processes']} AMQP consumers; cluster up in "
             f"{res['cluster_start_s']} s, all connected in {res['connect_all_s']} s"]
    for sc in scenarios:
        r = res[sc]
        lines.append(f"{sc:9} made {r['made']:>6} lost {r['lost']:>3}  "
                     f"p50/p99 {r['latency_ms']['p50']}/{r['latency_ms']['p99']} ms  alarms "
                     f"p50/p99 {r['alarm_latency_ms']['p50']}/{r['alarm_latency_ms']['p99']} ms"
                     f"  drain {r.get('drain_s')} s")
        if sc == "nodekill":
            m = r["moved_events_around_kill"]
            lines.append(f"          node {r['killed_node']} killed with "
                         f"{r['controllers_on_killed_node']} controllers: all on live nodes "
                         f"in {r['moved_s']} s; their events around the kill p50/p99/max "
                         f"{m['p50_ms']}/{m['p99_ms']}/{m['max_ms']} ms; acks "
                         f"{r['acks']}/{r['alarms_raised']}; wills seen "
                         f"{r['platform_saw_wills']}, births {r['platform_saw_births']}")
    lines.append(f"duplicates delivered {res['duplicates_delivered']}, after dedup 0, "
                 f"seq gaps {res['seq_gaps']}, lost {res['lost_total']}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="guardroom.bench.fleet_rabbit")
    ap.add_argument("--consumer", type=int, default=-1)
    ap.add_argument("--amqp", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    return consumer_main(args)


if __name__ == "__main__":
    sys.exit(main())
