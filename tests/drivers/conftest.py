"""Fixtures of the driver tests. Each engineer's fixtures carry a prefix (osdp_, ...)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def osdp_key() -> bytes:
    """A fresh secure channel base key (16 random bytes)."""
    return os.urandom(16)


@pytest.fixture
def osdp_bus():
    """Factory of emulated OSDP buses (a pty with libosdp readers); all stopped at teardown.

    ``bus = osdp_bus(); reader = bus.add_reader(101, scbk=key); bus.start()``"""
    from guardroom.emulators.osdp import OsdpBus

    made = []

    def make() -> OsdpBus:
        bus = OsdpBus()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.stop()
