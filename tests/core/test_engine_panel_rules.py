"""Decisions a professional panel gets right (issue 11, "Wrong decisions today" 1-6): one
incident per armed period, exit fault, loop shorts, entry route confirmation, the time contract
and stale samples. Every test runs on both builds; the rule each proves is listed with its
clause in docs/developer/engine.md.
"""
from engine_rig import S, ns

PIR1 = {"name": "Hall PIR", "point": 1, "type": "interior", "groups": ["g"]}
PIR2 = {"name": "Office PIR", "point": 2, "type": "interior", "groups": ["g"]}
DOOR = {"name": "Front door", "point": 3, "type": "entry_exit", "groups": ["g"]}
BEAM = {"name": "Beam", "point": 4, "type": "perimeter", "silent": True}
PANIC = {"name": "Till panic", "point": 5, "type": "panic"}
STD_BEAM = {"name": "Std beam", "point": 6, "type": "perimeter", "profile": "std"}
GROUP = {"g": {"window_s": 3600, "siren_on_verify": False}}


def m(mk, zones, **kw):
    kw.setdefault("groups", GROUP)
    return mk(zones, **kw)


# ---- 1. each armed period starts clean ------------------------------------------------------

def test_rearming_closes_the_incident_and_a_single_detector_is_not_verified(mk):
    r = m(mk, [PIR1, PIR2], groups=GROUP)
    r.arm(0)
    first = r.one(r.feed(1100, 1, 1), "alarm").incident
    assert r.of(r.feed(1200, 2, 1), "verified")
    r.feed(1210, 1, 0)
    r.feed(1210, 2, 0)
    r.cmd(1300, "disarm", area="Main", user="u")
    ds = r.arm(2000)                               # the next night
    reset = r.one(ds, "reset")
    assert (reset.incident, reset.cid, reset.q, reset.report) == (first, 406, 3, True)
    alarm = r.one(r.feed(3100, 1, 1), "alarm")     # one detector only
    assert alarm.incident != first and alarm.verified is False
    assert r.e.snapshot()["incidents"][0]["verified"] is False


def test_a_silent_alarm_after_rearming_falls_back_on_its_own(mk):
    r = m(mk, [BEAM])
    r.arm(0)
    inc = r.one(r.feed(1100, 4, 1), "alarm").incident
    r.feed(1101, 4, 0)
    r.ack(1102, inc)
    r.cmd(1200, "disarm", area="Main", user="u")
    r.arm(1300)
    alarm = r.one(r.feed(2400, 4, 1), "alarm")
    assert alarm.incident != inc
    fb = r.one(r.adv(2400 + 61), "fallback")
    assert fb.cid == 354 and fb.incident == alarm.incident


# ---- 2. a zone still open at the end of the exit time ---------------------------------------

def test_a_zone_open_at_the_end_of_the_exit_time_is_an_exit_fault_alarm(mk):
    r = m(mk, [BEAM, PIR1])
    r.cmd(0, "arm_away", area="Main", user="u")
    r.feed(5, 1, 1)                                 # the PIR sees the user, who never leaves
    ds = r.adv(21)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.zone, alarm.q, alarm.report) == (374, "Hall PIR", 1, True)
    assert r.e.snapshot()["areas"]["Main"]["state"] == "alarm"
    assert ("siren1", True) in r.outputs(ds)
    restore = r.one(r.feed(30, 1, 0), "restore")
    assert restore.cid == 374


def test_exit_fault_fail_to_set_leaves_the_area_unset(mk):
    r = m(mk, [BEAM, PIR1], area={"exit_fault": "fail_to_set"})
    r.cmd(0, "arm_away", area="Main", user="u")
    r.feed(5, 4, 1)
    ds = r.adv(21)
    area = r.one(ds, "area")
    assert (area.state, area.cid, area.q, area.report) == ("disarmed", 374, 1, True)
    assert "Beam" in area.text and not r.of(ds, "alarm")
    assert r.e.snapshot()["areas"]["Main"]["state"] == "disarmed"


def test_an_entry_door_left_open_is_an_exit_error_after_the_entry_delay(mk):
    r = m(mk, [DOOR])
    r.cmd(0, "arm_away", area="Main", user="u")
    r.feed(5, 3, 1)
    ds = r.adv(21)
    assert [d.state for d in r.of(ds, "area")] == ["armed_away", "entry_delay"]
    alarm = r.one(r.adv(21 + 31), "alarm")
    assert alarm.cid == 374


def test_a_zone_that_closes_before_the_exit_time_ends_arms_quietly(mk):
    r = m(mk, [BEAM, PIR1])
    r.cmd(0, "arm_away", area="Main", user="u")
    r.feed(5, 1, 1)
    r.feed(6, 1, 0)
    ds = r.adv(21)
    assert not r.of(ds, "alarm") and r.one(ds, "area").state == "armed_away"


# ---- 3. a loop short alarms whether set or not ------------------------------------------------

def test_a_shorted_panic_loop_is_a_hold_up_alarm_while_disarmed(mk):
    r = m(mk, [PANIC])
    ds = r.feed(1, 5, 3)
    assert r.one(ds, "trouble").cid == 380
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.silent, alarm.zone) == (120, True, "Till panic")
    assert r.e.snapshot()["zones"]["Till panic"]["latched"]


