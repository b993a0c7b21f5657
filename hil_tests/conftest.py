"""Fixtures of the hardware-in-the-loop suite.

The suite runs against the emulated site unless a rig file is named, by ``--rig FILE`` or the
``GUARDROOM_RIG`` environment variable; then it runs against that real rig. Tests marked
``real_rig`` only make sense on real hardware and are skipped without a rig file.
"""
from __future__ import annotations

import os

import pytest

from .rig import make_rig


def pytest_addoption(parser):
    parser.addoption("--rig", default=None, metavar="FILE",
                     help="run hil_tests against the real rig described in FILE "
                          "(default: $GUARDROOM_RIG, else the emulated site)")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_rig: needs real hardware (a rig file)")


@pytest.fixture(scope="session")
def rig_file(request) -> str:
    return request.config.getoption("--rig") or os.environ.get("GUARDROOM_RIG", "")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--rig") or os.environ.get("GUARDROOM_RIG"):
        return
    skip = pytest.mark.skip(reason="real rig only: give --rig FILE or GUARDROOM_RIG")
    for item in items:
        if "real_rig" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def start_rig(rig_file):
    """``start_rig(overrides=..., auto_ack=..., capabilities=(...))`` -> a started rig, stopped at
    teardown. Skips the test when the rig lacks a capability it needs."""
    started = []

    def _make(overrides=None, auto_ack=True, needs=(), **kw):
        rig = make_rig(rig_file, overrides=overrides, auto_ack=auto_ack, **kw)
        lacking = [c for c in needs if not rig.can(c)]
        if lacking:
            pytest.skip(f"the {rig.kind} rig cannot: {', '.join(lacking)}")
        started.append(rig)
        rig.start()
        return rig

    yield _make
    for rig in started:
        try:
            if os.environ.get("GUARDROOM_HIL_LOG"):
                print(f"--- daemon log ({rig.kind} rig) ---\n{rig.daemon_log_tail(200)}")
        finally:
            rig.stop()
