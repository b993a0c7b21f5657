"""Sirens and escalation: what the outputs of an area do, the bell cut-off and its re-sound
budget, the silent alarm's fallback to a local signal, silence and the siren test.

Functions of the engine (``e``: core/engine.py's Engine, typed by core/engine.pxd in the
compiled build; declared in core/sirens.pxd). Semantics: docs/developer/engine.md (Sirens,
strobes and the fallback).
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



def sound(e, a, by_fallback):
    s = e._site
    if not e._asiren[a]:
        bell = s.a_bell_ns[a]
        cap = s.a_bell_max_ns[a]
        if e._abells[a] > s.a_bell_rearms[a] or (cap > 0 and e._abell_used[a] >= cap):
            # re-sounds are capped per armed period: the strobe says it, the siren is done
            e._astrobe[a] = True
            outputs(e, a)
            return
        if cap > 0 and (bell <= 0 or cap - e._abell_used[a] < bell):
            bell = cap - e._abell_used[a]
        e._asiren[a] = True
        e._afb[a] = by_fallback
        e._abells[a] += 1
        e._abell_t0[a] = e._now
        if bell > 0:
            e._set_timer(e._ti(a, K_BELL), e._now + bell)
    elif not by_fallback:
        e._afb[a] = False
    e._astrobe[a] = True
    outputs(e, a)


def siren_off(e, a):
    if e._asiren[a]:
        e._abell_used[a] += e._now - e._abell_t0[a]
    e._asiren[a] = False
    e._afb[a] = False
    e._set_timer(e._ti(a, K_BELL), INF)


def outputs(e, a):
    """Order every output of area a whose wanted state changed (edge-only)."""
    s = e._site
    for name in s.a_outputs[a]:
        want = False
        for b, role in s.out_members[name]:
            if role == ROLE_SIREN:
                want = e._asiren[b] != 0 or e._atest[b] != 0
            elif role == ROLE_STROBE:
                want = e._astrobe[b] != 0 or e._atest[b] != 0
            else:  # buzzer: sounds while the exit or entry delay runs, or by fallback
                want = (e._astate[b] == EXIT or e._astate[b] == ENTRY
                        or e._abuzz[b] != 0)
            if want:
                break
        if want != e._outs[name]:
            e._outs[name] = want
            cadence = ""
            if want and s.output_kinds[name] == "siren":
                for b, role in s.out_members[name]:
                    inc = e._ainc[b]
                    if role == ROLE_SIREN and e._asiren[b] and inc is not None and inc.fire:
                        cadence = "fire"      # temporal-3 for drivers that can pulse
            dec = e._emit_inc("output", a, -1, 0, 0, False,
                                 f"{s.output_kinds[name]} '{name}' {'on' if want else 'off'}")
            dec.state = cadence
            dec.output = name
            dec.on = want


def fallback(e, a, cid, why):
    inc = e._ainc[a]
    inc.fallback = FB_FIRED
    e._set_timer(e._ti(a, K_FALLBACK), INF)
    policy = e._site.a_holdup_fb[a] if inc.holdup else FBP_SIREN
    an = e._anames[a]
    e._emit_inc("fallback", a, -1, cid, 1, True,
                   f"Silent alarm in '{an}' {FALLBACK_POLICY_TEXT[policy]}: {why}")
    if policy == FBP_SIREN:
        sound(e, a, True)
    elif policy == FBP_STROBE:
        e._astrobe[a] = True
        outputs(e, a)
    elif policy == FBP_BUZZER:
        e._abuzz[a] = True
        outputs(e, a)


def fallback_expired(e, a):
    inc = e._ainc[a]
    if inc is None or inc.acked or inc.fallback != FB_PENDING:
        return
    if e._asiren[a]:
        inc.fallback = FB_FIRED
        return
    fallback(e, a, codes.FAIL_TO_COMMUNICATE,
                   f"not acknowledged within {e._site.a_fallback_ns[a] // S} s")


def bell_period(e, a):
    """The bell re-arm count and the sounding budget start again (arm, disarm)."""
    e._abells[a] = 1 if e._asiren[a] else 0
    e._abell_used[a] = 0
    e._abell_t0[a] = e._now


def silence(e, a):
    an = e._anames[a]
    inc = e._ainc[a]
    if inc is None and not e._asiren[a] and not e._atest[a]:
        e._refuse(a, -1, f"nothing to silence in '{an}'")
        return
    siren_off(e, a)
    e._atest[a] = False
    e._set_timer(e._ti(a, K_TEST), INF)
    if inc is not None and inc.fallback == FB_PENDING:
        inc.fallback = FB_CANCELLED
        e._set_timer(e._ti(a, K_FALLBACK), INF)
    e._emit_inc("silence", a, -1, codes.SILENCE_RESET, 1, True,
                   f"Sirens silenced in '{an}' by {e._user}")
    outputs(e, a)


def siren_test(e, which, arg):
    if not isinstance(arg, int) or isinstance(arg, bool) or not 0 < arg <= MAX_TEST_S:
        e._refuse(-1, -1, f"siren_test: arg must be 1..{MAX_TEST_S} seconds, got {arg!r}")
        return
    for a in which:
        e._atest[a] = True
        e._set_timer(e._ti(a, K_TEST), e._now + arg * S)
        e._emit("test", a, -1, codes.MANUAL_TEST, 1, True,
                   f"Siren test for {arg} s in '{e._anames[a]}' by {e._user}")
        outputs(e, a)
