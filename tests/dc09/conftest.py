"""Fixtures of the DC-09 tests: the ARC emulator (pysiaalarm) on a free loopback port, a path
with its own outbox in a temporary folder, and a bounded runner for the async tests."""
from __future__ import annotations


import pytest

from guardroom.dc09 import DC09_SCHEMA, Dc09Path
from guardroom.outbox import Outbox
from asyncwait import run, until  # noqa: F401  (re-exported to the tests)

KEY128 = "00112233445566778899AABBCCDDEEFF"
KEY192 = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
KEY256 = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
ACCOUNT = "1234"


def cfg(ports, key: str = "", protocol: str = "tcp", **kw) -> dict:
    raw = {"account": ACCOUNT, "key": key, "ack_timeout_s": 1.0, "retry_s": 0.05,
           "retry_max_s": 0.2, "attempts": 2, "poll_s": 30,
           "receivers": [{"name": f"rcv{i}", "host": "127.0.0.1", "port": p,
                          "protocol": protocol} for i, p in enumerate(ports)]}
    raw.update(kw)
    return DC09_SCHEMA.validate(raw, "dc09")


def alarm(i: int, **kw) -> dict:
    ev = {"ts": "2026-12-01T10:00:00.000Z", "kind": "alarm", "cid": "1120", "area": "bank",
          "zone": f"z{i % 5 + 1}", "incident": i, "text": f"panic {i}", "id": f"ctl-1-{i}"}
    ev.update(kw)
    return ev


NUMBERING = {"areas": {"bank": {}, "vault": {}},
             "zones": [{"name": f"z{i}"} for i in range(1, 6)], "users": [{"name": "alice"}]}


class Recorder:
    """The path's callbacks, recorded."""

    def __init__(self):
        self.states: list[tuple[bool, str]] = []
        self.delivered: list[tuple[dict, str, float]] = []
        self.refused: list[tuple[dict, str]] = []

    def kw(self) -> dict:
        return {"on_state": lambda up, why: self.states.append((up, why)),
                "on_delivered": lambda ev, r, ms: self.delivered.append((ev, r, ms)),
                "on_refused": lambda ev, why: self.refused.append((ev, why))}


@pytest.fixture
def box_path(tmp_path):
    return str(tmp_path / "outbox-dc09.sqlite")


def make_path(c: dict, box_file: str, rec: Recorder, **kw) -> Dc09Path:
    from guardroom.dc09 import Numbering

    return Dc09Path(c, Outbox(box_file, fsync_ms=5, controller="ctl-1-arc"),
                    numbering=Numbering(NUMBERING), **rec.kw(), **kw)
