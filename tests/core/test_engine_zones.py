"""Zone types and loop states (both builds)."""
PANIC = {"name": "Reception", "point": 1, "type": "panic"}
DURESS = {"name": "Till", "point": 2, "type": "duress"}
TAMPER = {"name": "Box lid", "point": 3, "type": "tamper"}
PERIM = {"name": "North A", "point": 4, "type": "perimeter"}
DOOR = {"name": "Front door", "point": 5, "type": "entry_exit"}
PIR = {"name": "Hall PIR", "point": 6, "type": "interior"}
MAINS = {"name": "Mains", "point": 7, "type": "technical", "cid": 301}
KEY = {"name": "Key", "point": 8, "type": "keyswitch"}
ALL = [PANIC, DURESS, TAMPER, PERIM, DOOR, PIR, MAINS, KEY]


def test_panic_alarms_silently_when_disarmed_and_latches(mk):
    r = mk(ALL)
    ds = r.feed(1, 1, 1)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.q, alarm.silent, alarm.report, alarm.incident) == (120, 1, True, True, 1)
    assert alarm.text == "Panic button 'Reception' pressed"
    assert r.outputs(ds) == []
    ds = r.feed(2, 1, 0)
    assert r.of(ds, "restore") == []           # the hold-up's restore (3120) waits for reset
    snap = r.e.snapshot()
    assert snap["zones"]["Reception"]["latched"] is True
    assert snap["incidents"][0]["zones"] == ["Reception"]
    ds = r.cmd(3, "reset", area="Main", user="guard")
    restore = r.one(ds, "restore")
    assert (restore.cid, restore.q, restore.incident, restore.zone) == (120, 3, 1, "Reception")
    assert r.kinds(ds)[:2] == ["restore", "reset"]


def test_panic_cannot_be_bypassed_or_disarmed(mk):
    r = mk(ALL)
    ds = r.cmd(1, "bypass", zone="Reception", user="console:u")
    assert r.kinds(ds) == ["refused"] and "cannot be bypassed" in ds[0].text
    r.arm(3)
    r.feed(1100, 1, 1)
    r.cmd(2000, "disarm", area="Main", user="u")
    snap = r.e.snapshot()
    assert snap["incidents"][0]["zones"] == ["Reception"]
    assert snap["zones"]["Reception"]["latched"]


def test_duress_zone_is_a_silent_24h_alarm(mk):
    r = mk(ALL)
    alarm = r.one(r.feed(1, 2, 1), "alarm")
    assert (alarm.cid, alarm.silent) == (121, True)


def test_tamper_zone_is_silent_disarmed_and_audible_armed(mk):
    r = mk(ALL)
    ds = r.feed(1, 3, 1)
    assert (r.one(ds, "alarm").cid, r.one(ds, "alarm").silent) == (144, True)
    assert r.outputs(ds) == []
    r.feed(2, 3, 0)
    r.cmd(3, "reset", area="Main")
    r.arm(4)
    ds = r.feed(2000, 3, 1)
    assert r.one(ds, "alarm").silent is False
    assert ("siren1", True) in r.outputs(ds)


def test_perimeter_is_ignored_disarmed_and_instant_armed(mk):
    r = mk(ALL)
    assert r.kinds(r.feed(1, 4, 1)) == ["zone"]
    r.feed(2, 4, 0)
    r.arm(3)
    ds = r.feed(2000, 4, 1)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.silent, alarm.text) == (131, False, "Perimeter zone 'North A' triggered")
    assert r.one(ds, "area").state == "alarm"


def test_perimeter_is_ignored_during_exit_delay(mk):
    r = mk(ALL)
    r.cmd(1, "arm_away", area="Main")
    assert r.kinds(r.feed(5, 4, 1)) == ["zone"]


def test_entry_exit_starts_entry_delay_then_alarms(mk):
    r = mk(ALL)
    r.arm(1)
    ds = r.feed(2000, 5, 1)
    area = r.one(ds, "area")
    assert (area.state, area.report, area.zone) == ("entry_delay", True, "Front door")  # crash-and-smash
    assert r.of(ds, "alarm") == []
    assert r.e.next_deadline() == 2030 * 10**9
    ds = r.adv(2030)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.zone, alarm.t_ns) == (134, "Front door", 2030 * 10**9)


def test_disarm_during_entry_delay_cancels_it(mk):
    r = mk(ALL)
    r.arm(1)
    r.feed(2000, 5, 1)
    ds = r.cmd(2010, "disarm", area="Main", user="card:1")
    assert r.one(ds, "area").state == "disarmed"
    assert r.adv(3000) == []


