"""Debounce, inversion, pulse counting and the sample path (both builds)."""
from array import array

from engine_rig import ns

BEAM = {"name": "Beam", "point": 5, "type": "technical", "profile": "std"}  # 100 ms / 300 ms


def test_glitch_shorter_than_debounce_produces_nothing(mk):
    r = mk([BEAM])
    assert r.feed(1.0, 5, 1) == []
    assert r.feed(1.099, 5, 0) == []          # back before 100 ms: both edges vanish
    assert r.adv(10.0) == []
    assert r.e.snapshot()["zones"]["Beam"]["state"] == "normal"


def test_accepted_change_carries_the_time_the_condition_was_met(mk):
    r = mk([BEAM])
    r.feed(1.0, 5, 1)
    ds = r.adv(5.0)                            # noticed 4 s late
    zone = r.one(ds, "zone")
    assert zone.state == "active" and zone.t_ns == ns(1.1)
    assert r.one(ds, "trouble").t_ns == ns(1.1)


def test_change_held_exactly_the_debounce_is_accepted(mk):
    r = mk([BEAM])
    r.feed(1.0, 5, 1)
    ds = r.feed(1.1, 5, 0)                     # the timer due at 1.1 fires before this sample
    assert r.kinds(ds) == ["zone", "trouble"]
    assert ds[0].t_ns == ns(1.1)


def test_restore_uses_restore_ms(mk):
    r = mk([BEAM])
    r.feed(1.0, 5, 1)
    r.adv(2.0)
    r.feed(3.0, 5, 0)
    assert r.adv(3.299) == []                  # restore_ms is 300
    ds = r.adv(3.3)
    assert r.kinds(ds) == ["zone", "trouble_restore"] and ds[0].t_ns == ns(3.3)
    r.feed(4.0, 5, 1)
    assert r.kinds(r.adv(4.1)) == ["zone", "trouble"]


def test_repeated_samples_of_the_pending_value_do_not_restart_the_timer(mk):
    r = mk([BEAM])
    r.feed(1.0, 5, 1)
    r.feed(1.05, 5, 1)
    ds = r.adv(1.1)
    assert r.one(ds, "zone").t_ns == ns(1.1)


def test_offline_is_accepted_at_once(mk):
    r = mk([BEAM])
    ds = r.feed(1.0, 5, 4)
    assert r.one(ds, "zone").state == "offline" and ds[0].t_ns == ns(1.0)


def test_offline_cancels_a_pending_value(mk):
    r = mk([BEAM])
    r.feed(1.0, 5, 1)
    r.feed(1.05, 5, 4)
    ds = r.adv(5.0)
    assert [d.state for d in r.of(ds, "zone")] == []   # the pending ACTIVE never lands
    assert r.e.snapshot()["zones"]["Beam"]["state"] == "offline"


def test_invert_swaps_normal_and_active(mk):
    r = mk([dict(BEAM, invert=True, profile="instant")])
    assert r.feed(1.0, 5, 1) == []              # NC contact closed = normal
    ds = r.feed(2.0, 5, 0)                      # opened = active
    assert r.one(ds, "zone").state == "active"
    ds = r.feed(3.0, 5, 2)                      # loop states are not inverted
    assert r.one(ds, "zone").state == "tamper"


def test_pulse_counting_trips_on_the_nth_activation_within_the_window(mk):
    r = mk([dict(BEAM, profile="pulse3")])      # 3 pulses within 10 s
    for t in (1.0, 2.0):
        assert r.feed(t, 5, 1) == []
        assert r.feed(t + 0.5, 5, 0) == []
    ds = r.feed(3.0, 5, 1)
    assert r.one(ds, "zone").state == "active"


def test_pulses_outside_the_window_do_not_add_up(mk):
    r = mk([dict(BEAM, profile="pulse3")])
    for t in (1.0, 8.0, 15.0, 22.0):            # never three within 10 s
        assert r.feed(t, 5, 1) == []
        assert r.feed(t + 0.5, 5, 0) == []


def test_samples_for_unused_points_and_bad_values_are_ignored(mk):
    r = mk([BEAM])
    assert r.feed(1.0, 99, 1) == []
    assert r.feed(1.0, -1, 1) == []
    assert r.feed(1.0, 5, 9) == []
    assert r.e.point_zone(5) == "Beam" and r.e.point_zone(6) is None


def test_time_never_goes_backwards(mk):
    r = mk([BEAM, dict(BEAM, name="Beam2", point=6)])
    r.feed(10.0, 5, 1)
    r.feed(9.0, 6, 1)        # late sample of another point: clamped to 10.0
    ds = r.adv(11.0)
    assert [(d.zone, d.t_ns) for d in r.of(ds, "zone")] == [("Beam", ns(10.1)),
                                                              ("Beam2", ns(10.1))]


def test_next_deadline_follows_the_pending_timers(mk):
    r = mk([BEAM])
    assert r.e.next_deadline() == -1
    r.feed(1.0, 5, 1)
    assert r.e.next_deadline() == ns(1.1)
    r.feed(1.05, 5, 0)
    assert r.e.next_deadline() == -1


def test_feed_many_equals_feed_and_accepts_byte_buffers(mk):
    samples = [(1.0, 5, 1), (1.02, 5, 0), (1.5, 5, 1), (1.7, 5, 0), (2.5, 5, 2), (3.0, 5, 4),
               (3.5, 5, 0), (9.0, 5, 1)]
    a, b, c = mk([BEAM]), mk([BEAM]), mk([BEAM])
    one_by_one = [d for t, p, v in samples for d in a.feed(t, p, v)]
    buf = array("q")
    for t, p, v in samples:
        buf.extend((ns(t), p, v))
    assert b.e.feed_many(buf) == one_by_one
    assert c.e.feed_many(buf.tobytes()) == one_by_one
    assert len(one_by_one) > 4


def test_feed_many_rejects_a_partial_triple(mk):
    import pytest
    r = mk([BEAM])
    with pytest.raises(ValueError):
        r.e.feed_many(array("q", [1, 5]))


def test_decisions_do_not_depend_on_how_advance_is_interleaved(mk):
    samples = [(1.0, 5, 1), (1.5, 5, 0), (2.0, 5, 1), (2.05, 5, 0), (4.0, 5, 3), (6.0, 5, 0)]
    a, b = mk([BEAM]), mk([BEAM])
    plain = [d for t, p, v in samples for d in a.feed(t, p, v)] + a.adv(10)
    mixed = []
    for t, p, v in samples:
        mixed += b.adv(t - 0.2) + b.adv(t - 0.01) + b.feed(t, p, v)
    mixed += b.adv(10)
    assert [x.as_dict() for x in mixed] == [x.as_dict() for x in plain]


def test_glitch_counter_counts_vanished_glitches(mk):
    r = mk([BEAM])
    for i in range(10):
        r.feed(1.0 + i * 0.01, 5, 1)
        r.feed(1.0 + i * 0.01 + 0.001, 5, 0)
    c = r.e.snapshot()["counters"]
    assert c["glitches"] == 10 and c["samples"] == 20
