"""Fleet-scale behaviour of one controller's uplink: a list of brokers tried in turn (outbox
order kept), the jittered capped reconnect backoff, and `guardroom bench fleet` on a small
fleet (every scenario, nothing lost)."""
import asyncio
import json
import random
import subprocess
import sys

import pytest

from guardroom.emulators.broker import MosquittoBroker, free_port
from guardroom.errors import ConfigError
from guardroom.outbox import Outbox
from guardroom.relay import MQTT_SCHEMA, Relay
from guardroom.relay.client import backoff_s, endpoints

from .conftest import event, run, until


def test_hosts_config():
    cfg = MQTT_SCHEMA.validate({"hosts": ["a", "b:1884", "[::1]:1885"], "port": 1999}, "mqtt")
    assert endpoints(cfg, 1883) == [("a", 1999), ("b", 1884), ("::1", 1885)]
    assert endpoints(MQTT_SCHEMA.validate({"host": "h"}, "mqtt"), 1883) == [("h", 1883)]
    for raw, why in (({}, "give host"), ({"host": "a", "hosts": ["b"]}, "not both"),
                     ({"hosts": ["a b"]}, "does not match"), ({"hosts": ["a:70000"]}, "range"),
                     ({"hosts": ["a", "a"]}, "duplicate")):
        with pytest.raises(ConfigError, match=why):
            MQTT_SCHEMA.validate(raw, "mqtt")


