"""Professional panel behaviour (issue 11, "Missing professional behaviour"): prevention of
setting, duress, bell re-arms, forced arm, offline, sabotage, keypad hold-up confirmation,
restore after restart, hold-up restore at reset, abort window, recent closing, zone types,
hold-up fallback policy. Both builds; each rule is listed in docs/developer/engine.md.
"""
from engine_rig import S, ns

PANIC = {"name": "Till panic", "point": 1, "type": "panic"}
LID = {"name": "Lid", "point": 2, "type": "tamper"}
BEAM = {"name": "Beam", "point": 3, "type": "perimeter"}
DOOR = {"name": "Front door", "point": 4, "type": "entry_exit"}
PIR = {"name": "Hall PIR", "point": 5, "type": "interior"}


# ---- prevention of setting (EN 50131-1) -----------------------------------------------------

def test_prevention_of_setting_by_an_unreset_hold_up_incident(mk):
    r = mk([PANIC, BEAM])
    r.feed(1, 1, 1)
    r.feed(2, 1, 0)
    ds = r.cmd(3, "arm_away", area="Main", user="u")
    assert r.kinds(ds) == ["refused"]
    assert "prevention of setting" in ds[0].text and "hold-up incident 1 not reset" in ds[0].text
    r.cmd(4, "reset", area="Main", user="u")
    assert r.of(r.cmd(5, "arm_away", area="Main", user="u"), "area")


def test_prevention_of_setting_by_a_tamper_or_fault_unless_forced(mk):
    r = mk([LID, PANIC, BEAM])
    r.feed(1, 2, 1)                                 # lid open
    ds = r.cmd(3, "arm_away", area="Main", user="u")
    assert r.kinds(ds) == ["refused"] and "tamper on 'Lid'" in ds[0].text
    r.feed(4, 2, 0)
    r.cmd(5, "reset", area="Main", user="u")
    r.feed(6, 1, 3)                                 # panic loop shorted: a fault
    ds = r.cmd(7, "arm_away", area="Main", user="u")
    assert r.kinds(ds) == ["refused"] and "fault" in ds[0].text and "Till panic" in ds[0].text
    ds = r.cmd(8, "arm_away", area="Main", user="u", force=True)
    assert r.one(ds, "reset").cid == 406            # the forced arm closes the old incident
    assert r.of(ds, "area")[-1].state == "exit_delay"


# ---- duress (EN 50131-3): nothing changes on site ---------------------------------------------

def test_a_duress_disarm_is_a_normal_disarm_and_only_121_is_reported(mk):
    r = mk([BEAM, DOOR])
    r.arm(0)
    r.feed(1100, 4, 1)                               # entry delay
    ds = r.cmd(1105, "duress", area="Main", user="pin:guard")
    assert r.kinds(ds) == ["alarm"] and ds[0].cid == 121
    assert r.e.snapshot()["areas"]["Main"]["state"] == "entry_delay"
    ds = r.cmd(1106, "disarm", area="Main", user="pin:guard")
    area = r.one(ds, "area")
    assert (area.state, area.cid, area.q) == ("disarmed", 401, 1)
    r.feed(1110, 4, 0)
    ds = r.cmd(1200, "arm_away", area="Main", user="u")   # no prevention of setting
    assert r.of(ds, "area")[-1].state == "exit_delay"


def test_duress_while_armed_does_not_put_the_area_in_alarm(mk):
    r = mk([BEAM])
    r.arm(0)
    ds = r.cmd(1100, "duress", area="Main", user="pin:guard")
    assert r.kinds(ds) == ["alarm"]
    assert r.e.snapshot()["areas"]["Main"]["state"] == "armed_away"


# ---- bell re-arms and total sounding per armed period ------------------------------------------

def test_bell_re_sounds_are_capped_per_armed_period(mk):
    r = mk([dict(BEAM, profile="instant")], area={"bell_cutoff_s": 300, "bell_rearms": 2,
                                                  "bell_max_s": 0})
    r.arm(0)
    sounded = 0
    for i in range(5):                              # five trips, each after the bell cut-off
        t = 1100 + 400 * i
        ds = r.feed(t, 3, 1)
        r.feed(t + 1, 3, 0)
        if ("siren1", True) in r.outputs(ds):
            sounded += 1
        r.adv(t + 350)
    assert sounded == 3                              # the first sounding and 2 re-arms
    r.cmd(4000, "disarm", area="Main", user="u")
    r.arm(4100)                                      # a new armed period: the count restarts
    assert ("siren1", True) in r.outputs(r.feed(5200, 3, 1))


