"""Areas: arming, disarming, bypass, command refusals (both builds)."""
import pytest

PERIM = {"name": "North A", "point": 4, "type": "perimeter"}
DOOR = {"name": "Front door", "point": 5, "type": "entry_exit"}
PIR = {"name": "Hall PIR", "point": 6, "type": "interior"}
PANIC = {"name": "Reception", "point": 1, "type": "panic"}
DURESS = {"name": "Till", "point": 2, "type": "duress"}
ZONES = [PERIM, DOOR, PIR, PANIC, DURESS]
TWO_AREAS = {
    "Main": {"entry_delay_s": 30, "exit_delay_s": 20, "bell_cutoff_s": 600, "fallback_s": 60,
             "swinger_limit": 0, "sirens": ["siren1"], "strobes": ["strobe1"]},
    "Vault": {"entry_delay_s": 0, "exit_delay_s": 0, "bell_cutoff_s": 0, "fallback_s": 0,
              "swinger_limit": 0, "sirens": ["siren2"], "strobes": ["strobe2"]},
}


def test_arm_away_runs_the_exit_delay_then_reports_401(mk):
    r = mk(ZONES)
    ds = r.cmd(1, "arm_away", area="Main", user="console:alice")
    exit_ = r.one(ds, "area")
    assert (exit_.state, exit_.report, exit_.user) == ("exit_delay", False, "console:alice")
    assert r.adv(20.9) == []
    ds = r.adv(21)
    armed = r.one(ds, "area")
    assert (armed.state, armed.cid, armed.q, armed.report, armed.user) == \
        ("armed_away", 401, 3, True, "console:alice")
    assert armed.t_ns == 21 * 10**9


def test_arm_stay_reports_441(mk):
    r = mk(ZONES)
    ds = r.arm(1, "arm_stay", user="u")
    assert [(d.state, d.cid) for d in r.of(ds, "area")] == [("exit_delay", 0), ("armed_stay", 441)]


def test_disarm_reports_401_q1(mk):
    r = mk(ZONES)
    r.arm(1)
    area = r.one(r.cmd(2000, "disarm", area="Main", user="card:7"), "area")
    assert (area.state, area.cid, area.q, area.user) == ("disarmed", 401, 1, "card:7")


def test_arming_refused_names_the_active_zones(mk):
    r = mk(ZONES)
    r.feed(1, 4, 1)
    r.feed(1, 6, 2)
    ds = r.cmd(2, "arm_away", area="Main", user="u")
    assert r.kinds(ds) == ["refused"]
    assert "North A (active)" in ds[0].text and "Hall PIR (tamper)" in ds[0].text
    assert r.e.snapshot()["areas"]["Main"]["state"] == "disarmed"


def test_arm_stay_ignores_active_interior_zones(mk):
    r = mk(ZONES)
    r.feed(1, 6, 1)
    assert r.one(r.cmd(2, "arm_stay", area="Main"), "area").state == "exit_delay"


def test_forced_arm_bypasses_each_active_zone_and_reports_it(mk):
    r = mk(ZONES)
    r.feed(1, 4, 1)
    r.feed(1, 6, 4)
    ds = r.cmd(2, "arm_away", area="Main", user="u", force=True)
    bypasses = r.of(ds, "bypass")
    assert [(b.zone, b.cid, b.q, b.text) for b in bypasses] == [
        ("North A", 570, 1, "auto-bypass on forced arm"),
        ("Hall PIR", 570, 1, "auto-bypass on forced arm")]
    assert r.one(ds, "area").state == "exit_delay"
    r.adv(100)
    assert r.of(r.feed(201, 4, 1), "alarm") == []   # still open: bypassed
    ds = r.feed(202, 4, 0)                            # closed: armed again (forced set)
    assert r.one(ds, "bypass").q == 3
    assert r.one(r.feed(203, 4, 1), "alarm").zone == "North A"


def test_bypass_and_unbypass(mk):
    r = mk(ZONES)
    ds = r.cmd(1, "bypass", zone="North A", user="console:bob")
    b = r.one(ds, "bypass")
    assert (b.cid, b.q, b.user) == (570, 1, "console:bob")
    r.arm(2)
    assert r.of(r.feed(2000, 4, 1), "alarm") == []
    r.feed(2001, 4, 0)
    assert r.one(r.cmd(2002, "unbypass", zone="North A"), "bypass").q == 3
    assert r.one(r.feed(2003, 4, 1), "alarm").cid == 131


def test_bypass_refusals(mk):
    r = mk(ZONES)
    for zone in ("Reception", "Till"):
        assert r.kinds(r.cmd(1, "bypass", zone=zone)) == ["refused"]
    r.cmd(1, "bypass", zone="North A")
    assert "already bypassed" in r.one(r.cmd(2, "bypass", zone="North A"), "refused").text
    assert "not bypassed" in r.one(r.cmd(3, "unbypass", zone="Hall PIR"), "refused").text


def test_bypasses_clear_on_disarm(mk):
    r = mk(ZONES)
    r.cmd(1, "bypass", zone="North A")
    r.arm(2)
    ds = r.cmd(2000, "disarm", area="Main")
    b = r.one(ds, "bypass")
    assert (b.zone, b.q, b.text) == ("North A", 3, "bypass cleared on disarm")