def test_a_short_on_an_armed_burglary_zone_is_an_alarm_disarmed_only_a_trouble(mk):
    r = m(mk, [dict(BEAM, silent=None), DOOR])
    ds = r.feed(1, 4, 3)
    assert r.kinds(ds) == ["zone", "trouble"]
    r.feed(2, 4, 0)
    r.arm(10)
    ds = r.feed(1100, 4, 3)
    assert r.one(ds, "alarm").cid == 131
    ds = r.feed(1101, 3, 3)                          # the entry door: at once, no entry delay
    assert r.one(ds, "alarm").cid == 134


# ---- 4. entry route confirmation (BS 8243) ---------------------------------------------------

def test_a_keyholder_who_fails_to_unset_gives_an_unconfirmed_alarm(mk):
    r = m(mk, [DOOR, PIR1], groups=GROUP)
    r.arm(0)
    r.feed(1100, 3, 1)                               # the keyholder opens the entry door
    r.feed(1105, 1, 1)                               # walks past the PIR to the keypad
    r.feed(1110, 1, 0)
    alarm = r.one(r.adv(1131), "alarm")              # ... and fails to unset
    assert alarm.cid == 134 and not alarm.verified
    ds = r.feed(1140, 1, 1)                          # still walking about
    assert r.one(ds, "alarm").verified is False and not r.of(ds, "verified")


def test_confirmation_works_again_in_the_next_armed_period(mk):
    r = m(mk, [DOOR, PIR1, PIR2], groups=GROUP)
    r.arm(0)
    r.feed(1100, 3, 1)
    r.cmd(1110, "disarm", area="Main", user="u")
    r.feed(1111, 3, 0)
    r.arm(1200)
    r.feed(2300, 1, 1)
    assert r.of(r.feed(2310, 2, 1), "verified")


# ---- 5. the time contract ------------------------------------------------------------------

WALL = 1_764_000_000 * S  # a wall-clock stamp (2025) where monotonic time is expected


def test_a_wall_clock_stamp_is_refused_counted_and_reported(mk):
    r = m(mk, [STD_BEAM, PIR1])
    r.feed(1.0, 1, 0)
    ds = r.e.feed(WALL, 6, 1)
    trouble = r.one(ds, "trouble")
    assert (trouble.cid, trouble.zone, trouble.report) == (626, "Std beam", True)
    assert r.kinds(ds) == ["trouble"]
    assert r.e.snapshot()["counters"]["refused"] == 1
    assert r.e.snapshot()["t_ns"] == ns(1.0)
    # the engine still debounces real samples
    assert r.one(r.feed(2.0, 6, 1), "trouble_restore").cid == 626
    ds = r.adv(2.1)
    assert r.one(ds, "zone").t_ns == ns(2.1)


def test_the_clock_trouble_is_restored_by_the_next_good_sample(mk):
    r = m(mk, [STD_BEAM])
    r.feed(1.0, 6, 0)
    r.e.feed(WALL, 6, 1)
    assert r.kinds(r.e.feed(WALL + 1, 6, 1)) == []    # counted, reported once
    ds = r.feed(2.0, 6, 0)
    assert r.one(ds, "trouble_restore").cid == 626
    assert r.e.snapshot()["counters"]["refused"] == 2


def test_stamps_near_the_int64_limits_are_refused_by_both_builds(mk):
    r = m(mk, [STD_BEAM])
    r.feed(1.0, 6, 0)
    for t in (2**62 - 1, 2**63 - 1, -2**63, -1):
        r.e.feed(t, 6, 1)
        r.e.feed_many(__import__("array").array("q", [t, 6, 1]))
    assert r.e.snapshot()["counters"]["refused"] == 8
    assert r.e.next_deadline() == -1
    r.feed(2.0, 6, 1)
    assert r.one(r.adv(2.1), "zone").state == "active"


def test_a_sample_far_behind_the_callers_clock_is_refused(mk):
    r = m(mk, [STD_BEAM])
    r.feed(1.0, 6, 0)
    ds = r.e.feed(ns(5.0), 6, 1, now_ns=ns(5.0) + 3600 * S)
    assert r.one(ds, "trouble").cid == 626
    ds = r.e.feed(ns(3600.0), 6, 1, now_ns=ns(3601.0))   # an idle gap: fine with now_ns
    assert r.kinds(ds) == ["trouble_restore"]


# ---- 6. a late sample of the old level ------------------------------------------------------

def test_a_late_sample_of_the_old_level_does_not_cancel_a_real_change(mk):
    r = m(mk, [STD_BEAM])
    r.feed(0.5, 6, 0)
    r.feed(1.000, 6, 1)
    assert r.feed(0.95, 6, 0) == []
    ds = r.adv(2.0)
    assert r.one(ds, "zone").state == "active" and r.one(ds, "zone").t_ns == ns(1.1)
    assert r.e.snapshot()["counters"]["late"] == 1


def test_feed_many_discards_stale_samples_like_feed(mk):
    from array import array
    a, b = mk([STD_BEAM]), mk([STD_BEAM])
    samples = [(0.5, 6, 0), (1.0, 6, 1), (0.95, 6, 0), (1.02, 6, 1)]
    da = []
    for t, p, v in samples:
        da += a.feed(t, p, v)
    buf = array("q")
    for t, p, v in samples:
        buf.extend((ns(t), p, v))
    db = b.e.feed_many(buf)
    assert da == db
    assert a.adv(2.0) == b.adv(2.0) != []