def test_total_sounding_is_capped_near_20_minutes(mk):
    r = mk([dict(BEAM, profile="instant")], area={"bell_cutoff_s": 900, "bell_max_s": 1200})
    r.arm(0)
    r.feed(1100, 3, 1)
    r.feed(1101, 3, 0)
    assert ("siren1", False) in r.outputs(r.adv(1100 + 900))
    ds = r.feed(2100, 3, 1)
    assert ("siren1", True) in r.outputs(ds)
    ds = r.adv(2100 + 300)                           # only the 300 s left of the budget
    assert r.one(ds, "output").t_ns == ns(2400) and ("siren1", False) in r.outputs(ds)
    r.feed(2500, 3, 0)
    assert ("siren1", True) not in r.outputs(r.feed(2600, 3, 1))


def test_tamper_zones_count_towards_swinger_shutdown(mk):
    r = mk([LID], area={"swinger_limit": 2})
    r.arm(0)
    r.feed(1100, 2, 1)
    r.feed(1101, 2, 0)
    ds = r.feed(1102, 2, 1)
    assert r.one(ds, "bypass").text == "swinger shutdown after 2 trips"


# ---- a forced set inhibits an open zone only until it closes ------------------------------------

def test_a_forced_arm_bypasses_an_open_zone_only_until_it_closes(mk):
    r = mk([BEAM, DOOR])
    r.feed(1, 3, 1)                                  # beam blocked
    r.feed(1, 4, 1)                                  # door open
    ds = r.cmd(2, "arm_away", area="Main", user="u", force=True)
    assert len(r.of(ds, "bypass")) == 2
    r.feed(10, 4, 0)                                 # the user leaves and shuts the door
    ds = r.adv(30)
    assert not r.of(ds, "alarm")
    assert r.one(r.feed(35, 4, 1), "area").state == "entry_delay"
    ds = r.feed(40, 3, 0)
    assert r.one(ds, "bypass").q == 3
    assert r.one(r.feed(50, 3, 1), "alarm").cid == 131


# ---- offline ---------------------------------------------------------------------------------

def test_an_armed_intruder_zone_that_goes_offline_alarms_by_default(mk):
    pir = dict(PIR, offline_alarm=None, offline_grace_s=10)
    r = mk([pir])
    ds = r.feed(1, 5, 4) + r.adv(20)                  # disarmed: a trouble only
    assert r.one(ds, "trouble").cid == 147 and r.of(ds, "alarm") == []
    r.feed(21, 5, 0)
    r.arm(30)
    ds = r.feed(1100, 5, 4) + r.adv(1111)
    assert r.one(ds, "alarm").cid == 132 and r.one(ds, "trouble").cid == 147


# ---- keypad hold-up confirmation, verified names its own area's zone -------------------------

def test_a_keypad_panic_confirms_a_hold_up_zone(mk):
    hold = {"holdup": {"window_s": 120, "siren_on_verify": False}}
    r = mk([dict(PANIC, groups=["holdup"])], groups=hold)
    r.feed(1, 1, 1)
    ds = r.cmd(30, "panic", area="Main", user="keypad:1")
    v = r.one(ds, "verified")
    assert (v.cid, v.zone) == (129, "") and "keypad:Main" in v.text


def test_a_keypad_duress_confirms_without_sounding(mk):
    hold = {"holdup": {"window_s": 120, "siren_on_verify": True}}
    r = mk([dict(PANIC, groups=["holdup"])], groups=hold)
    r.cmd(1, "duress", area="Main", user="pin:guard")
    ds = r.feed(30, 1, 1)
    assert r.one(ds, "verified").cid == 129
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True)]  # the zone's press may sound
    r2 = mk([dict(PANIC, groups=["holdup"])], groups=hold)
    r2.feed(1, 1, 1)
    ds = r2.cmd(30, "duress", area="Main", user="pin:guard")
    assert r2.one(ds, "verified").cid == 129 and r2.outputs(ds) == []


