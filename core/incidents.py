"""Incidents and verification: an alarm opens or joins its area's incident, sequential
confirmation (verification groups, keypad hold-up confirmation, BS 8243 entry route), the
reset that closes an incident, and the deferred hold-up restores.

Functions of the engine (``e``: core/engine.py's Engine, typed by core/engine.pxd in the
compiled build; declared in core/incidents.pxd). Semantics: docs/developer/engine.md
(Incidents and correlation).
"""
from __future__ import annotations

try:
    import cython
except ImportError:  # Cython not installed: run interpreted on the tiny shim
    from guardroom.core import _cython_shim as cython

from guardroom.core import codes
from guardroom.core.constants import *  # noqa: F401,F403 - the one set of names
from guardroom.core.site import S

if cython.compiled:
    from cython.cimports.guardroom.core.constants import *  # noqa: F401,F403 - C constants
    from cython.cimports.guardroom.core import sirens
else:  # the interpreted build: the other modules from their sources
    from guardroom.core.loader import source_module
    sirens = source_module("sirens")


class Incident:
    """One open incident of an area: every zone that alarms until reset."""

    __slots__ = ("id", "area", "zones", "silent", "has_silent", "verified", "acked", "holdup",
                 "fallback", "drill", "fire")

    def __init__(self, ident, area, drill):
        self.id = ident
        self.area = area
        self.zones = []          # zone names in order of their first alarm
        self.silent = True       # no audible alarm so far
        self.has_silent = False  # at least one silent alarm
        self.verified = False
        self.acked = False
        self.holdup = False      # a panic or duress alarm is part of it
        self.fallback = 0        # FB_* state
        self.drill = drill
        self.fire = False        # a fire alarm is part of it: sirens use the fire cadence

    def as_dict(self, area_name):
        return {"id": self.id, "area": area_name, "zones": list(self.zones),
                "silent": self.silent, "has_silent": self.has_silent,
                "verified": self.verified, "acked": self.acked, "holdup": self.holdup,
                "fallback": FALLBACK_NAMES[self.fallback], "drill": self.drill,
                "fire": self.fire}


def alarm(e, a, z, cid, silent, text, holdup, condition, correlate):
    """Open or join the area's incident. ``condition``: the zone's current state raised it
    (a restore follows when the zone returns to normal); ``correlate``: counts for
    verification groups and swinger shutdown."""
    s = e._site
    inc = e._ainc[a]
    if inc is None:
        inc = Incident(e._next_inc, a, e._adrill[a] != 0)
        e._next_inc += 1
        e._ainc[a] = inc
    if z >= 0:
        name = e._znames[z]
        if name not in inc.zones:
            inc.zones.append(name)
        if holdup:
            e._latched[z] = True
        if condition:
            e._zalarm[z] = cid
            e._zinc[z] = inc.id
    # A duress alarm changes nothing the site sees (EN 50131-3): no siren, not even as a
    # fallback, no area state, no prevention of setting, a disarm like any other. The
    # person who used the duress code may be under threat. Only the platform hears of it.
    covert = cid == codes.DURESS
    if holdup and not covert:
        inc.holdup = True
    if z >= 0 and e._ztype[z] == T_FIRE:
        inc.fire = True
    if silent and not covert:
        inc.has_silent = True
    e._n_alarms += 1
    dec = e._emit_inc("alarm", a, z, cid, 1, True, text)
    dec.silent = silent
    if (z >= 0 and e._amode[a] != M_OFF and T_PERIMETER <= e._ztype[z] <= T_INTERIOR
            and cid != codes.LOOP_TAMPER):
        if e._aintr_t[a] < 0:
            e._aintr_t[a] = e._now          # starts the abort window
        t0 = e._aarmed_t[a]
        if (t0 >= 0 and not e._arecent[a] and s.a_recent_ns[a] > 0
                and e._now - t0 <= s.a_recent_ns[a]):
            e._arecent[a] = True
            dec = e._emit_inc("recent_closing", a, z, codes.RECENT_CLOSING, 1, True,
                                 f"Alarm {(e._now - t0) // S} s after "
                                 f"'{e._anames[a]}' was set by {e._aby[a]}")
            dec.user = e._aby[a]
    if e._amode[a] != M_OFF and e._astate[a] != ALARM and not covert:
        e._set_timer(e._ti(a, K_DELAY), INF)
        e._aentry[a] = -1
        e._astate[a] = ALARM
        dec = e._emit_inc("area", a, z, 0, 0, False, f"Area '{e._anames[a]}' in alarm")
        dec.state = "alarm"
        sirens.outputs(e, a)
    if z >= 0 and correlate:
        verify(e, z)
        ty = e._ztype[z]
        limit = s.a_swinger[a]
        if T_TAMPER <= ty <= T_INTERIOR and limit > 0 and e._amode[a] != M_OFF:
            e._zswing[z] += 1
            if e._zswing[z] >= limit and not e._bypass[z]:
                e._set_bypass(z, BY_SWINGER, f"swinger shutdown after {e._zswing[z]} trips")
    if not silent:
        inc.silent = False
        sirens.sound(e, a, False)
    elif not e._asiren[a] and not covert:
        if not e._uplink:
            sirens.fallback(e, a, codes.COMM_TROUBLE, "uplink down")
        elif not inc.acked and inc.fallback == FB_NONE and s.a_fallback_ns[a] > 0:
            inc.fallback = FB_PENDING
            e._set_timer(e._ti(a, K_FALLBACK), e._now + s.a_fallback_ns[a])
    return inc


