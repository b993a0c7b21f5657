"""Installer tests: the walk test (with a live view of each zone as it trips), the siren test
and direct output control."""
from __future__ import annotations

import asyncio
import time
from typing import Optional

from ..i18n import N_, Msg, tr
from ..vocab import word
from .commands import LEVEL_INSTALLER, LEVEL_USER, CommandError, UsageError, command
from . import cols
from .render import paint, table
from .util import find_area, run_engine
from .walktest import WalkTest, running_areas


def _walk(ctx) -> Optional[WalkTest]:
    return ctx.console.state.get("walktest")


def _ended(d: dict) -> bool:
    """The engine's end-of-walk-test decision (3607): stopped, timed out, or at logout."""
    return d.get("kind") == "walktest" and not d.get("zone") and d.get("q") == 3


async def _live(ctx, wt: WalkTest) -> None:
    """Show trips as they come until Ctrl-C, or until the walk test ends."""
    ends: list[str] = []

    def on_decision(d: dict) -> None:
        zone = d.get("zone") or ""
        if d.get("area") not in wt.areas and d.get("area"):
            return
        if zone and (d.get("kind") == "walktest" or d.get("cid") == 607):
            if wt.trip(zone):
                show(zone)
        elif _ended(d):
            ends.append(_end_text(ctx, d))
            if not running_areas(ctx.host):
                ctx.interrupt()

    def show(zone: str) -> None:
        z = wt.info.get(zone, {})
        tested = ctx._("tested")
        stamp = time.strftime("%H:%M:%S", time.localtime(wt.tripped[zone]))
        line = (f"  {stamp}  {_cell(zone, 20)} {_cell(word(z.get('type', ''), ctx._), 10)} "
                f"{_cell(str(z.get('area', '')), 10)} {cols.ljust(tested, 8)} {_count(ctx, wt)}")
        ctx.out(paint(line, "green", ctx.colour))
        ctx.touch()                            # a walking installer is not idle
        if not wt.untested():
            ctx.out(ctx._("  Every zone has tripped."))

    ctx.host.subscribe(on_decision)
    try:
        for z in wt.sync(ctx.host):
            show(z)
        ctx.out(ctx._("Walk the site: each zone shows here as it trips ({count}).",
                      count=_count(ctx, wt)), ctx._("Ctrl-C leaves the live view."))
        await ctx.wait_interrupt()
    finally:
        ctx.host.unsubscribe(on_decision)
    if ends:
        _forget(ctx, wt, Msg("ended by the controller"))
        ctx.out(*ends, ctx._("The walk test has ended."))
        _report(ctx, wt)
        return
    ctx.out("^C", ctx._("Live view closed. The walk test is still running: 'walktest show', "
                        "'walktest report', 'walktest stop'."))


def _cell(text: str, n: int) -> str:
    """``text`` cut to ``n`` columns and padded to them (CJK counts two)."""
    return cols.ljust(cols.cut(text, n)[0], n)


def _count(ctx, wt: WalkTest) -> str:
    """``3/7 tested`` in the session's language."""
    return ctx._("{done}/{n} tested", done=len([z for z in wt.zones if z in wt.tripped]),
                 n=len(wt.zones))


def _end_text(ctx, d: dict) -> str:
    """The engine's end-of-walk-test decision as a line (its text built from the fields in
    Chinese, as the command results are)."""
    from .util import decision_lines

    lines = decision_lines([d], ctx.console.lang) if d.get("text") else []
    return lines[0].strip() if lines else ctx._("walk test ended")


def _forget(ctx, wt: WalkTest, why: str) -> None:
    wt.ended = why
    ctx.console.state.pop("walktest", None)
    ctx.console.state["walktest_last"] = wt


def _report(ctx, wt: WalkTest) -> None:
    if not wt.ended:
        wt.sync(ctx.host)
    _ = ctx._
    ctx.out(_("Walk test in {areas}: {count}", areas=", ".join(wt.areas), count=_count(ctx, wt)))
    rows = [(z, word(wt.info[z].get("type", ""), _), wt.info[z].get("area", ""),
             time.strftime("%H:%M:%S", time.localtime(wt.tripped[z])) if z in wt.tripped
             else _("NOT TESTED")) for z in wt.zones]
    ctx.out(*table([_("ZONE"), _("TYPE"), _("AREA"), _("TRIPPED")], rows))
    left = wt.untested()
    if left:
        ctx.out(_("Not yet tripped ({n}): {zones}", n=len(left), zones=", ".join(left)))
    else:
        ctx.out(_("Every zone has tripped."))


