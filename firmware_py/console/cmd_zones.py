"""Commands a user (level 2) runs on areas and zones: zones, zone, arm, disarm, bypass,
unbypass, reset, silence; and drill (installer). Each goes through ``host.command``, so it
takes the normal path: events to the platform, outputs, the event log."""
from __future__ import annotations

from ..i18n import N_
from ..vocab import word
from .commands import LEVEL_INSTALLER, LEVEL_USER, CommandError, UsageError, command
from .render import kv, table
from .util import compact_time, find_zone, my_areas, run_engine


def _flags(ctx, z: dict) -> str:
    f = []
    if z.get("bypassed"):
        f.append(ctx._("bypassed"))
    if z.get("latched"):
        f.append(ctx._("latched"))
    if z.get("trouble"):
        f.append(str(z["trouble"]))
    return ",".join(f)



@command("zones", LEVEL_USER, "zones [AREA]", "every zone with its state",
         N_("""
One line per zone: number, name, type, area, state (normal, active, tamper, fault, offline),
flags (bypassed, latched, trouble), trips counted and the last change. 'zone ID' shows one
zone in full; ID is the name, a unique start of it, or the number in this list.
"""))
async def zones(ctx, args):
    zs = ctx.host.zones()
    numbered = list(enumerate(zs, 1))
    if args:
        want = args[0].lower()
        numbered = [(i, z) for i, z in numbered if str(z.get("area", "")).lower() == want]
        if not numbered:
            raise CommandError("no zones in area {area!r}", area=args[0])
    rows = [(i, z["name"], word(z.get("type"), ctx._), z.get("area", ""),
             word(z.get("state"), ctx._),
             _flags(ctx, z), z.get("trips", 0), compact_time(z.get("last_change", "")))
            for i, z in numbered]
    ctx.out(*table(["#", ctx._("ZONE"), ctx._("TYPE"), ctx._("AREA"), ctx._("STATE"),
                    ctx._("FLAGS"), ctx._("TRIPS"), ctx._("CHANGED")], rows))
    bad = sum(1 for _, z in numbered if z.get("state") != "normal")
    ctx.out(ctx._("{n} zones, {bad} not at rest", n=len(numbered), bad=bad))


@command("zone", LEVEL_USER, "zone ID", "one zone in full")
async def zone(ctx, args):
    if len(args) != 1:
        raise UsageError()
    z = find_zone(ctx.host, args[0])
    ctx.out(*kv([(ctx._(_FIELDS[k]) if k in _FIELDS else k, _value(ctx, k, v))
                 for k, v in z.items()]))


#: the fields of one zone as 'zone ID' labels them
_FIELDS = {"name": N_("name"), "type": N_("type"), "area": N_("area"), "profile": N_("profile"),
           "point": N_("point"), "state": N_("state"), "bypassed": N_("bypassed"),
           "bypass_reason": N_("bypass reason"), "latched": N_("latched"), "trips": N_("trips"),
           "last_change": N_("last change"), "trouble": N_("trouble"),
           "incident": N_("incident"), "chatter": N_("chatter")}
_COUNTS = (N_("changes"), N_("held back"), N_("episodes"), N_("samples"))      # keys of the chatter counts


def _value(ctx, key: str, v):
    """A zone field's value: words translated, names and numbers as they are."""
    if isinstance(v, bool):
        return ctx._("yes") if v else ctx._("no")
    if isinstance(v, dict):                   # the chatter counts
        return ctx._(", ").join(f"{word(k, ctx._, spaced=True)} {_value(ctx, k, x)}"
                                for k, x in v.items())
    if key in ("type", "state", "bypass_reason", "trouble"):
        return word(v, ctx._)
    return v


def _arm_args(args):
    stay = force = False
    area = None
    for a in args:
        low = a.lower()
        if low == "stay":
            stay = True
        elif low == "force":
            force = True
        elif low == "away":
            pass
        elif area is None:
            area = a
        else:
            raise UsageError("unexpected {word!r}", word=a)
    return area, stay, force


