"""Incidents, verification groups, offline grace, sabotage, sensor watch (both builds)."""
BEAM_A = {"name": "North A", "point": 1, "type": "perimeter", "groups": ["north"]}
BEAM_B = {"name": "North B", "point": 2, "type": "perimeter", "groups": ["north"]}
PIR = {"name": "Hall PIR", "point": 3, "type": "interior"}
PANIC_1 = {"name": "Counter 1", "point": 4, "type": "panic", "groups": ["holdup"]}
PANIC_2 = {"name": "Counter 2", "point": 5, "type": "panic", "groups": ["holdup"]}
GROUPS = {"north": {"window_s": 60, "siren_on_verify": True},
          "holdup": {"window_s": 120, "siren_on_verify": False}}
SILENT_BEAMS = [dict(BEAM_A, silent=True), dict(BEAM_B, silent=True), PIR, PANIC_1, PANIC_2]


def rig(mk, zones=SILENT_BEAMS, **kw):
    return mk(zones, groups=GROUPS, **kw)


def test_one_incident_per_area_collects_every_zone_until_reset(mk):
    r = rig(mk)
    r.arm(1)
    a1 = r.one(r.feed(2000, 3, 1), "alarm")
    r.feed(2001, 3, 0)
    a2 = r.one(r.feed(2002, 3, 1), "alarm")           # every trip is still reported
    a3 = r.one(r.feed(2003, 1, 1), "alarm")
    assert a1.incident == a2.incident == a3.incident == 1
    assert r.e.snapshot()["incidents"][0]["zones"] == ["Hall PIR", "North A"]
    r.feed(2004, 1, 0)
    r.feed(2004, 3, 0)
    reset = r.one(r.cmd(2005, "reset", area="Main", user="u"), "reset")
    assert (reset.cid, reset.q, reset.incident) == (406, 3, 1)
    assert r.one(r.feed(2006, 3, 1), "alarm").incident == 2


def test_one_beam_is_an_unverified_silent_alarm_both_are_verified_with_siren(mk):
    r = rig(mk)
    r.arm(1)
    ds = r.feed(2000, 1, 1)
    alarm = r.one(ds, "alarm")
    assert (alarm.verified, alarm.silent) == (False, True) and r.outputs(ds) == []
    ds = r.feed(2030, 2, 1)
    assert r.kinds(ds) == ["zone", "alarm", "verified", "output", "output"]
    verified = r.one(ds, "verified")
    assert (verified.cid, verified.q, verified.incident, verified.report) == (139, 1, 1, True)
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True)]
    assert r.one(r.feed(2031, 3, 1), "alarm").verified is True


def test_second_zone_outside_the_window_does_not_verify(mk):
    r = rig(mk)
    r.arm(1)
    r.feed(2000, 1, 1)
    ds = r.feed(2061, 2, 1)
    assert r.of(ds, "verified") == [] and r.one(ds, "alarm").verified is False


def test_the_same_zone_twice_does_not_verify(mk):
    r = rig(mk)
    r.arm(1)
    r.feed(2000, 1, 1)
    r.feed(2001, 1, 0)
    assert r.of(r.feed(2002, 1, 1), "verified") == []


def test_verification_is_reported_once_per_incident(mk):
    r = rig(mk)
    r.arm(1)
    r.feed(2000, 1, 1)
    r.feed(2001, 2, 1)
    r.feed(2002, 1, 0)
    assert r.of(r.feed(2003, 1, 1), "verified") == []


def test_hold_up_confirmation_is_129_and_stays_silent(mk):
    r = rig(mk)
    r.feed(1, 4, 1)
    ds = r.feed(60, 5, 1)
    assert r.one(ds, "verified").cid == 129 and r.outputs(ds) == []


def test_offline_back_before_grace_decides_nothing_but_the_zone_edges(mk):
    r = rig(mk)
    assert r.kinds(r.feed(1, 3, 4)) == ["zone"]
    assert r.kinds(r.feed(20, 3, 0)) == ["zone"]
    assert r.adv(100) == []


def test_offline_after_grace_is_a_147_trouble_restored_when_back(mk):
    r = rig(mk)
    r.feed(1, 3, 4)
    ds = r.adv(31)
    trouble = r.one(ds, "trouble")
    assert (trouble.cid, trouble.t_ns, trouble.zone) == (147, 31 * 10**9, "Hall PIR")
    assert r.of(ds, "alarm") == []
    assert r.one(r.feed(40, 3, 0), "trouble_restore").cid == 147


def test_offline_alarm_counts_as_a_trigger_after_grace(mk):
    r = rig(mk, zones=[dict(PIR, offline_alarm=True)])
    r.arm(1)
    r.feed(2000, 3, 4)
    ds = r.adv(2030)
    assert r.kinds(ds)[:2] == ["trouble", "alarm"]
    assert r.one(ds, "alarm").cid == 132
    assert r.one(r.feed(2040, 3, 0), "restore").cid == 132


def test_sabotage_when_enough_zones_go_offline_within_the_window(mk):
    r = rig(mk, sabotage={"count": 3, "window_s": 10, "grace_s": 0})
    for p in (1, 2, 3):
        r.feed(0.5, p, 0)                        # online at start
    assert r.of(r.feed(1, 1, 4) + r.feed(2, 2, 4), "alarm") == []
    ds = r.feed(5, 3, 4)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.zone, alarm.area) == (137, "Hall PIR", "Main")


