"""Fixtures of the relay tests: a real Mosquitto per module on a free loopback port (stopped by
pid), a platform emulator per test, and a helper that runs a coroutine with a failure bound."""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

from guardroom.emulators.broker import MosquittoBroker
from guardroom.emulators.platform import Platform

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


def run(coro, timeout: float = 60.0):
    """Run a coroutine to completion; ``timeout`` is only a failure bound."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def until(cond, timeout: float = 10.0, what: str = "condition"):
    """Await a condition polled on the loop (for relay-side state); raises on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


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
