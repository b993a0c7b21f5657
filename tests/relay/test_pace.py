"""Alarms first all the way to a slow platform: the relay paces non-alarm events
(``[mqtt] nonalarm_rate``) so the broker's FIFO queue to the platform's session stays short,
and a panic sent during a trouble backlog is not stuck behind troubles the broker already took.
A real Mosquitto and a deliberately slow subscriber; no wall-clock thresholds."""
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from guardroom.errors import ConfigError
from guardroom.outbox import Outbox
from guardroom.relay.pace import TICK_S, Pace

from .conftest import event, mqtt_cfg, run, until
from .test_relay import relay_on

READ_S = 0.01       # the slow platform's work per message (at most 100 events/s)


class SlowPlatform:
    """One QoS 1 session that handles one message per READ_S: the broker queues the rest."""

    def __init__(self, port: int, topic: str):
        self.got: list[dict] = []
        self._subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="slow-platform",
                        protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, 1)
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        if not self._subscribed.wait(10):
            raise TimeoutError("slow platform: no SUBACK")

    def _on_message(self, client, userdata, msg):
        self.got.append(json.loads(msg.payload))
        time.sleep(READ_S)                 # the platform's own work, not a synchronisation

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def _panic_position(port, tmp_path, rate: int) -> tuple[int, int]:
    """(troubles the platform had read when the panic was sent, troubles it read before the
    panic arrived) for a 400-trouble backlog and a relay paced at ``rate``."""
    slow = SlowPlatform(port, "guardroom/bank/paced/event")

    async def body():
        async with relay_on(port, tmp_path, controller="paced",
                            nonalarm_rate=rate) as (r, _calls):
            r.store_events([event(i, kind="trouble", cid="1380", incident=0, silent=False)
                            for i in range(400)])
            r.send()
            await until(lambda: len(slow.got) >= 40, timeout=30, what="40 troubles read")
            at_press = len(slow.got)
            panic = r.publish_event(event(1, kind="alarm", cid="1120"))
            await until(lambda: any(e["seq"] == panic["seq"] for e in slow.got), timeout=30,
                        what="the panic at the platform")
            before = next(i for i, e in enumerate(slow.got) if e["seq"] == panic["seq"])
            return at_press, before
    try:
        return run(body())
    finally:
        slow.close()


def test_panic_overtakes_a_trouble_backlog_at_a_slow_platform(broker, tmp_path):
    # 40 troubles/s against a platform that reads up to 100/s: the broker holds almost nothing
    # for it, so the panic arrives right behind what was in flight when it was sent. Unpaced,
    # the controller hands the broker the whole backlog within a fraction of a second, and the
    # panic arrives behind ~360 troubles the platform has not read yet.
    at_press, before = _panic_position(broker.port, tmp_path, rate=40)
    assert before - at_press <= 40, (at_press, before)


def test_unpaced_relay_leaves_the_panic_behind_the_brokers_queue(broker, tmp_path):
    # the case pacing is for (nonalarm_rate = 0): shows the test above can fail
    at_press, before = _panic_position(broker.port, tmp_path, rate=0)
    assert before - at_press > 100, (at_press, before)


def test_pace_token_bucket():
    p = Pace(100, now=0.0)                         # burst: 2 ticks' worth
    assert p.burst == pytest.approx(100 * 2 * TICK_S)
    assert p.allowance(0.0) == 2
    p.spend(2)
    assert p.allowance(0.0) == 0
    assert p.wait_s() == pytest.approx(0.01)
    assert p.allowance(0.005) == 0 and p.allowance(0.01) == 1
    assert p.allowance(10.0) == 2                  # idle time does not pile up a burst
    assert Pace(0, now=0.0).allowance(5.0) is None  # unpaced
    assert Pace(10, now=0.0).allowance(0.0) == 1   # a burst of at least one


def test_cursor_limits_only_the_non_alarm_lane(tmp_path):
    box = Outbox(str(tmp_path / "o.sqlite"), controller="c")
    box.append_many([event(i, kind="trouble", cid="1380", incident=0) for i in range(10)])
    box.append_many([event(i, kind="alarm", cid="1120") for i in range(3)])
    cur = box.cursor()
    got = [s for s, _ in cur.take(40, slow=2)]
    assert got == [11, 12, 13, 1, 2] and cur.slow_taken == 2 and cur.slow_held
    got = [s for s, _ in cur.take(40, slow=0)]
    assert got == [] and cur.slow_taken == 0 and cur.slow_held
    got = [s for s, _ in cur.take(40, slow=100)]
    assert got == list(range(3, 11)) and not cur.slow_held
    box.close()


def test_nonalarm_rate_in_the_schema():
    assert mqtt_cfg(1883)["nonalarm_rate"] == 1000
    assert mqtt_cfg(1883, nonalarm_rate=0)["nonalarm_rate"] == 0
    with pytest.raises(ConfigError, match="nonalarm_rate"):
        mqtt_cfg(1883, nonalarm_rate=5)
    with pytest.raises(ConfigError, match="nonalarm_rate"):
        mqtt_cfg(1883, nonalarm_rate=-1)