def test_zones_offline_since_start_are_not_sabotage(mk):
    # a reader still silent when the controller boots reports its points OFFLINE: that is
    # supervision (147 after the grace), not K zones *going* offline
    r = rig(mk, sabotage={"count": 3, "window_s": 10, "grace_s": 0})
    ds = r.feed(0.1, 1, 4) + r.feed(0.1, 2, 4) + r.feed(0.1, 3, 4)
    assert r.of(ds, "alarm") == []
    troubles = r.of(r.adv(40), "trouble")
    assert sorted(d.cid for d in troubles) == [147, 147, 147]


def test_no_sabotage_when_zones_go_offline_further_apart(mk):
    r = rig(mk, sabotage={"count": 3, "window_s": 10, "grace_s": 0})
    for p in (1, 2, 3):
        r.feed(0.5, p, 0)
    ds = r.feed(1, 1, 4) + r.feed(8, 2, 4) + r.feed(15, 3, 4)
    assert [d.cid for d in r.of(ds, "alarm")] == []


def test_sensor_watch_raises_391_and_the_next_activation_restores_it(mk):
    r = rig(mk, zones=[dict(PIR, watch_days=2)])
    r.adv(1)
    assert r.e.next_deadline() == (1 + 2 * 86400) * 10**9
    r.feed(86400, 3, 1)                          # activity restarts the count
    r.feed(86401, 3, 0)
    assert r.adv(86400 * 2 + 1) == []
    ds = r.adv(86400 * 3)
    trouble = r.one(ds, "trouble")
    assert (trouble.cid, trouble.t_ns) == (391, 86400 * 3 * 10**9)
    ds = r.feed(86400 * 4, 3, 1)
    assert r.one(ds, "trouble_restore").cid == 391


def test_reset_refused_while_a_latched_zone_is_still_active(mk):
    r = rig(mk)
    r.feed(1, 4, 1)
    refused = r.one(r.cmd(2, "reset", area="Main"), "refused")
    assert "Counter 1 (active)" in refused.text
    r.feed(3, 4, 0)
    assert r.kinds(r.cmd(4, "reset", area="Main")) == ["restore", "reset"]  # 3120 at reset
    assert r.e.snapshot()["zones"]["Counter 1"]["latched"] is False


def test_reset_without_incident_is_refused(mk):
    r = rig(mk)
    assert "no open incident" in r.one(r.cmd(1, "reset", area="Main"), "refused").text


def test_reset_returns_an_alarmed_armed_area_to_armed(mk):
    r = rig(mk, zones=[PIR])
    r.arm(1)
    r.feed(2000, 3, 1)
    r.feed(2001, 3, 0)
    ds = r.cmd(2002, "reset", area="Main")
    assert r.one(ds, "area").state == "armed_away"
    assert r.one(r.feed(2003, 3, 1), "alarm").incident == 2


def test_zone_snapshot_shows_the_incident_of_its_current_alarm_only(mk):
    r = rig(mk)
    r.feed(1, 4, 1)
    assert r.e.state_of_zone("Counter 1")["alarm_incident"] == 1
    assert r.e.state_of_zone("Counter 1")["alarm_cid"] == 120
    r.feed(2, 4, 0)
    zone = r.e.state_of_zone("Counter 1")
    # released: the hold-up's restore waits for the reset
    assert (zone["alarm_incident"], zone["alarm_cid"], zone["restore_at_reset"],
            zone["latched"]) == (1, 0, 120, True)
    r.cmd(3, "reset", area="Main")
    zone = r.e.state_of_zone("Counter 1")
    assert (zone["alarm_incident"], zone["restore_at_reset"], zone["latched"]) == (0, 0, False)


def test_a_reset_incident_no_longer_confirms_a_new_one(mk):
    # hold-up confirmation: the second button within 2 min verifies, but not after the first
    # incident was reset (a new hold-up is a new, unverified event)
    r = rig(mk)
    r.one(r.feed(10, 4, 1), "alarm")
    r.feed(11, 4, 0)
    r.one(r.cmd(12, "reset", area="Main", user="guard"), "reset")
    ds = r.feed(20, 5, 1)
    alarm = r.one(ds, "alarm")
    assert alarm.verified is False and r.of(ds, "verified") == []
    assert r.one(r.feed(30, 4, 1), "verified").cid == 129   # the two in this incident do


def test_a_short_dropout_is_not_sabotage(mk):
    r = rig(mk, sabotage={"count": 3, "window_s": 60, "grace_s": 5})
    for p in (1, 2, 3):
        r.feed(0.5, p, 0)
    ds = []
    for p in (1, 2, 3):                              # three 1 s dropouts
        ds += r.feed(p, p, 4) + r.feed(p + 1, p, 0)
    ds += r.adv(30)
    assert r.of(ds, "alarm") == []
    for p in (1, 2, 3):                              # three real losses
        r.feed(40 + p, p, 4)
    alarm = r.one(r.adv(49), "alarm")
    assert alarm.cid == 137 and alarm.t_ns == 48 * 10**9
