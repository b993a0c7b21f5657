"""snapshot() / restore() across a reboot (both builds)."""
import json

import pytest

from engine_rig import make_site, ns
from guardroom.core import SnapshotError

PANIC = {"name": "Reception", "point": 1, "type": "panic"}
PERIM = {"name": "North A", "point": 4, "type": "perimeter"}
DOOR = {"name": "Front door", "point": 5, "type": "entry_exit"}
PIR = {"name": "Hall PIR", "point": 6, "type": "interior", "watch_days": 1}
ZONES = [PANIC, PERIM, DOOR, PIR]


def reboot(r, t):
    """Persist through JSON, build a fresh engine, restore at t (the new monotonic clock)."""
    snap = json.loads(json.dumps(r.e.snapshot()))
    fresh = r.mod.Engine(r.site)
    out = fresh.restore(snap, ns(t))
    r.e = fresh
    return out


def test_snapshot_is_json_and_names_the_build(mk, eng):
    r = mk(ZONES)
    r.feed(1, 1, 1)
    snap = r.e.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["build"] == eng.BUILD and snap["next_incident"] == 2 and snap["uplink"] is True
    assert set(snap) >= {"areas", "zones", "incidents", "outputs", "counters"}


def test_restore_keeps_arming_incidents_latches_and_the_incident_counter(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 1, 1)
    r.ack(2001, 1)
    r.cmd(2002, "bypass", zone="North A")
    assert reboot(r, 5) == []                         # silent & acked: nothing to turn on
    snap = r.e.snapshot()
    assert snap["areas"]["Main"]["state"] == "alarm"
    assert snap["incidents"][0]["acked"] is True and snap["zones"]["Reception"]["latched"]
    assert snap["zones"]["North A"]["bypassed"] == "manual"
    assert r.kinds(r.feed(6, 1, 1)) == []             # still active: same accepted state
    r.feed(7, 1, 0)
    r.cmd(8, "reset", area="Main")
    assert r.one(r.feed(9, 6, 1), "alarm").incident == 2


def test_restore_returns_output_orders_for_outputs_that_should_be_on(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 4, 1)
    out = reboot(r, 3)
    assert [(d.kind, d.output, d.on, d.t_ns) for d in out] == [
        ("output", "siren1", True, ns(3)), ("output", "strobe1", True, ns(3))]


def test_restore_rearms_running_timers_with_their_remaining_time(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 5, 1)                                # entry delay 30 s, 10 s left at 2020
    r.adv(2020)
    reboot(r, 100)
    assert r.adv(109.9) == []
    assert r.one(r.adv(110), "alarm").cid == 134


def test_restore_rearms_the_fallback_and_the_sensor_watch(mk):
    r = mk(ZONES)
    r.feed(1, 1, 1)                                   # fallback due at 61
    r.adv(41)
    reboot(r, 500)
    assert r.adv(519.9) == []
    assert r.one(r.adv(520), "fallback").cid == 354
    assert r.e.snapshot()["zones"]["Hall PIR"]["timers"]["watch"] is not None


def test_restore_rejects_garbage(mk):
    r = mk(ZONES)
    with pytest.raises(SnapshotError):
        r.e.restore({"version": 99}, 0)
    with pytest.raises(SnapshotError):
        r.e.restore({"version": 1, "zones": {"Reception": {"state": "exploded"}}}, 0)


def test_snapshot_of_one_build_restores_in_the_other():
    from engine_rig import engine_module
    comp, interp = engine_module("compiled"), engine_module("interpreted")
    site = make_site(ZONES)
    a = comp.Engine(site)
    a.command(ns(1), "arm_away")
    a.feed(ns(2000), 4, 1)
    b = interp.Engine(site)
    out = b.restore(a.snapshot(), ns(5))
    assert [d.output for d in out] == ["siren1", "strobe1"]
    snap_a, snap_b = a.snapshot(), b.snapshot()
    assert snap_a["incidents"] == snap_b["incidents"]
    assert snap_a["zones"]["North A"]["state"] == snap_b["zones"]["North A"]["state"] == "active"
    assert snap_b["areas"]["Main"]["state"] == "alarm"