async def end_walktests(console, user: str, why: str) -> list[str]:
    """End every walk test (installer logout, idle logout, shutdown); returns the areas."""
    host = console.host
    areas = running_areas(host)
    wt = console.state.get("walktest")
    for a in areas:
        try:
            await host.command("walktest_stop", area=a, user=user)
        except Exception:  # noqa: BLE001 - logging out must go on
            import logging

            logging.getLogger("guardroom.console").exception("walk test not stopped")
    if areas:
        console.report("command", 0, 1, f"walk test in {', '.join(areas)} ended: {why}",
                       user=user)
    if wt is not None:
        wt.ended = why
        console.state.pop("walktest", None)
        console.state["walktest_last"] = wt
    return areas


@command("walktest", LEVEL_USER, "walktest start [AREA] | stop | report | show",
         "walk test: zones report as test (607), not alarms",
         N_("""
'walktest start' (installer) puts the area (or every area) in walk test: a zone that trips
reports a walk-test event (607) instead of an alarm, and the console shows it live with the
count of zones tested. Walk the site and trip every detector. Ctrl-C leaves the live view, the
walk test goes on; 'walktest show' returns to it, 'walktest report' lists the zones not yet
tripped, 'walktest stop' ends the test and prints the report. The test covers every zone of
the area except technical ones (the engine's list, the same the platform's report uses).
Arming is refused while it runs. It ends by itself when the installer logs out (or is logged
out idle), when the controller stops, and after the engine's walk-test timeout; a user (a
guard) may end it with 'walktest stop'. Panic and duress buttons still alarm for real during a
walk test (a real hold-up is never suppressed): warn the monitoring centre, or test them in a
drill.
"""))
async def walktest(ctx, args):
    if not args or args[0] not in ("start", "stop", "report", "show"):
        raise UsageError()
    sub = args[0]
    if sub in ("start", "show") and ctx.level < LEVEL_INSTALLER:
        raise CommandError("'walktest {sub}' needs the installer level; a user may "
                           "'walktest stop' or 'walktest report'", sub=sub)
    wt = _walk(ctx)
    running = running_areas(ctx.host)
    if wt is not None and not any(a in running for a in wt.areas):
        # Ended elsewhere (the engine's timeout, a restart): forget it, keep the report.
        _forget(ctx, wt, Msg("ended by the controller"))
        wt = None
    if sub == "start":
        if len(args) > 2:
            raise UsageError()
        areas = [find_area(ctx.host, args[1])] if len(args) == 2 else \
            list(ctx.host.status().get("areas", {}))
        if wt is not None:
            raise CommandError("a walk test is already running here ('walktest stop' first)")
        if not await run_engine(ctx, "walktest_start", areas):
            return
        wt = ctx.console.state["walktest"] = WalkTest(ctx.host, areas)
        ctx.out(ctx._("Walk test started in {areas}: {n} zones to test.",
                      areas=", ".join(areas), n=len(wt.zones)))
        await _live(ctx, wt)
        return
    if sub == "stop" and wt is None and running:
        # Started by an earlier session (before a restart): a guard may still end it.
        areas = [a for a in running if ctx.session.may_use_area(a)]
        if not areas:
            raise CommandError("user {user} may not use the areas in walk test", user=ctx.user)
        await run_engine(ctx, "walktest_stop", areas)
        ctx.out(ctx._("Walk test stopped."))
        return
    if wt is None:
        last = ctx.console.state.get("walktest_last")
        if sub == "report" and last is not None:
            ctx.out(ctx._("(the last walk test, already ended: {why})",
                          why=tr(last.ended, ctx._) or ctx._("ended")))
            _report(ctx, last)
            return
        raise CommandError("no walk test running ('walktest start [AREA]')")
    if sub == "show":
        await _live(ctx, wt)
    elif sub == "report":
        _report(ctx, wt)
    else:
        if ctx.level < LEVEL_INSTALLER and not all(ctx.session.may_use_area(a)
                                                   for a in wt.areas):
            raise CommandError("user {user} may not use every area of this walk test",
                               user=ctx.user)
        wt.sync(ctx.host)
        await run_engine(ctx, "walktest_stop", [a for a in wt.areas if a in running])
        _forget(ctx, wt, Msg("stopped by {user}", user=ctx.user))
        ctx.out(ctx._("Walk test stopped."))
        _report(ctx, wt)