def test_verified_decisions_name_a_zone_of_their_own_area(mk):
    areas = {"A": {"exit_delay_s": 0, "sirens": [], "strobes": []},
             "B": {"exit_delay_s": 0, "sirens": [], "strobes": []}}
    g = {"yard": {"window_s": 600, "siren_on_verify": False}}
    r = mk([dict(BEAM, area="A", groups=["yard"]), dict(PIR, type="perimeter", area="B",
                                                        groups=["yard"])],
           areas=areas, groups=g)
    r.cmd(1, "arm_away", area="A")
    r.cmd(1, "arm_away", area="B")
    r.feed(10, 3, 1)
    ds = r.feed(20, 5, 1)
    assert sorted((d.area, d.zone) for d in r.of(ds, "verified")) == [("A", "Beam"),
                                                                      ("B", "Hall PIR")]


# ---- restore after a restart -----------------------------------------------------------------

def test_restore_keeps_pulse_counts_and_never_bypasses_a_panic_zone(mk, eng):
    pir = dict(PIR, profile="pulse3")
    r = mk([PANIC, pir])
    r.arm(0)
    r.feed(1100, 5, 1)
    r.feed(1101, 5, 0)
    r.feed(1102, 5, 1)
    r.feed(1103, 5, 0)                               # two of three pulses counted
    snap = r.e.snapshot()
    snap["zones"]["Till panic"]["bypassed"] = "manual"   # a doctored or stale snapshot
    e2 = eng.Engine(r.site)
    e2.restore(snap, 5 * S)
    assert e2.snapshot()["zones"]["Till panic"]["bypassed"] == ""
    ds = e2.feed(6 * S, 5, 1)                        # the third pulse after the restart
    assert [d.cid for d in ds if d.kind == "alarm"] == [132]
    ds = e2.feed(7 * S, 1, 1)
    assert [d.cid for d in ds if d.kind == "alarm"] == [120]


def test_an_incident_naming_a_zone_no_longer_configured_can_be_reset(mk, eng):
    r = mk([PANIC, BEAM])
    r.feed(1, 1, 1)
    r.feed(2, 1, 0)
    snap = r.e.snapshot()
    site = dict(r.site, zones=[z for z in r.site["zones"] if z["name"] != "Till panic"])
    e2 = eng.Engine(site)
    e2.restore(snap, S)
    ds = e2.command(2 * S, "reset", area="Main", user="installer")
    assert [d.kind for d in ds if d.kind in ("reset", "refused")] == ["reset"]


def test_a_hold_up_restore_is_reported_at_reset_not_at_release(mk):
    r = mk([PANIC])
    r.feed(1, 1, 1)
    assert r.of(r.feed(2, 1, 0), "restore") == []
    ds = r.cmd(60, "reset", area="Main", user="guard")
    assert [(d.kind, d.cid, d.q) for d in ds if d.kind in ("restore", "reset")] == [
        ("restore", 120, 3), ("reset", 406, 3)]


# ---- SIA CP-01: abort window, recent closing; entry start reported; final door ----------------

def test_an_intruder_alarm_disarmed_within_the_abort_window_is_cancelled(mk):
    r = mk([dict(BEAM, silent=True)], area={"abort_window_s": 30})
    r.arm(0)
    inc = r.one(r.feed(2000, 3, 1), "alarm").incident
    ds = r.cmd(2020, "disarm", area="Main", user="u")
    cancel = r.one(ds, "cancel")
    assert (cancel.cid, cancel.q, cancel.report, cancel.incident) == (406, 1, True, inc)
    assert r.of(r.adv(2200), "fallback") == []       # a cancelled alarm does not fall back


def test_no_cancel_after_the_abort_window(mk):
    r = mk([BEAM], area={"abort_window_s": 30})
    r.arm(0)
    r.feed(2000, 3, 1)
    assert r.of(r.cmd(2031, "disarm", area="Main", user="u"), "cancel") == []


