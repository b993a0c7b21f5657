"""Fixtures of the relay tests: a real Mosquitto per module on a free loopback port (stopped by
pid), a platform emulator per test, and a helper that runs a coroutine with a failure bound."""
from __future__ import annotations

import os
import sys

import pytest

from guardroom.emulators.broker import MosquittoBroker
from guardroom.emulators.platform import Platform
from asyncwait import run, until  # noqa: F401  (re-exported to the tests)

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def broker():
    b = MosquittoBroker()
    b.start()
    yield b
    b.cleanup()


@pytest.fixture
def platform(broker):
    p = Platform("127.0.0.1", broker.port, out=None, hmac_key=bytes.fromhex("5a" * 32))
    yield p
    p.close()


def mqtt_cfg(port: int, **kw) -> dict:
    from guardroom.relay import MQTT_SCHEMA

    raw = {"host": "127.0.0.1", "port": port, "heartbeat_s": 1.0}
    raw.update(kw)
    return MQTT_SCHEMA.validate(raw, "mqtt")


def event(i: int, **kw) -> dict:
    ev = {"ts": "2024-05-01T10:00:00.000Z", "kind": "alarm", "cid": "1120", "area": "bank",
          "zone": f"teller{i % 3}", "incident": i, "verified": i % 2 == 0, "silent": True,
          "drill": False, "user": "", "text": f"Panic button {i}"}
    ev.update(kw)
    return ev


RELAY_SCRIPT = os.path.join(HERE, "relay_proc.py")
PY = sys.executable
