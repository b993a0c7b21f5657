"""Snapshot and restore: the engine's state as a JSON-able dict, and the state rebuilt from
one after a restart (pulse counts kept, incidents of zones no longer configured resettable,
never a bypassed hold-up zone).

Functions of the engine (``e``: core/engine.py's Engine, typed by core/engine.pxd in the
compiled build; declared in core/snapshot.pxd). Format: docs/developer/engine.md (Snapshot and
restore).
"""
from __future__ import annotations

try:
    import cython
except ImportError:  # Cython not installed: run interpreted on the tiny shim
    from guardroom.core import _cython_shim as cython

from guardroom.core import codes
from guardroom.core.constants import *  # noqa: F401,F403 - the one set of names
from guardroom.core.errors import SnapshotError

if cython.compiled:
    from cython.cimports.guardroom.core.constants import *  # noqa: F401,F403 - C constants
    from cython.cimports.guardroom.core import areas, incidents, sirens
    from guardroom.core.incidents import Incident
else:  # the interpreted build: the other modules from their sources
    from guardroom.core.loader import source_module
    areas = source_module("areas")
    incidents = source_module("incidents")
    sirens = source_module("sirens")
    Incident = incidents.Incident

BUILD = "compiled" if cython.compiled else "interpreted"
SNAPSHOT_VERSION = 1


def remaining(e, i):
    d = e._dl[i]
    return None if d >= INF else max(d - e._now, 0)


def zone_dict(e, z):
    s = e._site
    nz = e._nz
    return {
        "state": STATE_NAMES[e._lst[z]], "raw": STATE_NAMES[e._acc[z]],
        "type": s.z_type_name[z], "area": e._anames[e._zarea[z]],
        "bypassed": BYPASS_NAMES[e._bypass[z]], "latched": bool(e._latched[z]),
        "alarm_cid": e._zalarm[z], "alarm_incident": e._zinc[z],
        "restore_at_reset": e._zdefer[z],
        "pulses": [e._now - p for p in e._pulse_times(z)],
        "trouble_cid": e._ztrouble[z], "watch_trouble": bool(e._zwatch[z]),
        "swinger_count": e._zswing[z],
        "timers": {"offline_grace": remaining(e, nz + z),
                   "watch": remaining(e, 2 * nz + z)},
    }


def snapshot(e):
    """The engine's state as a JSON-able dict (see restore)."""
    s = e._site
    area_dicts = {}
    open_incidents = []
    for a in range(e._na):
        inc = e._ainc[a]
        if inc is not None:
            open_incidents.append(inc.as_dict(e._anames[a]))
        z = e._aentry[a]
        area_dicts[e._anames[a]] = {
            "state": AREA_STATE_NAMES[e._astate[a]], "mode": MODE_NAMES[e._amode[a]],
            "armed_by": e._aby[a], "drill": bool(e._adrill[a]), "walktest": bool(e._awalk[a]),
            "walktest_tripped": list(e._awalked[a]),
            "walktest_untripped": areas.untripped(e, a) if e._awalk[a] else [],
            "walktest_scope": [e._znames[k] for k in areas.scope_of(e, a)],
            "siren": bool(e._asiren[a]), "strobe": bool(e._astrobe[a]),
            "siren_by_fallback": bool(e._afb[a]), "siren_test": bool(e._atest[a]),
            "buzzer_by_fallback": bool(e._abuzz[a]),
            "entry_zone": e._znames[z] if z >= 0 else "",
            "confirmation_disabled": bool(e._anoconf[a]), "exit_error": bool(e._aexiterr[a]),
            "bell_soundings": e._abells[a],
            "armed_age": e._now - e._aarmed_t[a] if e._aarmed_t[a] >= 0 else None,
            "intruder_age": e._now - e._aintr_t[a] if e._aintr_t[a] >= 0 else None,
            "recent_closing_sent": bool(e._arecent[a]),
            "bell_sounded_ns": e._abell_used[a] + (
                e._now - e._abell_t0[a] if e._asiren[a] else 0),
            "incident": inc.id if inc is not None else 0,
            "timers": {"delay": remaining(e, e._ti(a, K_DELAY)),
                       "bell": remaining(e, e._ti(a, K_BELL)),
                       "fallback": remaining(e, e._ti(a, K_FALLBACK)),
                       "siren_test": remaining(e, e._ti(a, K_TEST)),
                       "walktest": remaining(e, e._ti(a, K_WALK))},
        }
    return {
        "version": SNAPSHOT_VERSION, "build": BUILD, "controller": s.controller,
        "t_ns": e._now, "uplink": bool(e._uplink), "next_incident": e._next_inc,
        "areas": area_dicts,
        "zones": {e._znames[z]: zone_dict(e, z) for z in range(e._nz)},
        "incidents": open_incidents,
        "groups": {s.group_names[g]: {incidents.key_name(e, k): e._now - t for k, t in h.items()}
                   for g, h in enumerate(e._ghist)},
        "outputs": dict(e._outs),
        "counters": {"samples": e._n_samples, "glitches": e._n_glitches,
                     "alarms": e._n_alarms, "decisions": e._n_decisions,
                     "refused": e._n_refused, "late": e._n_late},
    }