def test_an_alarm_soon_after_setting_sends_recent_closing(mk):
    r = mk([BEAM], area={"recent_closing_s": 120})
    r.cmd(0, "arm_away", area="Main", user="alice")
    r.adv(21)
    ds = r.feed(60, 3, 1)
    rc = r.one(ds, "recent_closing")
    assert (rc.cid, rc.q, rc.report, rc.user) == (459, 1, True, "alice")
    r.feed(61, 3, 0)
    assert r.of(r.feed(62, 3, 1), "recent_closing") == []   # once per armed period
    r2 = mk([BEAM], area={"recent_closing_s": 120})
    r2.arm(0)
    assert r2.of(r2.feed(2000, 3, 1), "recent_closing") == []


def test_closing_the_final_door_ends_the_exit(mk):
    r = mk([DOOR, BEAM], area={"exit_mode": "final_door", "exit_delay_s": 60})
    r.cmd(0, "arm_away", area="Main", user="u")
    r.feed(5, 4, 1)
    ds = r.feed(8, 4, 0)
    area = r.of(ds, "area")[-1]
    assert (area.state, area.t_ns) == ("armed_away", ns(8))


# ---- zone types that really alarm ------------------------------------------------------------

def test_fire_is_an_audible_24h_alarm_with_its_own_cadence_that_disarm_does_not_stop(mk):
    r = mk([{"name": "Smoke", "point": 8, "type": "fire"}, BEAM])
    r.arm(0)
    ds = r.feed(1100, 8, 1)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.silent) == (110, False)
    siren = [d for d in ds if d.kind == "output" and d.output == "siren1"][0]
    assert (siren.on, siren.state) == (True, "fire")
    ds = r.cmd(1110, "disarm", area="Main", user="u")
    assert ("siren1", False) not in r.outputs(ds)
    r2 = mk([{"name": "Smoke", "point": 8, "type": "fire"}])
    assert r2.one(r2.feed(1, 8, 1), "alarm").silent is False       # disarmed: sounds too


def test_medical_audible_24h_and_technical_24h_alarm_in_every_state(mk):
    zones = [{"name": "Bed", "point": 9, "type": "medical"},
             {"name": "Vault", "point": 10, "type": "audible_24h"},
             {"name": "Flood", "point": 11, "type": "technical_24h"},
             {"name": "Gas", "point": 12, "type": "technical_24h", "cid": 151}]
    r = mk(zones)
    got = {}
    for p in (9, 10, 11, 12):
        a = r.one(r.feed(p, p, 1), "alarm")
        got[a.zone] = (a.cid, a.silent)
    assert got == {"Bed": (100, True), "Vault": (123, False), "Flood": (150, True),
                   "Gas": (151, True)}
    assert r.one(r.feed(20, 11, 3), "alarm").cid == 150        # a short alarms too


# ---- the silent hold-up's local fallback: a per-area policy -----------------------------------

def _holdup_fallback(mk, policy):
    r = mk([PANIC], area={"holdup_fallback": policy, "buzzers": ["buzzer1"], "fallback_s": 60})
    r.feed(1, 1, 1)
    return r, r.adv(62)


def test_holdup_fallback_siren_is_the_default(mk):
    r = mk([PANIC], area={"fallback_s": 60})
    r.feed(1, 1, 1)
    ds = r.adv(62)
    assert r.one(ds, "fallback").cid == 354
    assert sorted(r.outputs(ds)) == [("siren1", True), ("strobe1", True)]


def test_holdup_fallback_strobe_buzzer_or_none(mk):
    r, ds = _holdup_fallback(mk, "strobe")
    assert r.outputs(ds) == [("strobe1", True)]
    r, ds = _holdup_fallback(mk, "buzzer")
    assert r.outputs(ds) == [("buzzer1", True)]
    assert r.outputs(r.ack(63, 1)) == [("buzzer1", False)]
    r, ds = _holdup_fallback(mk, "none")
    assert r.one(ds, "fallback").report and r.outputs(ds) == []


def test_a_silent_intruder_alarm_still_falls_back_to_the_siren(mk):
    r = mk([dict(BEAM, silent=True)], area={"holdup_fallback": "none", "fallback_s": 60})
    r.arm(0)
    r.feed(1100, 3, 1)
    assert ("siren1", True) in r.outputs(r.adv(1161))
