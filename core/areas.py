"""Areas and arming: commands, arming (prevention of setting, forced set, exit time and exit
faults), disarming (abort window), entry delays, bypasses, drill and walk test.

Functions of the engine (``e``: core/engine.py's Engine, typed by core/engine.pxd in the
compiled build; declared in core/areas.pxd). Semantics: docs/developer/engine.md (Areas,
Drill and walk test, Commands).
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
    from cython.cimports.guardroom.core import incidents, sirens
else:  # the interpreted build: the other modules from their sources
    from guardroom.core.loader import source_module
    incidents = source_module("incidents")
    sirens = source_module("sirens")


def command(e, name, area, zone, force, arg):
    s = e._site
    if name == "siren_test" and not area and not zone:
        sirens.siren_test(e, list(range(e._na)), arg)
        return
    z = -1
    if zone:
        z = s.zone_index.get(zone, -1)
        if z < 0:
            e._refuse(-1, -1, f"unknown zone '{zone}'")
            return
        a = e._zarea[z]
        if area and area != e._anames[a]:
            e._refuse(-1, z, f"zone '{zone}' is not in area '{area}'")
            return
    elif area:
        a = s.area_index.get(area, -1)
        if a < 0:
            e._refuse(-1, -1, f"unknown area '{area}'")
            return
    elif e._na == 1:
        a = 0
    else:
        e._refuse(-1, -1, f"{name}: which area?")
        return
    if name in ("bypass", "unbypass"):
        if z < 0:
            e._refuse(a, -1, f"{name}: which zone?")
        elif name == "bypass":
            bypass_cmd(e, z)
        else:
            unbypass_cmd(e, z)
    elif name == "arm_away" or name == "arm_stay":
        arm(e, a, M_AWAY if name == "arm_away" else M_STAY, force)
    elif name == "disarm":
        disarm(e, a)
    elif name == "reset":
        incidents.reset(e, a)
    elif name == "silence":
        sirens.silence(e, a)
    elif name == "drill_start" or name == "drill_stop":
        drill(e, a, name == "drill_start")
    elif name == "walktest_start" or name == "walktest_stop":
        walktest(e, a, name == "walktest_start")
    elif name == "siren_test":
        sirens.siren_test(e, [a], arg)
    else:  # duress / panic from a keypad or console
        who = f" by {e._user}" if e._user else ""
        if name == "duress":
            incidents.alarm(e, a, -1, codes.DURESS, True,
                        f"Duress code entered in '{e._anames[a]}'{who}", True, False, False)
        else:
            incidents.alarm(e, a, -1, codes.PANIC, True,
                        f"Panic key pressed in '{e._anames[a]}'{who}", True, False, False)
        incidents.keypad_confirm(e, a, name == "duress")


def by_keyswitch(e, a, to_arm):
    saved = e._user
    e._user = "keyswitch"
    if to_arm:
        arm(e, a, M_AWAY, False)
    else:
        disarm(e, a)
    e._user = saved


def arm(e, a, mode, force):
    s = e._site
    an = e._anames[a]
    if e._awalk[a]:
        e._refuse(a, -1, f"cannot arm '{an}': walk test running")
        return
    if e._astate[a] != DISARMED:
        e._refuse(a, -1, f"cannot arm '{an}': already {AREA_STATE_NAMES[e._astate[a]]}")
        return
    blocking = []
    prevent = prevention(e, a)
    for z in s.a_zones[a]:
        ty = e._ztype[z]
        if (not e._bypass[z] and e._lst[z] != NORMAL
                and (ty == T_PERIMETER or ty == T_ENTRY or (ty == T_INTERIOR and mode == M_AWAY))):
            blocking.append(z)
    if (blocking or prevent) and not force:
        why = []
        if prevent:
            why.append("prevention of setting: " + ", ".join(prevent))
        if blocking:
            why.append("zones not ready: " + ", ".join(
                f"{e._znames[z]} ({STATE_NAMES[e._lst[z]]})" for z in blocking))
        e._refuse(a, -1, f"cannot arm '{an}': {'; '.join(why)}")
        return
    for z in blocking:
        e._set_bypass(z, BY_FORCED, "auto-bypass on forced arm")
    new_period(e, a)
    e._amode[a] = mode
    e._aby[a] = e._user
    if s.a_exit_ns[a] > 0:
        e._astate[a] = EXIT
        e._set_timer(e._ti(a, K_DELAY), e._now + s.a_exit_ns[a])
        dec = e._emit("area", a, -1, 0, 0, False,
                         f"Exit delay started in '{an}' by {e._user}")
        dec.state = "exit_delay"
        sirens.outputs(e, a)
    else:
        armed(e, a)


def prevention(e, a):
    """EN 50131-1 prevention of setting: what stops area a from setting unless forced
    with authority (an un-reset hold-up incident, an active tamper, a fault)."""
    s = e._site
    found = []
    inc = e._ainc[a]
    if inc is not None and inc.holdup:
        found.append(f"hold-up incident {inc.id} not reset")
    for z in s.a_zones[a]:
        if e._bypass[z]:
            continue
        st = e._lst[z]
        ty = e._ztype[z]
        if st == TAMPER or (ty == T_TAMPER and st == ACTIVE):
            found.append(f"tamper on '{e._znames[z]}'")
        elif T_PERIMETER <= ty <= T_INTERIOR:
            continue                 # an intruder zone not at rest is "not ready"
        elif st == FAULT:
            found.append(f"fault (loop short) on '{e._znames[z]}'")
        elif e._ztrouble[z] == codes.SUPERVISION:
            found.append(f"'{e._znames[z]}' offline")
    return found


def new_period(e, a):
    """Each armed period starts clean: the previous incident is closed (reported), its
    alarms no longer confirm anything, swinger counts start again."""
    s = e._site
    inc = e._ainc[a]
    if inc is not None:
        incidents.deferred_restores(e, a, inc)
        e._emit_inc("reset", a, -1, codes.SILENCE_RESET, 3, True,
                       f"Incident {inc.id} in '{e._anames[a]}' closed: a new armed period "
                       f"starts ({e._user})")
        incidents.close_incident(e, a, inc)
    for z in s.a_zones[a]:
        e._zswing[z] = 0
        for g in s.z_groups[z]:
            e._ghist[g].pop(z, None)
    for hist in e._ghist:
        hist.pop(-1 - a, None)
    e._anoconf[a] = False
    e._aexiterr[a] = False
    e._aarmed_t[a] = -1
    e._aintr_t[a] = -1
    e._arecent[a] = False
    sirens.bell_period(e, a)


def exit_ended(e, a):
    """The exit time is over: a zone still open is an exit fault (CID 374): an alarm
    (default) or, with exit_fault "fail_to_set", the area does not set."""
    s = e._site
    mode = e._amode[a]
    open_zones = []
    for z in s.a_zones[a]:
        ty = e._ztype[z]
        st = e._lst[z]
        if (not e._bypass[z] and st != NORMAL and st != TAMPER
                and (ty == T_PERIMETER or ty == T_ENTRY or (ty == T_INTERIOR and mode == M_AWAY))):
            open_zones.append(z)
    if open_zones and s.a_fail_to_set[a]:
        names = ", ".join(f"{e._znames[z]} ({STATE_NAMES[e._lst[z]]})" for z in open_zones)
        e._set_timer(e._ti(a, K_DELAY), INF)
        e._astate[a] = DISARMED
        e._amode[a] = M_OFF
        dec = e._emit("area", a, open_zones[0], codes.EXIT_ERROR, 1, True,
                         f"Failed to set '{e._anames[a]}': open at the end of the exit "
                         f"time: {names}")
        dec.state = "disarmed"
        dec.user = e._aby[a]
        clear_bypasses(e, a)
        sirens.outputs(e, a)
        return
    armed(e, a, False)
    entry = False
    for z in open_zones:
        if e._ztype[z] == T_ENTRY and e._lst[z] == ACTIVE:
            if not entry and e._astate[a] != ALARM:
                entry = True          # exit error: the entry delay gives a chance to unset
                e._aexiterr[a] = True
                start_entry(e, z)
            continue
        incidents.alarm(e, a, z, codes.EXIT_ERROR, e._zone_silent(z),
                    f"Exit error: '{e._znames[z]}' still open "
                    f"({STATE_NAMES[e._lst[z]]}) when the exit time ended",
                    False, True, True)
    sirens.outputs(e, a)


def armed(e, a, outputs=True):
    s = e._site
    mode = e._amode[a]
    user = e._aby[a]
    e._astate[a] = AWAY if mode == M_AWAY else STAY
    e._aarmed_t[a] = e._now
    if user == "keyswitch":
        cid = codes.KEYSWITCH_OPEN_CLOSE
    elif mode == M_STAY:
        cid = codes.ARMED_STAY
    else:
        cid = codes.OPEN_CLOSE
    dec = e._emit("area", a, -1, cid, 3, True,
                     f"Area '{e._anames[a]}' armed {MODE_NAMES[mode]} by {user}")
    dec.state = AREA_STATE_NAMES[e._astate[a]]
    dec.user = user
    if outputs:
        sirens.outputs(e, a)


def disarm(e, a):
    s = e._site
    an = e._anames[a]
    if e._astate[a] == DISARMED:
        e._refuse(a, -1, f"'{an}' is already disarmed")
        return
    inc = e._ainc[a]
    t0 = e._aintr_t[a]
    if (inc is not None and t0 >= 0 and s.a_abort_ns[a] > 0
            and e._now - t0 <= s.a_abort_ns[a]):
        # SIA CP-01 abort window: an intruder alarm disarmed soon enough is cancelled
        if inc.fallback == FB_PENDING:
            inc.fallback = FB_CANCELLED
            e._set_timer(e._ti(a, K_FALLBACK), INF)
        e._emit_inc("cancel", a, -1, codes.SILENCE_RESET, 1, True,
                       f"Alarm in '{an}' cancelled: disarmed by {e._user} "
                       f"{(e._now - t0) // S} s after it (abort window "
                       f"{s.a_abort_ns[a] // S} s)")
    e._aintr_t[a] = -1
    e._aarmed_t[a] = -1
    e._set_timer(e._ti(a, K_DELAY), INF)
    e._aentry[a] = -1
    e._astate[a] = DISARMED
    e._amode[a] = M_OFF
    cid = codes.KEYSWITCH_OPEN_CLOSE if e._user == "keyswitch" else codes.OPEN_CLOSE
    dec = e._emit("area", a, -1, cid, 1, True, f"Area '{an}' disarmed by {e._user}")
    dec.state = "disarmed"
    sirens.outputs(e, a)
    e._anoconf[a] = False
    e._aexiterr[a] = False
    clear_bypasses(e, a)
    inc = e._ainc[a]
    if e._asiren[a] and not (inc is not None and (inc.holdup or inc.fire)):
        sirens.siren_off(e, a)
        sirens.outputs(e, a)
    sirens.bell_period(e, a)


def clear_bypasses(e, a):
    s = e._site
    for z in s.a_zones[a]:
        e._zswing[z] = 0
        if e._bypass[z]:
            e._bypass[z] = BY_NONE
            e._emit("bypass", a, z, codes.BYPASS, 3, True, "bypass cleared on disarm")


def bypass_cmd(e, z):
    s = e._site
    name = e._znames[z]
    if e._ztype[z] <= T_DURESS:
        e._refuse(e._zarea[z], z, f"{s.z_type_name[z]} zone '{name}' cannot be bypassed")
    elif e._bypass[z]:
        e._refuse(e._zarea[z], z, f"'{name}' is already bypassed")
    else:
        e._set_bypass(z, BY_MANUAL, f"'{name}' bypassed by {e._user}")


def unbypass_cmd(e, z):
    s = e._site
    name = e._znames[z]
    if not e._bypass[z]:
        e._refuse(e._zarea[z], z, f"'{name}' is not bypassed")
        return
    e._bypass[z] = BY_NONE
    e._emit("bypass", e._zarea[z], z, codes.BYPASS, 3, True,
               f"'{name}' back in service ({e._user})")


def start_entry(e, z):
    s = e._site
    a = e._zarea[z]
    if s.a_entry_ns[a] <= 0:
        e._zone_alarm(z, WHY_ACTIVE)
        return
    e._astate[a] = ENTRY
    e._anoconf[a] = True   # BS 8243: the entry route cannot confirm this entry
    e._aentry[a] = z
    e._set_timer(e._ti(a, K_DELAY), e._now + s.a_entry_ns[a])
    # reported: a platform that hears of an entry and then nothing (neither unset nor
    # alarm) knows the panel was smashed during the entry delay (crash and smash)
    dec = e._emit("area", a, z, 0, 0, True, f"Entry delay started by '{e._znames[z]}'")
    dec.state = "entry_delay"
    sirens.outputs(e, a)


def delay_expired(e, a):
    s = e._site
    st = e._astate[a]
    if st == EXIT:
        exit_ended(e, a)
    elif st == ENTRY:
        z = e._aentry[a]
        e._aentry[a] = -1
        if e._aexiterr[a]:
            cid = codes.EXIT_ERROR
            text = f"Exit error: '{e._znames[z]}' open when the exit time ended, not unset"
        else:
            cid = e._zcid[z] or TYPE_CID[T_ENTRY]
            text = f"Entry delay expired: '{e._znames[z]}' not disarmed"
        incidents.alarm(e, a, z, cid, e._zone_silent(z), text, False,
                    e._lst[z] == ACTIVE and not e._zalarm[z], True)


def drill(e, a, start):
    an = e._anames[a]
    if start == e._adrill[a]:
        e._refuse(a, -1, f"drill {'already running' if start else 'not running'} in '{an}'")
        return
    if start:
        e._adrill[a] = True
        e._emit("drill", a, -1, 0, 1, True, f"Drill started in '{an}' by {e._user}")
    else:
        e._emit("drill", a, -1, 0, 3, True, f"Drill ended in '{an}' by {e._user}")
        e._adrill[a] = False


def walktest(e, a, start):
    s = e._site
    an = e._anames[a]
    if start:
        if e._awalk[a]:
            e._refuse(a, -1, f"walk test already running in '{an}'")
        elif e._astate[a] != DISARMED:
            e._refuse(a, -1, f"walk test needs '{an}' disarmed")
        else:
            e._awscope[a] = scope_of(e, a)
            e._awalk[a] = True
            e._awalked[a] = []
            if s.walktest_timeout_ns > 0:
                e._set_timer(e._ti(a, K_WALK), e._now + s.walktest_timeout_ns)
            e._emit("walktest", a, -1, codes.WALK_TEST, 1, True,
                       f"Walk test started in '{an}' by {e._user}")
        return
    if not e._awalk[a]:
        e._refuse(a, -1, f"no walk test running in '{an}'")
        return
    walktest_end(e, a, "")


def walktest_timeout(e, a):
    if e._awalk[a]:
        walktest_end(e, a, f" after {e._site.walktest_timeout_ns // S} s (timeout)")


def walktest_end(e, a, why):
    an = e._anames[a]
    missing = untripped(e, a)
    e._awalk[a] = False
    e._awscope[a] = []
    e._set_timer(e._ti(a, K_WALK), INF)
    e._emit("walktest", a, -1, codes.WALK_TEST, 3, True,
               f"Walk test ended in '{an}'{why}; not tripped: {', '.join(missing) or 'none'}")


def untripped(e, a):
    s = e._site
    return [e._znames[z] for z in scope_of(e, a)
            if e._znames[z] not in e._awalked[a]]


def scope_of(e, a):
    if e._awalk[a]:
        return list(e._awscope[a])
    return [z for z in e._site.a_zones[a] if not e._bypass[z]]


def walk_trip(e, a, z, what):
    name = e._znames[z]
    if name not in e._awalked[a]:
        e._awalked[a].append(name)
    e._emit("walktest", a, z, codes.WALK_TEST, 1, True, f"Walk test: '{name}' {what}")
