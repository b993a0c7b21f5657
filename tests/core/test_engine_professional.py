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
