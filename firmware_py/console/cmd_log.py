"""The event log: the last N events, a live follow, and the hash-chain check."""
from __future__ import annotations

import asyncio

from .commands import LEVEL_INSTALLER, LEVEL_USER, CommandError, UsageError, command
from .render import wrap
from .util import short_time

HEADER = "ROW     TIME (UTC)      CID   EVENT"
DURESS_CODE = "121"


def _shown(r: dict) -> bool:
    """Duress events never appear on the site's own screens: the person who used the duress
    code may be watched. They reach the platform, and `guardroom log` shows them."""
    return not str(r.get("cid", "")).endswith(DURESS_CODE)


def _lines(r: dict) -> list[str]:
    """One event: row, time, Contact ID, then area/zone and text, wrapped under itself."""
    cid = str(r.get("cid", ""))
    cid = "" if cid in ("0000", "0") else cid
    where = "/".join(str(r[k]) for k in ("area", "zone") if r.get(k))
    text = (f"{where}: " if where else "") + str(r.get("text", ""))
    if r.get("user"):
        text += f" [{r['user']}]"
    head = f"{str(r.get('row', '')):<7} {short_time(r.get('ts', '')):<15} {cid:<5} "
    chunks = wrap(text, 79 - len(head)) or [""]
    return [head + chunks[0]] + [" " * len(head) + c for c in chunks[1:]]


@command("log", LEVEL_USER, "log [N] | log follow | log verify",
         "the event log: last N events (20), live, or check its hash chain",
         """
'log' shows the last 20 events (or N, up to 1000), oldest first: row, time (UTC), Contact ID
qualifier+code, area, zone, text and who caused it. 'log follow' shows new events as they
are written, until Ctrl-C. 'log verify' (installer) walks the log's hash chain and says
whether any row was altered or removed.
""")
async def log_(ctx, args):
    log = ctx.host.eventlog
    if not args or args[0].isdigit():
        if len(args) > 1:
            raise UsageError()
        n = int(args[0]) if args else 20
        if not 1 <= n <= 1000:
            raise UsageError("N is 1 to 1000")
        rows = [r for r in log.tail(n) if _shown(r)]
        ctx.out(HEADER)
        for r in rows:
            ctx.out(*_lines(r))
        if not rows:
            ctx.out("(the log is empty)")
        return
    if args == ["follow"]:
        loop = asyncio.get_running_loop()

        def on_row(row, record):
            if not _shown(record):
                return
            rec = dict(record, row=row)
            loop.call_soon_threadsafe(lambda: ctx.out(*_lines(rec)))

        ctx.out(HEADER)
        log.subscribe(on_row)
        try:
            ctx.out("(following; Ctrl-C stops)")
            await ctx.wait_interrupt()
        finally:
            log.unsubscribe(on_row)
        ctx.out("^C")
        return
    if args == ["verify"]:
        if ctx.level < LEVEL_INSTALLER:
            raise CommandError("'log verify' needs the installer level")
        ok, checked, bad = log.verify()
        if ok:
            ctx.out(f"log intact: {checked} rows checked, hash chain unbroken")
        else:
            ctx.out(f"LOG ALTERED: the chain breaks at row {bad} ({checked} rows before it "
                    "are intact)")
        return
    raise UsageError()