def test_backoff_is_jittered_and_capped():
    rnd = random.Random(7).random
    for attempt, top in ((0, 0.25), (1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (40, 3.0)):
        xs = [backoff_s(attempt, 3.0, rnd) for _ in range(400)]
        assert 0 <= min(xs) and max(xs) <= top
        assert max(xs) > 0.8 * top and min(xs) < 0.2 * top          # spread, not a step
    # the old fixed steps (0.5, 1, 2 s) sent a whole fleet back at the same instant
    assert len({round(backoff_s(3, 2.0), 6) for _ in range(50)}) > 40


def test_moves_to_the_next_broker_and_keeps_the_outbox_order(tmp_path, broker, platform):
    dead = free_port()                      # nobody listens here
    box = Outbox(str(tmp_path / "multi.sqlite"), controller="multi")

    async def body():
        cfg = MQTT_SCHEMA.validate({"hosts": [f"127.0.0.1:{dead}",
                                              f"127.0.0.1:{broker.port}"],
                                    "heartbeat_s": 1.0}, "mqtt")
        r = Relay(cfg, "multi", "bank", box, asyncio.get_running_loop())
        for i in range(30):                 # made before any broker answered
            r.publish_event(event(i))
        await r.start()
        try:
            await until(lambda: box.depth() == 0, timeout=20, what="delivered via 2nd broker")
            assert r.status()["broker"] == f"127.0.0.1:{broker.port}"
            assert r.counters["connect_attempts"] >= 2
            for i in range(30, 40):
                r.publish_event(event(i))
            evs = await asyncio.to_thread(platform.wait_count, 40, 15, "multi")
            assert [e["seq"] for e in evs] == list(range(1, 41))
        finally:
            await r.stop()
    run(body())
    box.close()


def test_fleet_bench_small_fleet_loses_nothing():
    r = subprocess.run([sys.executable, "-m", "guardroom", "bench", "fleet", "--controllers", "6",
                        "--processes", "2", "--consumers", "2", "--rate", "2", "--seconds", "2",
                        "--outage-s", "1.5", "--reconnect-max-s", "1", "--json",
                        "--scenarios", "steady,wave,restart,consumers,death"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["lost_total"] == 0 and res["seq_gaps"] == 0 and res["lost"] == 0
    for sc in ("steady", "wave", "restart", "consumers"):
        assert res[sc]["made"] > 0 and res[sc]["lost"] == 0, (sc, res[sc])
    assert res["wave"]["alarms"] == 6 and res["wave"]["all_acked_s"] < 60
    c = res["consumers"]
    assert c["alarms_raised"] == 6 and c["acks"] >= c["alarms_raised"]   # acks still arrive
    assert res["restart"]["all_back_s"] < 30
    d = res["death"]                              # a worker SIGKILLed: every will published
    assert d["killed_controllers"] == 3 and d["offline_seen"] == 3


def test_event_that_reached_no_subscriber_stays_and_is_sent_again(tmp_path):
    # MQTT v5: Mosquitto PUBACKs with "No matching subscribers" (0x10) when nobody
    # subscribes, e.g. right after a broker restart that lost the platform's shared
    # subscription. PUBACK means routed, not received: the event must not leave the outbox.
    from guardroom.emulators.platform import Platform

    with MosquittoBroker() as b:
        box = Outbox(str(tmp_path / "nosub.sqlite"), controller="nosub")

        async def body():
            cfg = MQTT_SCHEMA.validate({"host": "127.0.0.1", "port": b.port}, "mqtt")
            r = Relay(cfg, "nosub", "bank", box, asyncio.get_running_loop())
            await r.start()
            try:
                await until(lambda: r.status()["connected"], what="connected")
                r.publish_event(event(1))
                await until(lambda: r.counters["events_unrouted"] >= 1, what="unrouted")
                assert box.depth() == 1                  # kept: nobody has it
                p = await asyncio.to_thread(Platform, "127.0.0.1", b.port, out=None)
                try:
                    evs = await asyncio.to_thread(p.wait_count, 1, 10, "nosub")
                    assert evs[0]["id"] == "nosub-1"
                    await until(lambda: box.depth() == 0, what="removed once routed")
                finally:
                    p.close()
            finally:
                await r.stop()
        run(body())
        box.close()


class _DropAfterConnack:
    """A broker at the wire that accepts a 3.1.1 CONNECT and closes the connection at the
    client's next packet (its SUBSCRIBE): what a RabbitMQ node does to a clean session whose
    subscription queue lives on a dead node."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.sessions = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    if conn.recv(4096)[:1] == b"\x10":         # CONNECT
                        conn.sendall(b"\x20\x02\x00\x00")         # CONNACK, accepted
                        self.sessions += 1
                        conn.recv(4096)                           # SUBSCRIBE: closed
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_session_closed_before_its_suback_moves_to_the_next_broker(tmp_path, broker, platform):
    # Old code: a CONNACKed session counted as a success however short, so the controller
    # reconnected to the same endpoint in a tight loop and never tried the next one.
    drop = _DropAfterConnack()
    box = Outbox(str(tmp_path / "drop.sqlite"), controller="drop")

    async def body():
        cfg = MQTT_SCHEMA.validate({"hosts": [f"127.0.0.1:{drop.port}",
                                              f"127.0.0.1:{broker.port}"],
                                    "protocol": "v311", "heartbeat_s": 1.0}, "mqtt")
        r = Relay(cfg, "drop", "bank", box, asyncio.get_running_loop())
        for i in range(10):
            r.publish_event(event(i))
        await r.start()
        try:
            await until(lambda: box.depth() == 0, timeout=20, what="delivered via 2nd broker")
            assert r.status()["broker"] == f"127.0.0.1:{broker.port}"
            assert drop.sessions >= 1
            evs = await asyncio.to_thread(platform.wait_count, 10, 15, "drop")
            assert [e["seq"] for e in evs] == list(range(1, 11))
        finally:
            await r.stop()
    try:
        run(body())
    finally:
        drop.close()
        box.close()


@pytest.mark.parametrize("protocol", ["v5", "v311"])
def test_persistent_session_gets_the_ack_sent_while_it_was_away(tmp_path, broker, platform,
                                                               protocol):
    # session_expiry_s > 0: the broker keeps the controller's subscriptions, so an ack the
    # platform sends while the controller is away (or moving to another node) reaches it.
    # With a clean session (the default) the same ack is dropped by the broker.
    from guardroom.cmdauth import sign

    key = "5a" * 32
    got: dict = {}

    async def session(expiry: int, name: str) -> list:
        box = Outbox(str(tmp_path / f"{name}.sqlite"), controller=name)
        cfg = MQTT_SCHEMA.validate({"host": "127.0.0.1", "port": broker.port,
                                    "protocol": protocol, "session_expiry_s": expiry,
                                    "cmd_hmac_key": key, "heartbeat_s": 1.0}, "mqtt")
        acks: list = []
        loop = asyncio.get_running_loop()
        r = Relay(cfg, name, "bank", box, loop, on_ack=acks.append)
        await r.start()
        await until(lambda: r.status()["connected"] and platform.status.get(f"bank/{name}")
                    == "online", timeout=15, what="online")
        await r.stop()
        await asyncio.to_thread(platform.wait_status, name, "offline", 10)
        ack = sign({"incident": 7, "user": "op", "sender": "platform"}, bytes.fromhex(key))
        info = platform.client.publish(f"guardroom/bank/{name}/ack", json.dumps(ack), qos=1)
        await asyncio.to_thread(info.wait_for_publish, 5)
        r = Relay(cfg, name, "bank", box, loop, on_ack=acks.append)
        await r.start()
        try:
            await until(lambda: platform.status.get(f"bank/{name}") == "online", timeout=15,
                        what="back online")
            if expiry:
                await until(lambda: acks, timeout=10, what="the ack kept by the broker")
            else:
                await asyncio.sleep(1.0)   # an absence: nothing to wait for
        finally:
            await r.stop()
            box.close()
        return acks

    async def body():
        got["persistent"] = await session(600, f"pers{protocol}")
        got["clean"] = await session(0, f"clean{protocol}")
    run(body())
    assert [a["incident"] for a in got["persistent"]] == [7]
    assert got["clean"] == []


def test_session_expiry_config():
    assert MQTT_SCHEMA.validate({"host": "h"}, "mqtt")["session_expiry_s"] == 0
    with pytest.raises(ConfigError):
        MQTT_SCHEMA.validate({"host": "h", "session_expiry_s": -1}, "mqtt")
