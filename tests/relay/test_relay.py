"""The relay in this process against a real Mosquitto: fields, retained state and status,
outage and replay in order, uplink supervision, acks and commands, Home Assistant discovery."""
import asyncio
import json
import threading
import time
from contextlib import asynccontextmanager

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from guardroom.cmdauth import sign
from guardroom.emulators.platform import Platform
from guardroom.outbox import Outbox
from guardroom.relay import Relay

from .conftest import event, mqtt_cfg, run, until

KEY_HEX = "5a" * 32


class Calls:
    def __init__(self):
        self.acks, self.cmds, self.uplink = [], [], []
        self.threads = set()

    def ack(self, m):
        self.threads.add(threading.get_ident())
        self.acks.append(m)

    def cmd(self, m):
        self.threads.add(threading.get_ident())
        self.cmds.append(m)

    def up(self, u):
        self.threads.add(threading.get_ident())
        self.uplink.append(u)


@asynccontextmanager
async def relay_on(port, tmp_path, controller="ctl", site="bank", check_code=None, **cfg):
    box = Outbox(str(tmp_path / f"{controller}.sqlite"), controller=controller)
    calls = Calls()
    cfg.setdefault("cmd_hmac_key", KEY_HEX)       # acks are signed with the platform's key
    r = Relay(mqtt_cfg(port, **cfg), controller, site, box, asyncio.get_running_loop(),
              on_ack=calls.ack, on_cmd=calls.cmd, on_uplink=calls.up, check_code=check_code)
    await r.start()
    try:
        yield r, calls
    finally:
        await r.stop()
        box.close()


def retained(port, topic, timeout=5.0):
    """What a brand-new subscriber gets on a topic (retained), or None."""
    got = {}
    ev = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_connect(cl, u, f, rc, p):
        cl.subscribe(topic, 1)

    def on_message(cl, u, msg):
        got["payload"] = msg.payload
        got["retain"] = msg.retain
        ev.set()

    c.on_connect, c.on_message = on_connect, on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    ev.wait(timeout)
    c.disconnect()
    c.loop_stop()
    return got or None


def test_events_arrive_with_every_field_and_state_is_retained(broker, platform, tmp_path):
    async def body():
        async with relay_on(broker.port, tmp_path, controller="fields") as (r, calls):
            loop_thread = threading.get_ident()
            sent = [r.publish_event(event(i)) for i in range(1, 4)]
            assert [s["id"] for s in sent] == ["fields-1", "fields-2", "fields-3"]
            rtt = await r.wait_delivered(sent[-1]["seq"], 10)
            assert rtt >= 0
            r.publish_state({"areas": {"bank": {"state": "armed_away"}}, "zones": {}})
            evs = await asyncio.to_thread(platform.wait_count, 3, 10, "fields")
            assert evs[0] == {**event(1), "seq": 1, "id": "fields-1",
                              "_controller": "fields", "_site": "bank"}
            await until(lambda: calls.uplink == [True], what="uplink up")
            # alarms with an incident were acknowledged by the platform -> on_ack, in the loop
            await until(lambda: len(calls.acks) == 3, what="acks")
            assert {k: calls.acks[0][k] for k in ("incident", "user")} == \
                {"incident": 1, "user": "platform-operator"}
            assert calls.threads == {loop_thread}
            st = r.status()
            assert st["connected"] and st["uplink"] is True and st["protocol"] == "v5"
            assert st["events_acked"] == 3 and st["outbox_depth"] == 0
            assert st["last_platform_ack"] is not None
            await until(lambda: r.outbox.depth() == 0, what="outbox drained")
            # publish_state only hands the message to paho: a subscriber that subscribes before
            # the broker has it gets the live copy (retain flag clear). Once the platform has
            # received it, the broker has processed (and stored) it.
            await asyncio.to_thread(platform.wait_until,
                                    lambda: platform.states.get("bank/fields"), 10)
            got = await asyncio.to_thread(retained, broker.port, "guardroom/bank/fields/state")
            assert got["retain"] and json.loads(got["payload"])["areas"]["bank"]["state"] == \
                "armed_away"
            got = await asyncio.to_thread(retained, broker.port, "guardroom/bank/fields/status")
            assert got["payload"] == b"online"
        got = await asyncio.to_thread(retained, broker.port, "guardroom/bank/fields/status")
        assert got["payload"] == b"offline"                   # clean stop
    run(body())


