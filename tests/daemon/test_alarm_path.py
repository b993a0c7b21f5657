"""The alarm path of a daemon running in this process on the emulated school site (real
Mosquitto, mock GPIO pins driven over the emulator's control socket, platform emulator):

* the debounce ends when the engine's clock says so: the engine is given the real time when the
  loop wakes for a deadline, never the deadline itself and never a time before it;
* the retained `state` (what Home Assistant shows) follows an alarm at once, not after the
  coalescing delay that other changes get;
* when paho gets the alarm, the outbox and the state slot have it and nothing else was done:
  the event log row, the delivery record and the console come after the send, no thread was
  woken (the outbox's fsync thread), the garbage collector is off.
"""
from __future__ import annotations

import asyncio
import gc
import time

import pytest

from guardroom import daemon as daemon_mod
from guardroom.bench.e2e import PANIC_DEBOUNCE_MS, _base_patch
from guardroom.daemon import Daemon
from guardroom.emulators.site import EmulatedSite, _LoopThread


class _Recorder:
    """Stands in front of the engine: every advance/feed_many with the time it was given."""

    def __init__(self, engine):
        self._engine = engine
        self.calls: list = []         # (method, now_ns given, clock after, decisions)

    def advance(self, t_ns):
        out = self._engine.advance(t_ns)
        self.calls.append(("advance", t_ns, time.monotonic_ns(), out))
        return out

    def feed_many(self, buf, now_ns=-1):
        out = self._engine.feed_many(buf, now_ns)
        self.calls.append(("feed_many", now_ns, time.monotonic_ns(), out))
        return out

    def __getattr__(self, name):
        return getattr(self._engine, name)


@pytest.fixture
def rig(monkeypatch):
    # other changes are coalesced far longer than the test waits: only an immediate publish
    # can bring the alarm's state in time
    monkeypatch.setattr(daemon_mod, "STATE_COALESCE_S", 60.0)
    with EmulatedSite(patch=_base_patch, daemon=False) as site:
        lt = _LoopThread()
        d = Daemon(site.config, site.config_path)
        try:
            lt.run(d.start())
            site._connect_gpio(30)
            p = site.platform
            p.wait_until(lambda: p.status.get(site._status_key()) == "online", 30)
            rec = _Recorder(d.engine)

            def swap():
                d.engine = rec     # the loop's pump reads self.engine on every turn
            lt.call(swap)
            yield site, d, rec
        finally:
            lt.run(d.stop())
            lt.stop()


def test_debounce_fires_on_a_deadline_wake_with_the_real_time(rig):
    site, d, rec = rig
    p = site.platform
    for _ in range(3):
        last = max((e["seq"] for e in p.events), default=0)
        rec.calls.clear()
        t_press = time.monotonic_ns()
        site.press("panic_reception")
        ev = p.wait_for(lambda e: e.get("seq", 0) > last and e["kind"] == "alarm"
                        and e["zone"] == "panic_reception", 10)
        fired = [(m, now, after, dec) for m, now, after, out in rec.calls for dec in out
                 if dec.kind == "zone" and dec.zone == "panic_reception"
                 and dec.state == "active"]
        assert len(fired) == 1, fired
        method, now, after, dec = fired[0]
        assert method == "advance"              # a timer, not the edge itself
        assert now >= dec.t_ns                  # never woken (or told) before the deadline
        assert dec.t_ns - t_press >= PANIC_DEBOUNCE_MS * 1e6 * 0.95  # stamped edge + debounce
        assert now <= after                     # a real clock reading, not a made-up time
        assert ev["kind"] == "alarm"
        from guardroom.bench.e2e import _reset_building
        _reset_building(site, "panic_reception")


def test_alarm_state_is_published_at_once(rig):
    site, d, rec = rig
    p = site.platform
    key = site._status_key()

    def open_alarm():
        st = p.states.get(key) or {}
        return (st.get("areas", {}).get("building") or {}).get("open_alarm")
    assert not open_alarm()
    last = max((e["seq"] for e in p.events), default=0)
    site.press("panic_reception")
    p.wait_for(lambda e: e.get("seq", 0) > last and e["kind"] == "alarm", 10)
    # coalesced, this would come STATE_COALESCE_S (60 s) later
    assert p.wait_until(open_alarm, 10)


def _gc_on_in_loop(d) -> bool:
    """gc.isenabled() read on the daemon's loop thread between two callbacks: outside any
    ``_pump`` (read from this thread it races the next pump, which turns it off process-wide
    for its duration)."""
    async def read():
        return gc.isenabled()
    return asyncio.run_coroutine_threadsafe(read(), d.loop).result(10)


def test_only_outbox_and_state_come_before_the_send(rig):
    site, d, rec = rig
    p = site.platform
    seen = []
    send = d.relay.send

    def spy():
        seq = d.outbox.next_seq - 1
        ev = d.outbox.get(seq)
        if ev and ev.get("kind") == "alarm" and not seen:
            seen.append({"seq": seq, "pending": d.outbox.is_pending(seq),
                         "state_seq": d.statefile._seq, "gc": gc.isenabled(),
                         "fsync_woken": d.outbox._dirty.is_set(),
                         "logged": [r for r in d.eventlog.tail(10) if r.get("seq") == seq],
                         "zone_logged": [r for r in d.eventlog.tail(10)
                                         if r.get("kind") == "zone"
                                         and r.get("zone") == "panic_reception"
                                         and r.get("state") == "active"
                                         and r["ts"] >= ev["ts"]]})
        return send()
    state_seq0 = d.statefile._seq
    d.relay.send = spy
    d.outbox._dirty.clear()
    last = max((e["seq"] for e in p.events), default=0)
    site.press("panic_reception")
    ev = p.wait_for(lambda e: e.get("seq", 0) > last and e["kind"] == "alarm", 10)
    assert seen, "relay.send never saw the alarm"
    at = seen[0]
    assert at["seq"] == ev["seq"] and at["pending"]        # in the durable outbox
    assert at["state_seq"] > state_seq0                    # the state that explains it
    assert at["logged"] == [] and at["zone_logged"] == []  # the log comes after the send
    assert not at["fsync_woken"]                           # no thread woken before it
    assert not at["gc"]                                    # no collection in its path
    assert _gc_on_in_loop(d)                               # on again after the turn
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and \
            not [r for r in d.eventlog.tail(10) if r.get("seq") == ev["seq"]]:
        time.sleep(0.01)
    assert [r for r in d.eventlog.tail(10) if r.get("seq") == ev["seq"]]   # logged after
