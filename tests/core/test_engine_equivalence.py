"""Property tests: the compiled and the interpreted build decide exactly the same on random
sites and random streams of samples and commands; feed_many equals a sequence of feed calls;
output orders are edge-only and time never runs backwards in the decisions."""
import json
import os
from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_rig import engine_module
from guardroom.core import load_engine

MS = 1_000_000
TYPES = ["panic", "duress", "tamper", "perimeter", "entry_exit", "interior", "technical",
         "keyswitch"]
COMMANDS = ["arm_away", "arm_stay", "disarm", "bypass", "unbypass", "reset", "silence",
            "drill_start", "drill_stop", "walktest_start", "walktest_stop", "siren_test",
            "duress", "panic"]


@st.composite
def sites(draw):
    n_areas = draw(st.integers(1, 2))
    areas = {}
    for a in range(n_areas):
        areas[f"A{a}"] = {
            "entry_delay_s": draw(st.sampled_from([0, 1, 3])),
            "exit_delay_s": draw(st.sampled_from([0, 2])),
            "bell_cutoff_s": draw(st.sampled_from([0, 5])),
            "fallback_s": draw(st.sampled_from([0, 4])),
            "swinger_limit": draw(st.sampled_from([0, 2])),
            "sirens": draw(st.sampled_from([["s1"], ["s1", "s2"], ["s2"]])),
            "strobes": draw(st.sampled_from([["b1"], [], ["b1", "b2"]])),
            "buzzers": draw(st.sampled_from([[], ["z1"]])),
        }
    groups = {f"G{g}": {"window_s": draw(st.sampled_from([1, 5, 30])),
                        "siren_on_verify": draw(st.booleans())}
              for g in range(draw(st.integers(0, 2)))}
    profiles = {f"P{i}": {"active_ms": draw(st.sampled_from([0, 50, 200])),
                          "restore_ms": draw(st.sampled_from([0, 100, 300])),
                          "pulses": draw(st.sampled_from([1, 1, 2])),
                          "pulse_window_ms": 1500} for i in range(2)}
    zones = []
    for z in range(draw(st.integers(1, 6))):
        zones.append({
            "name": f"Z{z}", "point": z * 2 + 1, "type": draw(st.sampled_from(TYPES)),
            "area": f"A{draw(st.integers(0, n_areas - 1))}",
            "profile": f"P{draw(st.integers(0, 1))}", "invert": draw(st.booleans()),
            "silent": draw(st.sampled_from([None, None, True, False])),
            "groups": draw(st.lists(st.sampled_from(sorted(groups)), max_size=2, unique=True))
            if groups else [],
            "offline_grace_s": draw(st.sampled_from([0, 1, 3])),
            "offline_alarm": draw(st.booleans()),
            "watch_days": draw(st.sampled_from([0, 0, 1])),
            "cid": draw(st.sampled_from([None, None, 301])),
            "momentary": draw(st.booleans()),
        })
    return {
        "controller": "ctl-prop", "profiles": profiles, "areas": areas, "groups": groups,
        "zones": zones,
        "sabotage": {"count": draw(st.sampled_from([0, 2, 3])), "window_s": 5},
        "outputs": {"s1": {"kind": "siren"}, "s2": {"kind": "siren"},
                    "b1": {"kind": "strobe"}, "b2": {"kind": "strobe"}, "z1": {"kind": "buzzer"}},
    }


DT = st.one_of(
    st.sampled_from([0, 1, 20, 60, 120, 250, 400, 1000, 2500, 6000]),
    st.sampled_from([0, 1, 20, 60, 120, 250, 400, 1000, 2500, 6000]),
    st.sampled_from([0, 50, 199, 200, 300, 3000, 86_400_000])).map(lambda ms: ms * MS)
POINT = st.one_of(st.sampled_from([1, 3, 5, 7, 9, 11]), st.sampled_from([1, 3, 5]),
                  st.integers(0, 12))