@command("siren", LEVEL_INSTALLER, "siren test [SECONDS]",
         "sound the sirens for a few seconds (default 3)",
         N_("""
Sounds every siren (and strobe) for SECONDS (1-60, default 3) through the engine, so the test
is logged and reported like any other. Warn the building first.
"""))
async def siren(ctx, args):
    if not args or args[0] != "test" or len(args) > 2:
        raise UsageError()
    secs = 3
    if len(args) == 2:
        if not args[1].isdigit() or not 1 <= int(args[1]) <= 60:
            raise UsageError("SECONDS is a whole number from 1 to 60")
        secs = int(args[1])
    ended = asyncio.Event()

    def on_decision(d: dict) -> None:
        if d.get("kind") == "test" and d.get("q") == 3 or (
                d.get("kind") == "output" and not d.get("on") and d.get("output") in sounders):
            ended.set()

    sounders = {n for n, o in ctx.host.outputs().items()
                if o.get("kind") in ("siren", "strobe", "buzzer")}
    ctx.out(ctx._("Siren test: {s} s.", s=secs))
    ctx.host.subscribe(on_decision)
    try:
        if not await run_engine(ctx, "siren_test", [""], arg=secs):
            return
        try:
            async with asyncio.timeout(secs + 5):
                await ended.wait()
            ctx.out(ctx._("Siren test ended: the sirens are quiet again."))
        except TimeoutError:
            ctx.out(ctx._("The siren test did not report its end; check 'output' and 'status'."))
    finally:
        ctx.host.unsubscribe(on_decision)


@command("output", LEVEL_INSTALLER, "output [ID on|off|pulse MS]",
         "list the outputs, or switch one by hand",
         N_("""
Without arguments: every output (siren, strobe, relay, reader LED) with its kind and state.
'output ID on', 'output ID off', 'output ID pulse MS' (10-60000 ms) switch it directly, for
wiring checks. The output goes back to the alarm logic's order at the engine's next order
for it, when you log out (also idle logout or a lost link), or after 10 minutes.
"""))
async def output(ctx, args):
    outs = ctx.host.outputs()
    if not args:
        ctx.out(*table([ctx._("OUTPUT"), ctx._("KIND"), ctx._("DRIVER"), ctx._("STATE")],
                       [(n, word(o.get("kind", ""), ctx._), o.get("driver", ""),
                         ctx._("on") if o.get("on") else ctx._("off"))
                        for n, o in outs.items()]))
        return
    if len(args) < 2:
        raise UsageError()
    name = args[0]
    if name not in outs:
        raise CommandError("no output {name!r} (outputs: {names})", name=name,
                           names=", ".join(outs) or Msg("none"))
    act = args[1].lower()
    if act in ("on", "off") and len(args) == 2:
        await ctx.host.set_output(name, act == "on")
        ctx.out(f"{name} {ctx._(act)}")
    elif act == "pulse":
        if len(args) != 3 or not args[2].isdigit():
            raise CommandError("'output {name} pulse MS': MS is the pulse length in "
                               "milliseconds, 10 to 60000 (e.g. 500)", name=name)
        ms = int(args[2])
        if not 10 <= ms <= 60000:
            hint = Msg(" (did you mean {ms} ms = {s} s?)", ms=ms * 1000, s=ms) \
                if ms < 10 and ms * 1000 <= 60000 else ""
            raise CommandError("a pulse of {ms} ms is outside 10-60000 ms{hint}", ms=ms,
                               hint=hint)
        await ctx.host.pulse_output(name, int(args[2]))
        ctx.out(ctx._("{name} pulsed {ms} ms", name=name, ms=args[2]))
    else:
        raise UsageError()
    ctx.console.report("command", 0, 1, f"output {name} {' '.join(args[1:])} "
                       "from the console", user=ctx.user)
