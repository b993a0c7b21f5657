"""Scenario files (hil_tests/scenarios/*.toml): a stimulus timeline and what must come of it.

A field engineer adds a scenario by copying a file. The format (every key is checked; an
unknown key is an error naming the file and the key):

    name = "silent panic acknowledged"
    description = "why this matters, in one or two sentences"
    expect_none = false      # true: no event but those listed in [[expect]] (e.g. the arming)
    settle_ms = 1000         # expect_none/forbid: how long after the last step to keep watching
    platform_ack = true      # false: the platform never acknowledges (fallback scenarios)

    [config]                 # overrides of the site file, dotted keys (see rig.apply_overrides)
    "areas.building.fallback_s" = 1

    [[step]]                 # one action per step, in order
    after_ms = 0             # wait this long after the previous step (a timed stimulus)
    press = "panic_reception"        # or: release / pulse (+ ms) / burst (+ count, period_us)
                                     # or: cmd (+ area, zone, code) / keys (+ reader) / card

    [[expect]]               # events, matched in this order, each after the previous match
    kind = "alarm"           # any of: kind zone area cid verified silent user text_contains
    cid = "1120"
    silent = true
    count = 1                # this many such events in a row (default 1)
    within_ms = 3000         # failure bound after the last step (generous: not a latency goal)

    [[output]]
    name = "siren"
    on = true
    within_ms = 3000         # reaches that state within ...
    # hold_ms = 2000         # ... or: stays in that state for this long

    [[forbid]]               # events that must not come (checked up to settle_ms)
    kind = "verified"

``expect_none`` and ``forbid`` end with a *marker*: a drill started and stopped by the
platform. Events are published in order, so anything the stimuli caused arrives before the
marker's events; nothing needs to be guessed about timing beyond ``settle_ms``, which covers
the longest debounce of the zones involved.
"""
from __future__ import annotations

import glob
import os
import time
import tomllib
from typing import Optional

from guardroom.errors import ConfigError
from guardroom.schema import Any_, Bool, Int, ListOf, Section, Str

from .rig import SLOW, Rig, RigError

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(HERE, "scenarios")
ACTIONS = ("press", "release", "pulse", "burst", "cmd", "keys", "card")
MATCH_KEYS = ("kind", "zone", "area", "cid", "verified", "silent", "user")


def _one_action(step: dict) -> Optional[str]:
    given = [a for a in ACTIONS if step.get(a)]
    if len(given) != 1:
        return f"a step needs exactly one of {', '.join(ACTIONS)} (got {given or 'none'})"
    a = given[0]
    if a == "pulse" and step["ms"] <= 0:
        return "pulse needs ms > 0"
    if a == "burst" and step["count"] <= 0:
        return "burst needs count > 0"
    if a in ("keys", "card") and not step["reader"]:
        return f"{a} needs reader"
    return None


STEP = Section({
    "after_ms": Int(default=0, min=0, max=600_000),
    "press": Str(default=""), "release": Str(default=""), "pulse": Str(default=""),
    "burst": Str(default=""), "cmd": Str(default=""), "keys": Str(default=""),
    "card": Str(default=""),
    "ms": Int(default=0, min=0, max=600_000, doc="pulse length"),
    "count": Int(default=0, min=0, max=10_000_000, doc="burst edges"),
    "period_us": Int(default=0, min=0, max=1_000_000, doc="burst edge period"),
    "area": Str(default=""), "zone": Str(default=""), "code": Str(default="1234"),
    "ok": Bool(default=True, doc="cmd: must the command be accepted"),
    "reader": Str(default=""),
}, check=_one_action)

EXPECT = Section({
    "kind": Str(default=""), "zone": Str(default=""), "area": Str(default=""),
    "cid": Str(default="", pattern=r"|\d{4}"), "verified": Bool(default=None),
    "silent": Bool(default=None), "user": Str(default=""), "text_contains": Str(default=""),
    "count": Int(default=1, min=1, max=1000),
    "within_ms": Int(default=5000, min=1, max=600_000),
})

