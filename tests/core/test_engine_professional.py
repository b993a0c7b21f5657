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