def test_outage_then_replay_in_order_once_and_uplink_supervision(broker, platform, tmp_path):
    async def body():
        async with relay_on(broker.port, tmp_path, controller="outage",
                            heartbeat_s=1.0) as (r, calls):
            for i in range(20):
                r.publish_event(event(i))
            await until(lambda: r.outbox.depth() == 0, what="first 20 delivered")
            await until(lambda: calls.uplink == [True])
            t_stop = time.monotonic()
            await asyncio.to_thread(broker.stop)
            for i in range(20, 120):                          # during the outage
                r.publish_event(event(i))
                if i % 10 == 0:
                    await asyncio.sleep(0.05)
            await until(lambda: calls.uplink == [True, False], timeout=10, what="uplink down")
            down_after = time.monotonic() - t_stop
            assert down_after >= 0.9                           # not before heartbeat_s
            assert r.status()["connected"] is False and r.outbox.depth() == 100
            await asyncio.to_thread(broker.start)
            await until(lambda: calls.uplink == [True, False, True], timeout=15,
                        what="uplink up again")
            await until(lambda: r.outbox.depth() == 0, timeout=15, what="backlog drained")
            r.publish_event(event(120))
            evs = await asyncio.to_thread(platform.wait_count, 121, 15, "outage")
            assert [e["seq"] for e in evs] == list(range(1, 122))
            # (duplicates are allowed: the platform's own session may get a QoS 1 message twice
            # across the broker restart; it deduplicates by id)
            assert not platform.gaps and not platform.out_of_order
            assert r.status()["reconnects"] == 1
    run(body())


def test_silent_broker_is_declared_down_by_heartbeat(broker, tmp_path):
    """A broker that stops answering without closing the TCP connection (SIGSTOP): the idle
    probe gets no PUBACK, the uplink goes down within about heartbeat_s; SIGCONT brings it
    back without a reconnect."""
    import signal

    async def body():
        async with relay_on(broker.port, tmp_path, controller="silent",
                            heartbeat_s=1.0, keepalive_s=30) as (r, calls):
            await until(lambda: calls.uplink == [True])
            # Freeze an idle link: "online" (published at the SUBACK) may still wait for its
            # PUBACK, and a frozen broker would then be found by that message, not by a
            # probe. A probe is only sent once nothing is outstanding.
            await until(lambda: r.counters["probes"] >= 1, what="the idle link probed")
            broker.proc.send_signal(signal.SIGSTOP)
            try:
                t0 = time.monotonic()
                await until(lambda: calls.uplink == [True, False], timeout=10,
                            what="down while the broker is frozen")
                assert time.monotonic() - t0 < 5
                assert r.status()["connected"] is True        # TCP is still there
            finally:
                broker.proc.send_signal(signal.SIGCONT)
            await until(lambda: calls.uplink == [True, False, True], timeout=10)
            assert r.status()["reconnects"] == 0
    run(body())


