"""Helpers for the alarm engine tests: site builder, a terse test rig, build loading.

Imported by tests/core/conftest.py (fixtures) and by the test modules (``from engine_rig
import ...``); conftest puts this folder on sys.path so that works in any pytest import mode.
"""
import copy
import os

import pytest

from guardroom.core import load_engine

S = 1_000_000_000
MS = 1_000_000
BUILDS = ("compiled", "interpreted")


def engine_module(build):
    """The engine module of a build; the compiled one is skipped when not built, unless
    GUARDROOM_REQUIRE_COMPILED is set (CI), where a missing build fails."""
    try:
        return load_engine(build)
    except ImportError:
        if build == "compiled" and not os.environ.get("GUARDROOM_REQUIRE_COMPILED"):
            pytest.skip("compiled engine not built (python setup.py build_ext --inplace)")
        raise


BASE_SITE = {
    "controller": "ctl-test",
    "profiles": {
        "instant": {"active_ms": 0, "restore_ms": 0, "pulses": 1, "pulse_window_ms": 0},
        "std": {"active_ms": 100, "restore_ms": 300, "pulses": 1, "pulse_window_ms": 0},
        "pulse3": {"active_ms": 0, "restore_ms": 0, "pulses": 3, "pulse_window_ms": 10_000},
    },
    "areas": {
        "Main": {"entry_delay_s": 30, "exit_delay_s": 20, "bell_cutoff_s": 600, "fallback_s": 60,
                 "swinger_limit": 0, "sirens": ["siren1"], "strobes": ["strobe1"]},
    },
    "groups": {},
    "zones": [],
    "sabotage": {"count": 0, "window_s": 60},
    "outputs": {"siren1": {"kind": "siren"}, "strobe1": {"kind": "strobe"},
                "siren2": {"kind": "siren"}, "strobe2": {"kind": "strobe"},
                "buzzer1": {"kind": "buzzer"}},
}

ZONE_DEFAULTS = {"area": "Main", "profile": "instant", "invert": False, "silent": None,
                 "groups": [], "offline_grace_s": 30, "offline_alarm": False, "watch_days": 0,
                 "cid": None, "momentary": False}


def make_site(zones=(), areas=None, groups=None, profiles=None, sabotage=None, area=None):
    """A site dict: BASE_SITE with these zones (missing zone keys take ZONE_DEFAULTS),
    ``areas`` replacing the areas, ``area`` (dict) updating the Main area."""
    site = copy.deepcopy(BASE_SITE)
    if areas is not None:
        site["areas"] = copy.deepcopy(areas)
    if area:
        site["areas"]["Main"].update(area)
    if groups is not None:
        site["groups"] = groups
    if profiles:
        site["profiles"].update(profiles)
    if sabotage is not None:
        site["sabotage"] = sabotage
    site["zones"] = [dict(ZONE_DEFAULTS, **z) for z in zones]
    return site


def ns(t_s):
    return int(round(t_s * S))


class Rig:
    """One engine plus terse calls with times in seconds (floats)."""

    def __init__(self, mod, site):
        self.mod = mod
        self.site = site
        self.e = mod.Engine(site)

    def feed(self, t, point, value):
        return self.e.feed(ns(t), point, value)

    def cmd(self, t, name, **kw):
        return self.e.command(ns(t), name, **kw)

    def adv(self, t):
        return self.e.advance(ns(t))

    def uplink(self, t, up):
        return self.e.uplink(ns(t), up)

    def ack(self, t, incident, user="platform"):
        return self.e.ack(ns(t), incident, user)

    def arm(self, t, name="arm_away", area="Main", **kw):
        """Arm and let the exit delay run out; returns everything decided."""
        ds = self.cmd(t, name, area=area, **kw)
        ds += self.adv(t + 1000)
        return ds

    @staticmethod
    def kinds(ds):
        return [d.kind for d in ds]

    @staticmethod
    def of(ds, kind):
        return [d for d in ds if d.kind == kind]

    @staticmethod
    def one(ds, kind):
        found = [d for d in ds if d.kind == kind]
        assert len(found) == 1, f"expected one {kind!r} in {ds}"
        return found[0]

    @staticmethod
    def outputs(ds):
        return [(d.output, d.on) for d in ds if d.kind == "output"]
