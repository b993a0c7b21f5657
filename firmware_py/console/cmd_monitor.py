"""The live zone monitor: one screen (80x24, or the console's ``rows``) that redraws in place
as zones change, like a panel's zone status display. Zones not at rest come first; 'q' or
Ctrl-C leaves it. Plain ANSI cursor moves (home, erase to end of line), understood by every
terminal program an installer uses."""
from __future__ import annotations

import asyncio
import time

from ..i18n import N_, translator
from ..vocab import word
from . import cols
from .commands import LEVEL_USER, UsageError, command
from .render import WIDTH, paint
from .util import compact_time, find_area

HOME, CLEAR, EOL, HIDE, SHOW = "\x1b[H", "\x1b[2J", "\x1b[K", "\x1b[?25l", "\x1b[?25h"
REDRAW_S = 0.2          # at most five redraws a second: a chattering beam cannot flood a line


def _c(text, n: int) -> str:
    """``text`` cut to ``n`` display columns and padded to them."""
    return cols.ljust(cols.cut(str(text), n)[0], n)


def screen(host, area: str, rows: int, colour: bool, now: float,
           t=translator("en")) -> list[str]:
    """The lines of one frame (each at most WIDTH columns), words through translator ``t``."""
    st = host.status()
    areas = st.get("areas", {})
    zones = [z for z in host.zones() if not area or z.get("area") == area]
    busy = [z for z in zones if z.get("state") != "normal" or z.get("bypassed")
            or z.get("latched") or z.get("trouble")]
    order = busy + [z for z in zones if z not in busy]
    head = "  ".join(f"{a}: {word(v.get('state', '?'), t, spaced=True)}"
                     + (" " + t("WALK TEST") if v.get("walktest") else "")
                     for a, v in areas.items() if not area or a == area)
    up = st.get("uplink", {}) or {}
    lines = [cols.cut(t("zone monitor  {clock}  uplink {state}  {areas}",
                        clock=time.strftime("%H:%M:%S", time.localtime(now)),
                        state=t("up") if up.get("connected") else t("DOWN"), areas=head),
                      WIDTH)[0],
             " ".join([_c(t("ZONE"), 22), _c(t("TYPE"), 10), _c(t("AREA"), 10),
                       _c(t("STATE"), 8), _c(t("FLAGS"), 14), t("CHANGED")]),
             "-" * WIDTH]
    room = max(1, rows - len(lines) - 2)
    for z in order[:room]:
        flags = ",".join(f for f, on in ((t("bypass"), z.get("bypassed")),
                                         (t("latched"), z.get("latched")),
                                         (str(z.get("trouble")), z.get("trouble"))) if on)
        line = cols.cut(f"{_c(z['name'], 22)} {_c(word(z.get('type', ''), t), 10)} "
                        f"{_c(z.get('area', ''), 10)} {_c(word(z.get('state', ''), t), 8)} "
                        f"{_c(flags, 14)} {compact_time(z.get('last_change', ''))}", WIDTH)[0]
        hot = z.get("state") != "normal"
        lines.append(paint(line, "red" if hot else "green", colour) if colour else line)
    more = len(order) - room
    lines.append(t("... {n} more zone(s) at rest", n=more) if more > 0 else "")
    lines.append(t("{busy} of {n} zone(s) not at rest.  q: quit", busy=len(busy),
                   n=len(zones)))
    return lines


@command("monitor", LEVEL_USER, "monitor [AREA]", "live zone screen, updated in place (q quits)",
         N_("""
A full screen of the zones and their state, redrawn in place as they change (at most five
times a second): zones not at rest (active, tamper, fault, offline, bypassed, latched) at the
top, then the others as the screen allows. The first line shows the time, the uplink and each
area's state. 'q' or Ctrl-C leaves the screen. For a terminal of another height set
[console] rows. Only key presses count as activity: the idle logout still applies.
"""))
async def monitor(ctx, args):
    if len(args) > 1:
        raise UsageError()
    area = find_area(ctx.host, args[0]) if args else ""
    rows = ctx.console.rows or 24
    dirty = asyncio.Event()
    quit_ = asyncio.Event()

    def on_decision(d: dict) -> None:
        if d.get("kind") in ("zone", "bypass", "area", "alarm", "reset", "trouble",
                             "trouble_restore", "walktest"):
            dirty.set()

    def on_key(key: str) -> None:
        if key in ("q", "Q"):
            quit_.set()

    ctx.read_keys(on_key)
    ctx.host.subscribe(on_decision)
    ctx.raw(HIDE + CLEAR)
    stop = asyncio.ensure_future(ctx.wait_interrupt())
    quitting = asyncio.ensure_future(quit_.wait())
    try:
        while not stop.done() and not quitting.done():
            frame = screen(ctx.host, area, rows, ctx.colour, time.time(), ctx._)
            ctx.raw(HOME + "".join(line + EOL + "\r\n" for line in frame[:-1]) + frame[-1]
                    + EOL)
            dirty.clear()
            waiter = asyncio.ensure_future(dirty.wait())
            await asyncio.wait({waiter, stop, quitting}, timeout=1.0,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not stop.done() and not quitting.done():
                await asyncio.sleep(REDRAW_S)  # let a burst of changes settle into one frame
    finally:
        for f in (stop, quitting):
            f.cancel()
        ctx.host.unsubscribe(on_decision)
        ctx.raw(SHOW + CLEAR + HOME)
    ctx.out(ctx._("Zone monitor closed."))