def test_commands_forged_stale_replayed_are_refused(broker, tmp_path):
    key = bytes.fromhex(KEY_HEX)
    plat = Platform("127.0.0.1", broker.port, hmac_key=key, out=None)

    async def body():
        async with relay_on(broker.port, tmp_path, controller="cmds", cmd_hmac_key=KEY_HEX,
                            check_code=lambda c: "alice" if c == "1234" else None) \
                as (r, calls):
            await until(lambda: calls.uplink == [True])
            await asyncio.to_thread(plat.wait_status, "cmds", "online", 10)

            async def result_for(msg):
                return await asyncio.to_thread(
                    plat.wait_result, lambda x: x.get("nonce") == msg["nonce"], 10)

            ok = plat.send_cmd("cmds", "arm_away", area="bank", signed=True)
            await until(lambda: len(calls.cmds) == 1, what="signed command")
            assert calls.cmds[0]["user"] == "platform:hmac"
            assert calls.cmds[0]["nonce"] == ok["nonce"] and "sig" not in calls.cmds[0]
            plat.send_cmd("cmds", "disarm", area="bank", code="1234")
            await until(lambda: len(calls.cmds) == 2, what="code command")
            assert calls.cmds[1]["user"] == "alice" and "code" not in calls.cmds[1]

            forged = sign({"cmd": "disarm", "area": "bank"}, b"not the key" * 3)
            plat.send_cmd("cmds", "", raw=json.dumps(forged).encode())
            assert (await result_for(forged))["reason"] == "bad signature"
            stale = plat.send_cmd("cmds", "disarm", area="bank", signed=True,
                                  ts=int(time.time() * 1000) - 120_000)
            assert (await result_for(stale))["reason"] == "stale"
            plat.send_cmd("cmds", "", raw=json.dumps(ok).encode())      # replay
            res = await asyncio.to_thread(
                plat.wait_result, lambda x: x.get("nonce") == ok["nonce"], 10)
            assert res["reason"] == "replayed" and res["ok"] is False
            wrong = plat.send_cmd("cmds", "disarm", area="bank", code="0000")
            assert (await result_for(wrong))["reason"] == "wrong code"
            plat.send_cmd("cmds", "", raw=b"\xff garbage")
            await asyncio.to_thread(plat.wait_until,
                                    lambda: any(x.get("reason") == "malformed"
                                                for x in plat.results), 10)
            assert len(calls.cmds) == 2                      # none of those reached on_cmd
            assert r.status()["cmds_refused"] == 5
            r.publish_cmd_result({"cmd": "arm_away", "nonce": ok["nonce"], "ok": True})
            await asyncio.to_thread(plat.wait_result, lambda x: x.get("ok") is True, 10)
    try:
        run(body())
    finally:
        plat.close()


def test_unsigned_or_malformed_ack_is_refused_and_counted(broker, platform, tmp_path):
    async def body():
        async with relay_on(broker.port, tmp_path, controller="acks") as (r, calls):
            await until(lambda: calls.uplink == [True])
            await asyncio.to_thread(platform.wait_status, "acks", "online", 10)
            topic = "guardroom/bank/acks/ack"
            platform.client.publish(topic, b"{not json", qos=1)
            platform.client.publish(topic, json.dumps({"incident": "7"}), qos=1)
            platform.client.publish(topic, json.dumps({"incident": 7, "user": "op"}), qos=1)
            platform.client.publish(topic, json.dumps(sign({"incident": 7, "user": "op"},
                                                           bytes.fromhex(KEY_HEX))), qos=1)
            await until(lambda: calls.acks)
            assert [(a["incident"], a["user"]) for a in calls.acks] == [(7, "op")]
            assert r.counters["acks_refused"] == 3
    run(body())


def test_status_never_shows_the_password(broker, tmp_path):
    async def body():
        box = Outbox(str(tmp_path / "o.sqlite"))
        r = Relay(mqtt_cfg(broker.port, username="u", password="hunter2-secret"), "pw", "bank",
                  box, asyncio.get_running_loop())
        st = r.status()
        assert "hunter2-secret" not in json.dumps(st)
        box.close()
    run(body())


def test_protocol_v311(broker, platform, tmp_path):
    async def body():
        async with relay_on(broker.port, tmp_path, controller="old",
                            protocol="v311") as (r, calls):
            ev = r.publish_event(event(1))
            await r.wait_delivered(ev["seq"], 10)
            assert r.status()["protocol"] == "v311"
            await asyncio.to_thread(platform.wait_count, 1, 10, "old")
            await until(lambda: calls.acks, what="ack over 3.1.1")
    run(body())


def test_wait_delivered_times_out_while_offline(tmp_path):
    from guardroom.emulators.broker import free_port

    async def body():
        async with relay_on(free_port(), tmp_path, controller="lonely") as (r, calls):
            ev = r.publish_event(event(1))
            try:
                await r.wait_delivered(ev["seq"], 0.3)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("delivered without a broker")
            assert "refused" in r.status()["last_error"]
            await until(lambda: calls.uplink == [False], timeout=5)
    run(body())