FORBID = Section({k: v for k, v in EXPECT.fields.items() if k not in ("count", "within_ms")})

OUTPUT = Section({
    "name": Str(), "on": Bool(),
    "within_ms": Int(default=5000, min=1, max=600_000),
    "hold_ms": Int(default=0, min=0, max=600_000),
})

SCENARIO = Section({
    "name": Str(), "description": Str(default=""),
    "expect_none": Bool(default=False),
    "platform_ack": Bool(default=True, doc="the platform acknowledges alarms at once"),
    "settle_ms": Int(default=1000, min=0, max=600_000),
    "marker_area": Str(default="", doc="area of the drill marker (default: the first area)"),
    "config": Any_(default=dict),
    "step": ListOf(STEP, min_len=1),
    "expect": ListOf(EXPECT, default=list),
    "output": ListOf(OUTPUT, default=list),
    "forbid": ListOf(FORBID, default=list),
})


def load(path: str) -> dict:
    """A validated scenario; ConfigError names the file and the key."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError((path, f"not valid TOML: {e}")) from None
    try:
        sc = SCENARIO.validate(raw)
    except ConfigError as e:
        raise ConfigError([(f"{os.path.basename(path)}: {k}", why)
                           for k, why in e.problems]) from None
    if not isinstance(sc["config"], dict):
        raise ConfigError((f"{os.path.basename(path)}: config", "must be a table"))
    sc["path"] = path
    return sc


def all_files() -> list[str]:
    return sorted(glob.glob(os.path.join(SCENARIO_DIR, "*.toml")))


# ---------------------------------------------------------------------------- requirements
def missing(rig: Rig, sc: dict) -> list[str]:
    """What the rig cannot do for this scenario (empty: it can run)."""
    out = []
    for st in sc["step"]:
        for a in ("press", "release", "pulse", "burst"):
            if st[a] and not rig.can_drive(st[a]):
                out.append(f"drive {st[a]}")
        if st["burst"] and not rig.can("burst"):
            out.append("burst")
        if (st["keys"] or st["card"]) and not rig.can("reader"):
            out.append(f"reader {st['reader']}")
    for o in sc["output"]:
        if not rig.can_sense(o["name"]):
            out.append(f"sense {o['name']}")
    return out


# ---------------------------------------------------------------------------- running
def matches(ev: dict, want: dict) -> bool:
    for k in MATCH_KEYS:
        w = want.get(k)
        if w is None or w == "":
            continue
        if ev.get(k) != w:
            return False
    tc = want.get("text_contains")
    return not tc or tc.lower() in str(ev.get("text", "")).lower()


def describe(want: dict) -> str:
    parts = [f"{k}={want[k]!r}" for k in MATCH_KEYS + ("text_contains",)
             if want.get(k) not in (None, "")]
    return " ".join(parts) or "any event"


def _do(rig: Rig, st: dict) -> None:
    if st["press"]:
        rig.press(st["press"])
    elif st["release"]:
        rig.release(st["release"])
    elif st["pulse"]:
        rig.pulse(st["pulse"], st["ms"])
    elif st["burst"]:
        rig.burst(st["burst"], st["count"], st["period_us"])
    elif st["cmd"]:
        kw = {k: st[k] for k in ("area", "zone") if st[k]}
        res = rig.cmd(st["cmd"], code=st["code"], **kw)
        if bool(res.get("ok")) != st["ok"]:
            raise AssertionError(f"command {st['cmd']} {kw}: expected ok={st['ok']}, got {res}")
    elif st["keys"]:
        rig.keys(st["reader"], st["keys"])
    elif st["card"]:
        rig.card(st["reader"], st["card"])


def _fmt(evs: list[dict]) -> str:
    return "\n".join(f"  #{e.get('seq')} {e.get('kind')} {e.get('cid')} zone={e.get('zone')!r} "
                     f"verified={e.get('verified')} silent={e.get('silent')} {e.get('text')}"
                     for e in evs) or "  (none)"


def run(rig: Rig, sc: dict) -> dict:
    """Run one scenario on a started rig; raises AssertionError with the events seen."""
    base = rig.last_seq()
    for st in sc["step"]:
        if st["after_ms"]:
            time.sleep(st["after_ms"] / 1000)  # the timeline of the stimulus itself
        _do(rig, st)
    t_end = time.monotonic()

    def since():
        return sorted((e for e in rig.events() if int(e.get("seq", 0)) > base),
                      key=lambda e: e["seq"])

    # events, in order
    pos = base
    matched = set()
    for want in sc["expect"]:
        for n in range(want["count"]):
            left = t_end + want["within_ms"] / 1000 * SLOW - time.monotonic()
            try:
                ev = rig.wait_event(lambda e: matches(e, want), max(left, 0.01) / SLOW,
                                    after_seq=pos)
            except TimeoutError:
                raise AssertionError(
                    f"{sc['name']}: no event {describe(want)} (#{n + 1} of {want['count']}) "
                    f"within {want['within_ms']} ms; events since the start:\n"
                    + _fmt(since())) from None
            pos = int(ev["seq"])
            matched.add(pos)
    # outputs
    for o in sc["output"]:
        if o["hold_ms"]:
            if not rig.wait_output(o["name"], o["on"], o["within_ms"] / 1000):
                raise AssertionError(f"{sc['name']}: output {o['name']} is not "
                                     f"{'on' if o['on'] else 'off'}")
            # the assertion is that nothing changes during the hold: watch it for that long
            changed = rig.wait_output(o["name"], not o["on"], o["hold_ms"] / 1000 / SLOW)
            if changed:
                raise AssertionError(f"{sc['name']}: output {o['name']} turned "
                                     f"{'off' if o['on'] else 'on'} within {o['hold_ms']} ms; "
                                     "events:\n" + _fmt(since()))
        elif not rig.wait_output(o["name"], o["on"], o["within_ms"] / 1000):
            raise AssertionError(f"{sc['name']}: output {o['name']} not "
                                 f"{'on' if o['on'] else 'off'} within {o['within_ms']} ms; "
                                 "events:\n" + _fmt(since()))
    # nothing else / nothing forbidden: settle, then a marker closes the window
    if sc["expect_none"] or sc["forbid"]:
        left = t_end + sc["settle_ms"] / 1000 - time.monotonic()
        if left > 0:
            time.sleep(left)  # the longest debounce of the stimulated zones must pass
        window = [e for e in quiet_window(rig, base, area=sc["marker_area"])
                  if int(e["seq"]) not in matched]
        if sc["expect_none"]:
            if window:
                raise AssertionError(f"{sc['name']}: expected no event, got:\n" + _fmt(window))
        for f in sc["forbid"]:
            bad = [e for e in window if matches(e, f)]
            if bad:
                raise AssertionError(f"{sc['name']}: forbidden {describe(f)}:\n" + _fmt(bad))
    return {"events": since()}


def quiet_window(rig: Rig, after_seq: int, area: str = "", settle_s: float = 0.0,
                 code: str = "1234") -> list[dict]:
    """Every event after ``after_seq`` up to a marker (a drill started and stopped by the
    platform, sent after ``settle_s``): events are published in order, so whatever happened
    before the marker has arrived once the marker has. The marker's own events are left out."""
    if settle_s:
        time.sleep(settle_s)  # the longest debounce of the stimulated zones must pass
    mark_from = rig.last_seq()
    area = area or next(iter(rig.config["areas"]))
    rig.cmd("drill_start", area=area, code=code)
    rig.cmd("drill_stop", area=area, code=code)
    after = max(mark_from, after_seq)

    def drills():
        return [e for e in rig.events() if e.get("kind") == "drill" and int(e["seq"]) > after]
    rig.platform.wait_until(lambda: len(drills()) >= 2, 10 * SLOW)
    stop = max(drills(), key=lambda e: e["seq"])
    return sorted((e for e in rig.events() if after_seq < int(e["seq"]) < int(stop["seq"])
                   and e.get("kind") != "drill"), key=lambda e: e["seq"])


__all__ = ["load", "all_files", "run", "missing", "matches", "RigError"]