def restore(e, snap, t_ns):
    """Engine.restore: check the version, rebuild, and on any unusable content go back to the
    initial state and raise SnapshotError."""
    if not isinstance(snap, dict) or snap.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError("not a guardroom engine snapshot (version 1)")
    try:
        return rebuild(e, snap, max(int(t_ns), 0))
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        e._init_state()
        raise SnapshotError(f"snapshot unusable: {exc!r}") from exc


def rebuild(e, snap, t):
    s = e._site
    e._init_state()
    e._now = t
    e._started = True
    out = []
    e._out = out
    nz = e._nz
    done_watch = set()
    for name, zd in snap.get("zones", {}).items():
        z = s.zone_index.get(name, -1)
        if z < 0:
            continue
        e._lst[z] = STATE_NAMES.index(zd["state"])
        e._acc[z] = STATE_NAMES.index(zd.get("raw", zd["state"]))
        # a snapshot cannot bypass a hold-up zone
        why = str(zd.get("bypassed", ""))
        e._bypass[z] = (BY_NONE if e._ztype[z] <= T_DURESS or not why
                           else BYPASS_NAMES.index(why) if why in BYPASS_NAMES else BY_MANUAL)
        e._zdefer[z] = int(zd.get("restore_at_reset", 0))
        e._set_pulse_times(z, [t - int(age) for age in zd.get("pulses", [])])
        e._latched[z] = bool(zd.get("latched", False))
        e._zalarm[z] = int(zd.get("alarm_cid", 0))
        e._zinc[z] = int(zd.get("alarm_incident", 0))
        e._ztrouble[z] = int(zd.get("trouble_cid", 0))
        e._zwatch[z] = bool(zd.get("watch_trouble", False))
        e._zswing[z] = int(zd.get("swinger_count", 0))
        timers = zd.get("timers", {})
        if timers.get("offline_grace") is not None and e._lst[z] == OFFLINE:
            e._set_timer(nz + z, t + int(timers["offline_grace"]))
        if e._zwatch_ns[z] > 0 and (timers.get("watch") is not None or e._zwatch[z]):
            done_watch.add(z)
            if not e._zwatch[z]:
                e._set_timer(2 * nz + z, t + min(int(timers["watch"]), e._zwatch_ns[z]))
    for z in range(nz):
        if e._zwatch_ns[z] > 0 and z not in done_watch:
            e._set_timer(2 * nz + z, t + e._zwatch_ns[z])
    for name, ad in snap.get("areas", {}).items():
        a = s.area_index.get(name, -1)
        if a < 0:
            continue
        e._astate[a] = AREA_STATE_NAMES.index(ad["state"])
        e._amode[a] = MODE_NAMES.index(ad.get("mode", ""))
        if e._astate[a] != DISARMED and e._amode[a] == M_OFF:
            e._amode[a] = M_STAY if e._astate[a] == STAY else M_AWAY
        e._aby[a] = str(ad.get("armed_by", ""))
        e._adrill[a] = bool(ad.get("drill", False))
        e._awalk[a] = bool(ad.get("walktest", False))
        e._awalked[a] = [n for n in ad.get("walktest_tripped", []) if n in s.zone_index]
        if e._awalk[a]:
            scope = ad.get("walktest_scope")
            e._awscope[a] = ([s.zone_index[n] for n in scope if n in s.zone_index]
                                if scope is not None else list(s.a_zones[a]))
            rem = timers.get("walktest") if isinstance(timers := ad.get("timers", {}), dict) else None
            if rem is not None:
                e._set_timer(e._ti(a, K_WALK), t + int(rem))
            elif s.walktest_timeout_ns > 0:
                e._set_timer(e._ti(a, K_WALK), t + s.walktest_timeout_ns)
        e._asiren[a] = bool(ad.get("siren", False))
        e._astrobe[a] = bool(ad.get("strobe", False))
        e._afb[a] = bool(ad.get("siren_by_fallback", False))
        e._abuzz[a] = bool(ad.get("buzzer_by_fallback", False))
        e._aentry[a] = s.zone_index.get(ad.get("entry_zone", ""), -1)
        e._anoconf[a] = bool(ad.get("confirmation_disabled", False))
        e._aexiterr[a] = bool(ad.get("exit_error", False))
        e._abells[a] = int(ad.get("bell_soundings", 0))
        e._abell_used[a] = int(ad.get("bell_sounded_ns", 0))
        e._abell_t0[a] = t
        if ad.get("armed_age") is not None:
            e._aarmed_t[a] = max(t - int(ad["armed_age"]), 0)
        if ad.get("intruder_age") is not None:
            e._aintr_t[a] = max(t - int(ad["intruder_age"]), 0)
        e._arecent[a] = bool(ad.get("recent_closing_sent", False))
        timers = ad.get("timers", {})
        st = e._astate[a]
        if st == EXIT or (st == ENTRY and e._aentry[a] >= 0):
            rem = timers.get("delay")
            e._set_timer(e._ti(a, K_DELAY), t + (0 if rem is None else int(rem)))
        elif st == ENTRY:  # no zone to blame: fall back to armed
            e._astate[a] = AWAY if e._amode[a] == M_AWAY else STAY
        if e._asiren[a] and timers.get("bell") is not None:
            e._set_timer(e._ti(a, K_BELL), t + int(timers["bell"]))
        if timers.get("fallback") is not None:
            e._set_timer(e._ti(a, K_FALLBACK), t + int(timers["fallback"]))
    max_id = 0
    for d in snap.get("incidents", []):
        a = s.area_index.get(d["area"], -1)
        if a < 0:
            continue
        inc = Incident(int(d["id"]), a, bool(d.get("drill", False)))
        inc.zones = [str(n) for n in d.get("zones", [])]
        inc.silent = bool(d.get("silent", True))
        inc.has_silent = bool(d.get("has_silent", False))
        inc.verified = bool(d.get("verified", False))
        inc.acked = bool(d.get("acked", False))
        inc.holdup = bool(d.get("holdup", False))
        inc.fallback = FALLBACK_NAMES.index(d.get("fallback", "none"))
        inc.fire = bool(d.get("fire", False))
        e._ainc[a] = inc
        max_id = max(max_id, inc.id)
    for a in range(e._na):
        inc = e._ainc[a]
        if inc is None or inc.fallback != FB_PENDING:
            e._set_timer(e._ti(a, K_FALLBACK), INF)
        elif e._dl[e._ti(a, K_FALLBACK)] >= INF:
            inc.fallback = FB_NONE
        if e._astate[a] == ALARM and e._amode[a] == M_OFF:
            e._astate[a] = DISARMED
    for z in range(nz):
        if e._latched[z] and e._ainc[e._zarea[z]] is None:
            e._latched[z] = False
    e._next_inc = max(int(snap.get("next_incident", 1)), max_id + 1)
    for gname, ages in snap.get("groups", {}).items():
        g = s.group_index.get(gname, -1)
        if g < 0:
            continue
        for zname, age in ages.items():
            if zname in s.zone_index:
                e._ghist[g][s.zone_index[zname]] = t - int(age)
            elif zname.startswith("keypad:") and zname[7:] in s.area_index:
                e._ghist[g][-1 - s.area_index[zname[7:]]] = t - int(age)
    counters = snap.get("counters", {})
    e._n_samples = int(counters.get("samples", 0))
    e._n_glitches = int(counters.get("glitches", 0))
    e._n_alarms = int(counters.get("alarms", 0))
    e._n_decisions = int(counters.get("decisions", 0))
    e._n_refused = int(counters.get("refused", 0))
    e._n_late = int(counters.get("late", 0))
    for a in range(e._na):
        sirens.outputs(e, a)
    return out