def test_disarm_silences_sirens_but_keeps_the_incident_and_strobes(mk):
    r = mk(ZONES)
    r.arm(1)
    ds = r.feed(2000, 4, 1)
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True)]
    ds = r.cmd(2001, "disarm", area="Main")
    assert r.outputs(ds) == [("siren1", False)]
    snap = r.e.snapshot()
    assert snap["incidents"][0]["id"] == 1 and snap["areas"]["Main"]["strobe"] is True


def test_disarm_does_not_silence_a_hold_up(mk):
    r = mk([dict(PANIC, silent=False)] + ZONES[:3])
    r.arm(1)
    ds = r.feed(2000, 1, 1)
    assert ("siren1", True) in r.outputs(ds)
    assert r.outputs(r.cmd(2001, "disarm", area="Main")) == []


def test_command_refusals(mk):
    r = mk(ZONES, areas=TWO_AREAS)
    assert "unknown area" in r.one(r.cmd(1, "arm_away", area="Nope"), "refused").text
    assert "unknown zone" in r.one(r.cmd(1, "bypass", zone="Nope"), "refused").text
    assert "which area" in r.one(r.cmd(1, "arm_away"), "refused").text
    assert "already disarmed" in r.one(r.cmd(1, "disarm", area="Main"), "refused").text
    r.cmd(1, "arm_away", area="Main")
    assert "already exit_delay" in r.one(r.cmd(2, "arm_away", area="Main"), "refused").text
    refused = r.one(r.cmd(3, "bypass", area="Vault", zone="North A"), "refused")
    assert "not in area" in refused.text and refused.report is False and refused.cid == 0


def test_unknown_command_raises(mk):
    r = mk(ZONES)
    with pytest.raises(ValueError):
        r.cmd(1, "self_destruct", area="Main")


def test_single_area_site_needs_no_area_name(mk):
    r = mk(ZONES)
    assert r.one(r.cmd(1, "arm_away"), "area").area == "Main"


def test_areas_are_independent(mk):
    zones = [PERIM, dict(PIR, area="Vault")]
    r = mk(zones, areas=TWO_AREAS)
    r.arm(1, area="Vault")
    ds = r.feed(2000, 6, 1)
    assert r.one(ds, "alarm").area == "Vault"
    assert r.outputs(ds) == [("siren2", True), ("strobe2", True)]
    assert r.of(r.feed(2001, 4, 1), "alarm") == []    # Main is disarmed
    assert [d.area for d in r.of(r.cmd(2002, "panic", area="Main"), "alarm")] == ["Main"]


def test_commanded_panic_and_duress_are_silent_hold_up_alarms(mk):
    r = mk(ZONES)
    ds = r.cmd(1, "duress", area="Main", user="keypad:1")
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.silent, alarm.user, alarm.zone) == (121, True, "keypad:1", "")
    ds = r.cmd(2, "panic", area="Main", user="console:x")
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.incident) == (120, 1)
    assert r.e.snapshot()["incidents"][0]["holdup"] is True


def test_swinger_shutdown_bypasses_after_the_limit_and_resets_on_arm(mk):
    r = mk(ZONES, area={"swinger_limit": 3})
    r.arm(1)
    for i in range(3):
        ds = r.feed(2000 + 2 * i, 4, 1)
        r.feed(2001 + 2 * i, 4, 0)
    assert r.one(ds, "bypass").text == "swinger shutdown after 3 trips"
    assert r.of(r.feed(2010, 4, 1), "alarm") == []
    r.feed(2011, 4, 0)
    r.cmd(2012, "disarm", area="Main")
    r.cmd(2013, "reset", area="Main")
    r.arm(2014)
    for i in range(2):
        assert r.one(r.feed(4000 + 2 * i, 4, 1), "alarm").cid == 131
        r.feed(4001 + 2 * i, 4, 0)
    assert r.of(r.feed(4010, 4, 1), "bypass") != []  # third trip of the new period


def test_buzzers_sound_during_exit_and_entry_delay(mk):
    r = mk([DOOR, PERIM], area={"buzzers": ["buzzer1"]})
    assert r.outputs(r.cmd(1, "arm_away", area="Main")) == [("buzzer1", True)]
    assert r.outputs(r.adv(21)) == [("buzzer1", False)]
    assert r.outputs(r.feed(100, 5, 1)) == [("buzzer1", True)]
    ds = r.adv(130)                                   # entry delay expired: alarm
    assert r.outputs(ds) == [("buzzer1", False), ("siren1", True), ("strobe1", True)]
    r.cmd(131, "disarm", area="Main")
    r.feed(132, 5, 0)
    r.cmd(133, "reset", area="Main")
    r.cmd(134, "arm_away", area="Main")
    assert r.outputs(r.cmd(135, "disarm", area="Main")) == [("buzzer1", False)]


def test_exit_error_keeps_the_buzzer_on(mk):
    r = mk([DOOR], area={"buzzers": ["buzzer1"]})
    r.cmd(1, "arm_away", area="Main")
    r.feed(5, 5, 1)
    assert r.outputs(r.adv(21)) == []