SAMPLE = st.tuples(st.just("sample"), DT, POINT, st.sampled_from([0, 0, 0, 1, 1, 1, 2, 3, 4]))
COMMAND = st.tuples(st.just("cmd"), DT,
                    st.sampled_from(COMMANDS + ["arm_away"] * 6 + ["arm_stay"] * 2), st.sampled_from(["", "A0", "A0", "A1"]),
                    st.sampled_from(["", "Z0", "Z1", "Z2"]), st.booleans(), st.sampled_from([0, 2]))
OTHER = st.one_of(st.tuples(st.just("uplink"), DT, st.booleans()),
                  st.tuples(st.just("ack"), DT, st.integers(1, 3)),
                  st.tuples(st.just("advance"), DT),
                  st.tuples(st.just("reboot"), DT),
                  st.tuples(st.just("late"), st.integers(0, 5 * MS), POINT,
                            st.sampled_from([0, 1])))
OPS = st.lists(st.one_of(SAMPLE, SAMPLE, SAMPLE, SAMPLE, COMMAND, OTHER), min_size=1, max_size=80)


def run(mod, site, ops, batch, daemon=False):
    """Run the ops; with batch=True consecutive samples go through one feed_many call; with
    daemon=True, like the daemon's loop, sleep until next_deadline() and advance() to it
    before every op that comes later."""
    e = mod.Engine(site)
    out = []
    t = 1_000_000_000
    pending = array("q")

    def flush():
        if pending:
            out.extend(e.feed_many(pending))
            del pending[:]

    for op in ops:
        kind = op[0]
        if kind == "late":         # a sample stamped a little before the engine's time
            sample = (t - op[1], op[2], op[3])
        else:
            t += op[1]
            sample = (t, op[2], op[3]) if kind == "sample" else None
        if daemon and kind != "reboot":
            due = e.next_deadline()
            while 0 <= due <= t:
                out.extend(e.advance(due))
                due = e.next_deadline()
        if sample is not None:
            if batch:
                pending.extend(sample)
            else:
                out.extend(e.feed(*sample))
            continue
        flush()
        if kind == "cmd":
            _, _, name, area, zone, force, arg = op
            out.extend(e.command(t, name, area=area, zone=zone, user="prop", force=force, arg=arg))
        elif kind == "uplink":
            out.extend(e.uplink(t, op[2]))
        elif kind == "ack":
            out.extend(e.ack(t, op[2]))
        elif kind == "reboot":     # persist through JSON, restore on a fresh engine
            snap = json.loads(json.dumps(e.snapshot()))
            e = mod.Engine(site)
            out.append(None)       # marks the reboot for the invariant checks
            t = op[1]              # the monotonic clock restarted
            out.extend(e.restore(snap, t))
        else:
            out.extend(e.advance(t))
    flush()
    out.extend(e.advance(t + 100_000 * MS))
    snap = e.snapshot()
    snap.pop("build")
    return [None if d is None else d.as_dict() for d in out], snap, e.next_deadline()


def available_builds():
    """The interpreted build, and the compiled one unless it is not built (and not required)."""
    mods = [engine_module("interpreted")]
    try:
        mods.append(load_engine("compiled"))
    except ImportError:
        if os.environ.get("GUARDROOM_REQUIRE_COMPILED"):
            raise
    return mods


def test_builds_agree_and_feed_many_equals_feed():
    mods = available_builds()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(site=sites(), ops=OPS)
    def check(site, ops):
        ref = run(mods[0], site, ops, batch=False)
        for mod in mods:
            assert run(mod, site, ops, batch=True) == ref
            assert run(mod, site, ops, batch=False) == ref
        assert run(mods[-1], site, ops, batch=False, daemon=True) == ref
        check_invariants(ref[0])

    check()


def check_invariants(decisions):
    """Time never runs backwards; output orders are edge-only; alarms carry codes."""
    outputs = {}
    last_t = 0
    for d in decisions:
        if d is None:              # reboot: new clock, physical outputs off
            outputs, last_t = {}, 0
            continue
        assert d["t_ns"] >= last_t
        last_t = d["t_ns"]
        if d["kind"] == "output":
            assert outputs.get(d["output"], False) != d["on"], "an order must change the output"
            outputs[d["output"]] = d["on"]
        if d["kind"] in ("alarm", "verified", "fallback"):
            assert d["report"] and d["incident"] > 0 and d["cid"] > 0