@command("arm", LEVEL_USER, "arm [AREA] [stay] [force]", "arm an area (all of yours if none)",
         N_("""
Arms away (everything) or stay (perimeter only, people inside). Without an area, every area
your code may use. A zone that is not at rest refuses the arming and is named; 'force'
bypasses such zones for this armed period (reported to the platform).
"""))
async def arm(ctx, args):
    area, stay, force = _arm_args(args)
    await run_engine(ctx, "arm_stay" if stay else "arm_away", my_areas(ctx, area), force=force)


@command("disarm", LEVEL_USER, "disarm [AREA]", "disarm an area (all of yours if none)")
async def disarm(ctx, args):
    if len(args) > 1:
        raise UsageError()
    await run_engine(ctx, "disarm", my_areas(ctx, args[0] if args else None))


@command("reset", LEVEL_USER, "reset [AREA]", "reset latched zones and end the incident",
         N_("""
Clears latched zones (a panic button stays latched until reset) and closes the area's
incident once every zone is back at rest; the strobe stops.
"""))
async def reset(ctx, args):
    if len(args) > 1:
        raise UsageError()
    areas = my_areas(ctx, args[0] if args else None)
    if not args:
        areas = _needing(ctx, areas, "reset")
        if not areas:
            ctx.out(ctx._("nothing to reset: no incident, no latched zone in your areas"))
            return
    await run_engine(ctx, "reset", areas)


def _needing(ctx, areas: list[str], what: str) -> list[str]:
    """Of ``areas``, those a reset (incident, alarm, latched zone) or a silence (siren on)
    concerns: without an area named, quiet areas are left alone, not refused one by one."""
    st = ctx.host.status()
    view = st.get("areas", {})
    if what == "silence":
        return [a for a in areas if view.get(a, {}).get("siren")]
    latched = {z.get("area") for z in ctx.host.zones() if z.get("latched")}
    return [a for a in areas if view.get(a, {}).get("incident") or a in latched
            or view.get(a, {}).get("state") == "alarm" or view.get(a, {}).get("strobe")]


@command("silence", LEVEL_USER, "silence [AREA]", "stop the sirens (the alarm stays)")
async def silence(ctx, args):
    if len(args) > 1:
        raise UsageError()
    areas = my_areas(ctx, args[0] if args else None)
    if not args:
        areas = _needing(ctx, areas, "silence")
        if not areas:
            ctx.out(ctx._("nothing to silence: no siren sounds in your areas"))
            return
    await run_engine(ctx, "silence", areas)


async def _bypass(ctx, args, name):
    if len(args) != 1:
        raise UsageError()
    z = find_zone(ctx.host, args[0])
    if not ctx.session.may_use_area(z.get("area", "")):
        raise CommandError("user {user} may not use area {area}", user=ctx.user,
                           area=z.get("area"))
    await run_engine(ctx, name, [z.get("area", "")], zone=z["name"])


@command("bypass", LEVEL_USER, "bypass ZONE", "leave a zone out until unbypassed",
         N_("""
A bypassed zone raises no alarm (its trouble and tamper still report). Panic and hold-up
zones cannot be bypassed. The bypass is reported (570) and shown in 'zones'.
"""))
async def bypass(ctx, args):
    await _bypass(ctx, args, "bypass")


@command("unbypass", LEVEL_USER, "unbypass ZONE", "put a bypassed zone back in service")
async def unbypass(ctx, args):
    await _bypass(ctx, args, "unbypass")


@command("drill", LEVEL_INSTALLER, "drill start AREA | drill stop [AREA]",
         "start or stop a drill (alarms marked as drill)",
         N_("""
During a drill the area's alarms go to the platform marked as a drill (a lockdown or
evacuation exercise), so nobody is dispatched. 'drill stop' without an area stops every drill.
"""))
async def drill(ctx, args):
    if not args or args[0] not in ("start", "stop"):
        raise UsageError()
    if args[0] == "start":
        if len(args) != 2:
            raise UsageError("name the area of the drill")
        await run_engine(ctx, "drill_start", my_areas(ctx, args[1]))
    else:
        areas = my_areas(ctx, args[1] if len(args) > 1 else None)
        if len(args) == 1:
            st = ctx.host.status().get("areas", {})
            areas = [a for a in areas if st.get(a, {}).get("drill")] or areas
        await run_engine(ctx, "drill_stop", areas)