def verify(e, z):
    """Sequential confirmation: a second distinct zone of a shared group within the
    group's window verifies the incident(s)."""
    s = e._site
    confirm(e, z, s.z_groups[z], e._zarea[z], e._ztype[z] <= T_DURESS, False)


def keypad_confirm(e, a, covert):
    """A keypad panic/duress counts for hold-up confirmation in every group that holds a
    hold-up zone of its area (its key in the group history: -1 - area)."""
    s = e._site
    groups = []
    for z in s.a_zones[a]:
        if e._ztype[z] <= T_DURESS:
            for g in s.z_groups[z]:
                if g not in groups:
                    groups.append(g)
    confirm(e, -1 - a, groups, a, True, covert)


def key_name(e, k):
    if k >= 0:
        return e._znames[k]
    return "keypad:" + e._anames[-1 - k]


def key_area(e, k):
    return e._zarea[k] if k >= 0 else -1 - k


def confirm(e, key, groups, area, hold, covert):
    s = e._site
    now = e._now
    if e._anoconf[area] and not hold:
        return      # BS 8243: after the initial entry door opened, no confirmation
    for g in groups:
        hist = e._ghist[g]
        win = s.g_window_ns[g]
        for k in [k for k, t in hist.items() if now - t > win]:
            del hist[k]
        partner = key
        for k in hist:
            if k != key:
                partner = k
                break
        hist.pop(key, None)
        hist[key] = now
        if partner == key:
            continue
        phold = partner < 0 or e._ztype[partner] <= T_DURESS
        cid = codes.PANIC_VERIFIED if hold or phold else codes.BURGLARY_VERIFIED
        parea = key_area(e, partner)
        # each verified decision names a zone of its own area ("" for a keypad)
        pairs = [(area, key)]
        if parea != area:
            pairs.append((parea, partner))
        for a, k in pairs:
            inc = e._ainc[a]
            if inc is None or inc.verified:
                continue
            inc.verified = True
            e._emit_inc("verified", a, k if k >= 0 else -1, cid, 1, True,
                           f"Incident {inc.id} verified: '{key_name(e, partner)}' then "
                           f"'{key_name(e, key)}' ({s.group_names[g]})")
            if s.g_siren[g] and not covert:
                inc.silent = False
                if inc.fallback == FB_PENDING:
                    inc.fallback = FB_CANCELLED
                    e._set_timer(e._ti(a, K_FALLBACK), INF)
                sirens.sound(e, a, False)


def deferred_restores(e, a, inc):
    s = e._site
    for name in inc.zones:
        z = s.zone_index.get(name, -1)
        if z >= 0 and e._zdefer[z]:
            e._emit("restore", a, z, e._zdefer[z], 3, True,
                       f"'{name}' restored at reset", inc.id)
            e._zdefer[z] = 0
            e._zinc[z] = 0


def close_incident(e, a, inc):
    s = e._site
    for name in inc.zones:
        z = s.zone_index.get(name, -1)
        if z < 0:
            continue
        e._latched[z] = False
        for g in s.z_groups[z]:      # a closed incident's alarms no longer confirm
            e._ghist[g].pop(z, None)
    if inc.holdup:
        for hist in e._ghist:
            hist.pop(-1 - a, None)
    e._set_timer(e._ti(a, K_FALLBACK), INF)
    sirens.siren_off(e, a)
    e._astrobe[a] = False
    e._abuzz[a] = False
    sirens.outputs(e, a)
    e._ainc[a] = None


def reset(e, a):
    s = e._site
    an = e._anames[a]
    inc = e._ainc[a]
    if inc is None:
        e._refuse(a, -1, f"no open incident in '{an}'")
        return
    active = []
    for name in inc.zones:
        z = s.zone_index.get(name, -1)
        if z < 0:
            continue                # a zone no longer in the config cannot block a reset
        st = e._lst[z]
        if (st == ACTIVE or st == TAMPER) and not e._bypass[z]:
            active.append(f"{name} ({STATE_NAMES[st]})")
    if active:
        e._refuse(a, -1, f"cannot reset '{an}': still active: {', '.join(active)}")
        return
    deferred_restores(e, a, inc)
    e._emit_inc("reset", a, -1, codes.SILENCE_RESET, 3, True,
                   f"Incident {inc.id} in '{an}' reset by {e._user}")
    close_incident(e, a, inc)
    if e._astate[a] == ALARM:
        e._astate[a] = AWAY if e._amode[a] == M_AWAY else STAY
        dec = e._emit("area", a, -1, 0, 0, False,
                         f"Area '{an}' back to {AREA_STATE_NAMES[e._astate[a]]} after reset")
        dec.state = AREA_STATE_NAMES[e._astate[a]]