def test_home_assistant_discovery(broker, tmp_path):
    got = {}
    lock = threading.Lock()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    ready = threading.Event()

    def on_message(cl, u, msg):
        with lock:
            got.setdefault(msg.topic, []).append(msg.payload)

    c.on_message = on_message
    c.on_subscribe = lambda *a: ready.set()
    c.on_connect = lambda cl, *a: cl.subscribe("homeassistant/+/+/+/config", 1)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert ready.wait(10)

    async def body():
        async with relay_on(broker.port, tmp_path, controller="ha-1",
                            hass_discovery=True) as (r, calls):
            r.set_discovery(["bank"], [{"name": "teller1", "type": "panic", "area": "bank"},
                                       {"name": "door", "type": "entry_exit", "area": "bank"}])
            panel = "homeassistant/alarm_control_panel/ha-1/bank/config"
            zone = "homeassistant/binary_sensor/ha-1/teller1/config"
            await until(lambda: panel in got and zone in got and len(got) == 5)
            cfg = json.loads(got[panel][0])
            assert cfg["availability_topic"] == "guardroom/bank/ha-1/status"
            assert cfg["command_topic"] == "guardroom/bank/ha-1/cmd"
            assert cfg["code"] == "REMOTE_CODE"
            assert json.loads(got[zone][0])["device_class"] == "safety"
            c.publish("homeassistant/status", "online", qos=1)        # HA restarted
            await until(lambda: len(got[panel]) == 2, what="re-announce")
    try:
        run(body())
    finally:
        c.disconnect()
        c.loop_stop()


def test_paho_runs_in_the_loop_and_a_publish_is_written_within_the_call(broker, platform,
                                                                          tmp_path):
    """External-loop mode (relay/link.py): no paho network thread; publish() writes the packet
    to the socket before it returns (nothing left for a later wake-up); PUBACKs come back
    through the loop's reader."""
    async def body():
        async with relay_on(broker.port, tmp_path, controller="inloop") as (r, calls):
            await until(lambda: r.status()["connected"], what="connected")
            names = [t.name for t in threading.enumerate()]
            assert not [n for n in names if "inloop" in n], names   # paho-mqtt-client-<id>
            ev = r.publish_event(event(1))
            link = r._link
            assert not link.client.want_write()       # written, not queued for someone else
            assert link.inflight                      # and waiting for its PUBACK
            await r.wait_delivered(ev["seq"], 10)
            assert not link.inflight and not link._writing
            await asyncio.to_thread(platform.wait_until, lambda: ev["id"] in platform.rx, 10)
    run(body())


def test_keepalive_pings_come_from_the_loop(broker, platform, tmp_path):
    """With no traffic at all (probes 60 s apart), paho's PINGREQ must still go out once a
    keepalive, and its PINGRESP be read: no network thread does it, the loop's timer calls
    loop_misc."""
    async def body():
        async with relay_on(broker.port, tmp_path, controller="ping",
                            heartbeat_s=60.0) as (r, calls):
            await until(lambda: r.status()["connected"], what="connected")
            r.keepalive_s = 1                # below the schema's floor: a short test
            r._link.close(False)             # the next session uses it
            await until(lambda: r.status()["connected"] and r._link.keepalive_s == 1,
                        what="reconnected with keepalive 1 s")
            log = []
            r._link.client.on_log = lambda c, u, level, buf: log.append(buf)
            await asyncio.sleep(3.5)
            assert sum("Sending PINGREQ" in m for m in log) >= 2, log
            assert sum("Received PINGRESP" in m for m in log) >= 2, log
            assert r.status()["connected"]
    run(body())


def test_loop_misc_runs_a_quarter_keepalive_apart():
    """paho's loop_misc acts only a whole keepalive after the last traffic: the loop calls it
    every keepalive/4 (the PINGREQ leaves by 1.25 keepalives, before the broker's 1.5 limit),
    not every second."""
    from guardroom.relay.link import misc_period

    assert misc_period(30) == 7.5
    assert misc_period(5) == 1.25
    assert misc_period(1) == 0.25     # the short-keepalive test above still pings in time
