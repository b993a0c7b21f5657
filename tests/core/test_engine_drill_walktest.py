"""Drill flag and walk test (both builds)."""
PANIC = {"name": "Reception", "point": 1, "type": "panic"}
PERIM = {"name": "North A", "point": 4, "type": "perimeter"}
PIR = {"name": "Hall PIR", "point": 6, "type": "interior"}
MAINS = {"name": "Mains", "point": 7, "type": "technical"}
ZONES = [PANIC, PERIM, PIR, MAINS]


def test_drill_marks_decisions_between_start_and_stop(mk):
    r = mk(ZONES)
    start = r.one(r.cmd(1, "drill_start", area="Main", user="u"), "drill")
    assert (start.drill, start.report, start.q, start.cid) == (True, True, 1, 0)
    ds = r.feed(2, 1, 1)
    assert all(d.drill for d in ds) and r.one(ds, "alarm").cid == 120
    stop = r.one(r.cmd(3, "drill_stop", area="Main"), "drill")
    assert stop.q == 3
    assert not any(d.drill for d in r.feed(4, 1, 0))
    assert r.kinds(r.cmd(5, "drill_stop", area="Main")) == ["refused"]


def test_walk_test_reports_607_instead_of_alarms(mk):
    r = mk(ZONES)
    start = r.one(r.cmd(1, "walktest_start", area="Main", user="installer"), "walktest")
    assert (start.cid, start.q, start.zone) == (607, 1, "")
    ds = r.feed(2, 4, 2)                    # a loop opened in walk test: 607, no incident
    assert r.one(ds, "walktest").text == "Walk test: 'North A' loop tamper"
    assert r.of(ds, "alarm") == [] and r.e.snapshot()["incidents"] == []
    r.feed(3, 4, 0)
    ds = r.feed(4, 6, 1)
    wt = r.one(ds, "walktest")
    assert (wt.cid, wt.q, wt.zone, wt.report) == (607, 1, "Hall PIR", True)
    assert r.of(ds, "alarm") == []
    snap = r.e.snapshot()["areas"]["Main"]
    assert snap["walktest_tripped"] == ["North A", "Hall PIR"]
    assert snap["walktest_untripped"] == [n for n in snap["walktest_scope"]
                                          if n not in ("North A", "Hall PIR")]
    stop = r.one(r.cmd(5, "walktest_stop", area="Main"), "walktest")
    assert stop.q == 3 and stop.text.endswith("not tripped: Reception, Mains")


def test_panic_still_alarms_for_real_during_walk_test(mk):
    r = mk(ZONES)
    r.cmd(1, "walktest_start", area="Main")
    ds = r.feed(2, 1, 1)
    assert r.kinds(ds) == ["zone", "walktest", "alarm"]
    assert r.one(ds, "alarm").cid == 120


def test_walk_test_needs_a_disarmed_area_and_blocks_arming(mk):
    r = mk(ZONES)
    r.cmd(1, "arm_away", area="Main")
    assert "disarmed" in r.one(r.cmd(2, "walktest_start", area="Main"), "refused").text
    r.cmd(3, "disarm", area="Main")
    r.cmd(4, "walktest_start", area="Main")
    assert "walk test" in r.one(r.cmd(5, "arm_away", area="Main"), "refused").text
    assert r.kinds(r.cmd(6, "walktest_start", area="Main")) == ["refused"]


def test_technical_zone_reports_607_in_walk_test(mk):
    r = mk(ZONES)
    r.cmd(1, "walktest_start", area="Main")
    assert r.kinds(r.feed(2, 7, 1)) == ["zone", "walktest"]    # tested, not a trouble


def test_walk_test_scope_is_one_list_and_a_bypassed_zone_is_out_of_it(mk):
    lid = {"name": "Lid", "point": 8, "type": "tamper"}
    r = mk(ZONES + [lid])
    r.cmd(1, "bypass", zone="Lid", user="installer")
    assert r.e.walktest_scope("Main") == ["Reception", "North A", "Hall PIR", "Mains"]
    r.cmd(2, "walktest_start", area="Main", user="installer")
    assert r.e.snapshot()["areas"]["Main"]["walktest_scope"] == r.e.walktest_scope("Main")
    ds = r.feed(3, 8, 2)                               # out of scope: a real loop tamper
    assert r.one(ds, "alarm").cid == 383
    ds = r.feed(4, 7, 3)                               # in scope: shorted loop is tested
    assert r.kinds(ds) == ["zone", "walktest"]


def test_walk_test_ends_by_itself_after_its_timeout(mk):
    r = mk(ZONES)
    r.e = r.mod.Engine(dict(r.site, walktest_timeout_s=600))
    r.cmd(1, "walktest_start", area="Main", user="installer")
    assert r.e.snapshot()["areas"]["Main"]["timers"]["walktest"] == 600 * 10**9
    end = r.one(r.adv(601), "walktest")
    assert (end.q, end.t_ns, end.report) == (3, 601 * 10**9, True)
    assert "timeout" in end.text and not r.e.snapshot()["areas"]["Main"]["walktest"]
    assert r.one(r.feed(700, 4, 2), "alarm").cid == 383    # back to real


def test_walk_test_default_timeout_is_30_minutes(mk):
    r = mk(ZONES)
    r.cmd(1, "walktest_start", area="Main")
    assert r.one(r.adv(1 + 1800), "walktest").q == 3
