"""The alarm path of a daemon running in this process on the emulated school site (real
Mosquitto, mock GPIO pins driven over the emulator's control socket, platform emulator):

* the debounce ends when the engine's clock says so: the engine is given the real time when the
  loop wakes for a deadline, never the deadline itself and never a time before it;
* the retained `state` (what Home Assistant shows) follows an alarm at once, not after the
  coalescing delay that other changes get.
"""
from __future__ import annotations

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