def test_entry_exit_ignored_during_exit_delay(mk):
    r = mk(ALL)
    r.cmd(1, "arm_away", area="Main")
    assert r.kinds(r.feed(5, 5, 1)) == ["zone"]
    assert r.kinds(r.feed(6, 5, 0)) == ["zone"]
    ds = r.adv(100)
    assert r.one(ds, "area").state == "armed_away"
    assert r.of(ds, "alarm") == []


def test_exit_error_door_left_open_starts_entry_delay(mk):
    r = mk(ALL)
    r.cmd(1, "arm_away", area="Main")
    r.feed(5, 5, 1)
    ds = r.adv(21)
    assert [d.state for d in r.of(ds, "area")] == ["armed_away", "entry_delay"]


def test_interior_follows_entry_delay_and_is_instant_otherwise(mk):
    r = mk(ALL)
    r.arm(1)
    r.feed(2000, 5, 1)
    assert r.kinds(r.feed(2001, 6, 1)) == ["zone"]     # follower during entry delay
    r.cmd(2002, "disarm", area="Main")
    r.feed(2003, 6, 0)
    r.feed(2003, 5, 0)
    r.arm(2004)
    ds = r.feed(4000, 6, 1)
    assert r.one(ds, "alarm").cid == 132


def test_interior_ignored_armed_stay(mk):
    r = mk(ALL)
    r.arm(1, "arm_stay")
    assert r.kinds(r.feed(2000, 6, 1)) == ["zone"]
    assert r.one(r.feed(2001, 4, 1), "alarm").cid == 131


def test_technical_zone_raises_trouble_with_its_cid_never_alarm(mk):
    r = mk(ALL)
    r.arm(1)
    ds = r.feed(2000, 7, 1)
    trouble = r.one(ds, "trouble")
    assert (trouble.cid, trouble.q, trouble.report) == (301, 1, True)
    assert r.of(ds, "alarm") == []
    assert r.one(r.feed(2001, 7, 0), "trouble_restore").cid == 301


def test_technical_default_code_is_300(mk):
    r = mk([dict(MAINS, cid=None)])
    assert r.one(r.feed(1, 7, 1), "trouble").cid == 300


def test_loop_tamper_on_any_zone_is_a_24h_tamper_alarm(mk):
    r = mk(ALL)
    ds = r.feed(1, 6, 2)                        # disarmed interior zone, loop cut
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.zone, alarm.silent) == (383, "Hall PIR", True)
    assert r.one(r.feed(2, 6, 0), "restore").cid == 383


def test_loop_tamper_is_audible_when_armed(mk):
    r = mk(ALL)
    r.arm(1)
    ds = r.feed(2000, 4, 2)
    assert r.one(ds, "alarm").silent is False and ("siren1", True) in r.outputs(ds)


def test_loop_fault_is_a_trouble(mk):
    r = mk(ALL)
    ds = r.feed(1, 4, 3)
    assert r.one(ds, "trouble").cid == 380 and r.of(ds, "alarm") == []
    assert r.one(r.feed(2, 4, 0), "trouble_restore").cid == 380


def test_zone_cid_overrides_the_type_code(mk):
    r = mk([dict(PANIC, cid=122)])
    assert r.one(r.feed(1, 1, 1), "alarm").cid == 122


def test_silent_override(mk):
    r = mk([dict(PANIC, silent=False), dict(PERIM, silent=True)])
    ds = r.feed(1, 1, 1)
    assert r.one(ds, "alarm").silent is False and ("siren1", True) in r.outputs(ds)
    r.feed(2, 1, 0)
    r.cmd(3, "reset", area="Main")
    r.arm(4)
    ds = r.feed(2000, 4, 1)
    assert r.one(ds, "alarm").silent is True and r.outputs(ds) == []


def test_maintained_keyswitch_arms_and_disarms(mk):
    r = mk(ALL, area={"exit_delay_s": 0})
    ds = r.feed(1, 8, 1)
    area = r.one(ds, "area")
    assert (area.state, area.cid, area.q, area.user) == ("armed_away", 409, 3, "keyswitch")
    ds = r.feed(2, 8, 0)
    area = r.one(ds, "area")
    assert (area.state, area.cid, area.q, area.user) == ("disarmed", 409, 1, "keyswitch")


def test_momentary_keyswitch_toggles(mk):
    r = mk([dict(KEY, momentary=True)], area={"exit_delay_s": 0})
    assert r.one(r.feed(1, 8, 1), "area").state == "armed_away"
    assert r.of(r.feed(2, 8, 0), "area") == []
    assert r.one(r.feed(3, 8, 1), "area").state == "disarmed"


def test_keyswitch_arming_is_refused_with_zones_not_ready(mk):
    r = mk(ALL, area={"exit_delay_s": 0})
    r.feed(1, 4, 1)
    ds = r.feed(2, 8, 1)
    refused = r.one(ds, "refused")
    assert "North A" in refused.text and refused.user == "keyswitch"
