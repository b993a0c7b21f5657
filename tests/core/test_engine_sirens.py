"""Sirens, strobes, fallback, bell cut-off, silence, reset, siren test (both builds)."""
PANIC = {"name": "Reception", "point": 1, "type": "panic"}
PERIM = {"name": "North A", "point": 4, "type": "perimeter"}
PIR = {"name": "Hall PIR", "point": 6, "type": "interior"}
ZONES = [PANIC, PERIM, PIR]
TWO_AREAS = {
    "Main": {"entry_delay_s": 30, "exit_delay_s": 0, "bell_cutoff_s": 600, "fallback_s": 60,
             "sirens": ["siren1"], "strobes": ["strobe1"]},
    "Vault": {"entry_delay_s": 30, "exit_delay_s": 0, "bell_cutoff_s": 600, "fallback_s": 60,
              "sirens": ["siren1", "siren2"], "strobes": ["strobe2"]},
}


def test_audible_alarm_orders_sirens_and_strobes_once(mk):
    r = mk(ZONES)
    r.arm(1)
    ds = r.feed(2000, 4, 1)
    out = r.of(ds, "output")
    assert [(o.output, o.on, o.cid, o.report, o.incident) for o in out] == [
        ("siren1", True, 0, False, 1), ("strobe1", True, 0, False, 1)]
    r.feed(2001, 4, 0)
    assert r.outputs(r.feed(2002, 6, 1)) == []       # already on: edge-only


def test_silent_alarm_acked_in_time_never_sounds(mk):
    r = mk(ZONES)
    r.feed(1, 1, 1)
    ack = r.one(r.ack(30, 1), "ack")
    assert (ack.incident, ack.cid, ack.report, ack.user) == (1, 0, False, "platform")
    assert r.adv(1000) == []
    assert r.ack(1001, 1) == []                       # a repeated ack decides nothing


def test_silent_alarm_not_acked_falls_back_to_the_siren(mk):
    r = mk(ZONES)
    r.feed(1, 1, 1)
    assert r.adv(60.9) == []
    ds = r.adv(61)
    fb = r.one(ds, "fallback")
    assert (fb.cid, fb.q, fb.report, fb.incident, fb.t_ns) == (354, 1, True, 1, 61 * 10**9)
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True)]
    ds = r.ack(70, 1)                                  # a late ack turns the fallback siren off
    assert r.outputs(ds) == [("siren1", False)]


def test_silent_alarm_with_uplink_down_sounds_at_once(mk):
    r = mk(ZONES)
    assert r.uplink(1, False) == []
    ds = r.feed(2, 1, 1)
    assert r.kinds(ds) == ["zone", "alarm", "fallback", "output", "output"]
    assert r.one(ds, "fallback").cid == 350


def test_uplink_lost_with_an_unacked_silent_incident_sounds(mk):
    r = mk(ZONES)
    r.feed(1, 1, 1)
    ds = r.uplink(10, False)
    assert r.one(ds, "fallback").cid == 350 and ("siren1", True) in r.outputs(ds)
    assert r.adv(1000) != []                          # bell cut-off later, no second fallback
    assert r.of(r.adv(2000), "fallback") == []


def test_uplink_lost_after_ack_does_not_sound(mk):
    r = mk(ZONES)
    r.feed(1, 1, 1)
    r.ack(5, 1)
    assert r.uplink(10, False) == []


def test_ack_of_unknown_incident_is_refused(mk):
    r = mk(ZONES)
    assert r.kinds(r.ack(1, 42)) == ["refused"]


def test_bell_cutoff_turns_sirens_off_strobes_stay_until_reset(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 4, 1)
    assert r.adv(2599) == []
    assert r.outputs(r.adv(2600)) == [("siren1", False)]
    r.feed(2700, 4, 0)
    ds = r.cmd(2701, "reset", area="Main")
    assert r.outputs(ds) == [("strobe1", False)]


def test_silence_turns_sirens_off_and_cancels_a_pending_fallback(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 4, 1)
    ds = r.cmd(2001, "silence", area="Main", user="console:g")
    sil = r.one(ds, "silence")
    assert (sil.cid, sil.q, sil.user) == (406, 1, "console:g")
    assert r.outputs(ds) == [("siren1", False)]
    r2 = mk(ZONES)
    r2.feed(1, 1, 1)
    r2.cmd(2, "silence", area="Main")
    assert r2.adv(1000) == []


def test_silence_with_nothing_to_silence_is_refused(mk):
    r = mk(ZONES)
    assert r.kinds(r.cmd(1, "silence", area="Main")) == ["refused"]


def test_siren_test_runs_for_arg_seconds(mk):
    r = mk(ZONES)
    ds = r.cmd(1, "siren_test", area="Main", arg=5, user="console:i")
    t = r.one(ds, "test")
    assert (t.cid, t.q, t.report, t.user) == (601, 1, True, "console:i")
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True)]
    assert r.adv(5.9) == []
    assert r.outputs(r.adv(6)) == [("siren1", False), ("strobe1", False)]


def test_siren_test_of_every_area_and_bad_duration(mk):
    r = mk([PANIC, dict(PERIM, area="Vault")], areas=TWO_AREAS)
    ds = r.cmd(1, "siren_test", arg=3)
    assert [d.area for d in r.of(ds, "test")] == ["Main", "Vault"]
    assert r.outputs(ds) == [("siren1", True), ("strobe1", True), ("siren2", True),
                             ("strobe2", True)]
    assert r.kinds(r.cmd(2, "siren_test", area="Main", arg=0)) == ["refused"]


def test_shared_siren_stays_on_while_another_area_wants_it(mk):
    r = mk([PANIC, dict(PERIM, area="Vault"), PIR], areas=TWO_AREAS)
    r.arm(1, area="Main")
    r.arm(1, area="Vault")
    r.feed(2000, 6, 1)       # Main: siren1 strobe1
    ds = r.feed(2001, 4, 1)  # Vault: siren1 already on, siren2, strobe2
    assert r.outputs(ds) == [("siren2", True), ("strobe2", True)]
    ds = r.cmd(2002, "silence", area="Main")
    assert r.outputs(ds) == []                        # Vault still wants siren1


def test_ack_does_not_silence_an_audible_alarm(mk):
    r = mk(ZONES)
    r.arm(1)
    r.feed(2000, 1, 1)                                # silent panic -> fallback pending
    r.feed(2001, 4, 1)                                # audible perimeter
    assert r.outputs(r.ack(2002, 1)) == []


def test_duress_never_sounds_locally_not_even_as_a_fallback(mk):
    duress = {"name": "Keypad duress", "point": 7, "type": "duress"}
    r = mk([duress, PERIM])
    ds = r.feed(1, 7, 1)
    alarm = r.one(ds, "alarm")
    assert (alarm.cid, alarm.silent) == (121, True) and r.outputs(ds) == []
    assert r.of(r.adv(1000), "fallback") == []          # no ack, long past fallback_s
    assert r.outputs(r.uplink(1001, False)) == []       # uplink lost: still nothing on site
    ds = r.cmd(1002, "duress", area="Main", user="pin:guard")
    assert r.outputs(ds) == [] and r.of(ds, "fallback") == []
