"""The event log: the last N events with filters (zone, area, kind, dates), a live follow, the
hash-chain check, and exports (CSV/JSONL) over the console or to the storage folder."""
from __future__ import annotations

import asyncio
import io
import os
import re
from typing import Optional

from ..i18n import N_
from .commands import LEVEL_INSTALLER, LEVEL_USER, CommandError, UsageError, command
from .render import wrap
from .util import short_time

def header(t) -> str:
    """The column line of the listing (its words through the translator ``t``)."""
    from .cols import ljust

    row, stamp, event = t("ROW"), t("TIME (UTC)"), t("EVENT")
    return f"{ljust(row, 7)} {ljust(stamp, 15)} {'CID':<5} {event}"
DURESS_CODE = "121"


def _shown(r: dict, hidden=frozenset()) -> bool:
    """Duress events never appear on the site's own screens: the person who used the duress
    code may be watched. Neither do the rows of a duress incident (its acknowledgement):
    ``hidden`` is the host's ``covert_incidents``. They reach the platform, and
    `guardroom log` shows them."""
    return not str(r.get("cid", "")).endswith(DURESS_CODE) and \
        not (r.get("incident") and r.get("incident") in hidden)


def _lines(r: dict, lang: str = "en") -> list[str]:
    """One event: row, time, Contact ID, then area/zone and text, wrapped under itself. The
    text as the log keeps it; in Chinese built from the event's fields when the log keeps
    the English (an English site's log shown in a ``lang zh`` session)."""
    cid = str(r.get("cid", ""))
    cid = "" if cid in ("0000", "0") else cid
    where = "/".join(str(r[k]) for k in ("area", "zone") if r.get(k))
    body = str(r.get("text", ""))
    if lang != "en" and body.isascii():
        from ..eventtext import render

        body = render(r, lang) if r.get("kind") else body
    text = (f"{where}: " if where else "") + body
    if r.get("user"):
        text += f" [{r['user']}]"
    head = f"{str(r.get('row', '')):<7} {short_time(r.get('ts', '')):<15} {cid:<5} "
    chunks = wrap(text, 79 - len(head)) or [""]
    return [head + chunks[0]] + [" " * len(head) + c for c in chunks[1:]]


SCAN_ROWS = 20_000       # how far back filters search (the newest rows)
_DATE = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d)?)?$")
FILTER_WORDS = ("zone", "area", "kind", "since", "until")


def parse_filters(words: list[str]) -> tuple[dict, list[str]]:
    """``zone Z area A kind K since D until D`` (any order) -> (filters, the other words)."""
    filters, rest = {}, []
    i = 0
    while i < len(words):
        w = words[i].lower()
        if w in FILTER_WORDS:
            if i + 1 >= len(words):
                raise UsageError("'{word}' needs a value", word=w)
            value = words[i + 1]
            if w in ("since", "until"):
                if not _DATE.match(value):
                    raise UsageError("'{word}' takes a UTC date YYYY-MM-DD or "
                                     "YYYY-MM-DDTHH:MM, not {value!r}", word=w, value=value)
                value = value.replace(" ", "T")
            filters[w] = value
            i += 2
        else:
            rest.append(words[i])
            i += 1
    return filters, rest


def matches(r: dict, f: dict) -> bool:
    if "zone" in f and str(r.get("zone", "")).lower() != f["zone"].lower():
        return False
    if "area" in f and str(r.get("area", "")).lower() != f["area"].lower():
        return False
    if "kind" in f and str(r.get("kind", "")).lower() != f["kind"].lower():
        return False
    ts = str(r.get("ts", ""))
    if "since" in f and ts[:len(f["since"])] < f["since"]:
        return False
    if "until" in f and ts[:len(f["until"])] > f["until"]:
        return False
    return True


async def _rows(ctx, filters: dict, n: Optional[int]) -> list[dict]:
    """Matching rows, oldest first: the last ``n`` (all when None) within the search window."""
    log = ctx.host.eventlog
    loop = asyncio.get_running_loop()
    if not filters and n is not None:
        rows = await loop.run_in_executor(None, log.tail, n)
    else:
        rows = await loop.run_in_executor(None, log.tail, SCAN_ROWS)
        rows = [r for r in rows if matches(r, filters)]
    hidden = getattr(ctx.host, "covert_incidents", frozenset())
    rows = [r for r in rows if _shown(r, hidden)]
    return rows[-n:] if n is not None else rows


def _describe(filters: dict, t=lambda m: m) -> str:
    return ", ".join(f"{k} {v}" for k, v in filters.items()) or t("no filter")


def export_name(storage_dir: str, name: str) -> str:
    """Where ``log export FMT NAME`` writes: ``<storage>/exports/NAME`` (a plain file name)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", name) or ".." in name:
        raise CommandError("the export file is a plain name (letters, digits, _ - .), e.g. "
                           "events-2026-11.csv; it is written in the storage folder's exports/")
    d = os.path.join(storage_dir, "exports")
    os.makedirs(d, mode=0o750, exist_ok=True)
    return os.path.join(d, name)


def _write_export(fh, rows: list[dict], fmt: str) -> None:
    import csv
    import json

    from ..eventlog import CSV_COLUMNS

    if fmt == "jsonl":
        for r in rows:
            rec = {k: v for k, v in r.items() if k != "row"}
            fh.write(json.dumps({"row": r.get("row"), "record": rec}, sort_keys=True) + "\n")
    else:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CSV_COLUMNS[:-1])
        for r in rows:
            w.writerow([r.get(c, "") for c in CSV_COLUMNS[:-1]])


async def _export(ctx, words: list[str]) -> None:
    if ctx.level < LEVEL_INSTALLER:
        raise CommandError("'log export' needs the installer level")
    filters, rest = parse_filters(words)
    if not rest or rest[0].lower() not in ("jsonl", "csv") or len(rest) > 2:
        raise UsageError("log export jsonl|csv [FILE] [zone Z] [area A] [kind K] [since D] "
                         "[until D]")
    fmt = rest[0].lower()
    loop = asyncio.get_running_loop()
    if len(rest) == 2:
        path = export_name(ctx.host.config["storage"]["dir"], rest[1])
        if not filters:
            # everything, with the hash chain: the file verifies on its own
            def write_all():
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    return ctx.host.eventlog.export(fh, fmt=fmt)
            n = await loop.run_in_executor(None, write_all)
        else:
            rows = await _rows(ctx, filters, None)

            def write_some():
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    _write_export(fh, rows, fmt)
                return len(rows)
            n = await loop.run_in_executor(None, write_some)
        ctx.out(ctx._("exported {n} event(s) ({filters}) to exports/{name} in the storage "
                      "folder ({dir})", n=n, filters=_describe(filters, ctx._), name=rest[1],
                      dir=os.path.dirname(path)))
        ctx.console.report("command", 0, 1, f"event log exported to {path} "
                           f"({_describe(filters)})", user=ctx.user)
        return
    rows = await _rows(ctx, filters, None)
    buf = io.StringIO()
    _write_export(buf, rows, fmt)
    ctx.live()                                # a capture: never paged
    ctx.out(ctx._("----- BEGIN {fmt} EXPORT ({n} events, {filters}) -----", fmt=fmt.upper(),
                  n=len(rows), filters=_describe(filters, ctx._)))
    for line in buf.getvalue().splitlines():
        ctx.console.write(line + "\n")       # raw: a long line must not be wrapped
    ctx.out(ctx._("----- END {fmt} EXPORT -----", fmt=fmt.upper()))


@command("log", LEVEL_USER,
         "log [N] [zone Z] [area A] [kind K] [since D] [until D] | log follow | log verify "
         "| log export jsonl|csv [FILE] [filters]",
         "the event log: last N events (20), filtered, live, checked, exported",
         N_("""
'log' shows the last 20 events (or N, up to 1000), oldest first: row, time (UTC), Contact ID
qualifier+code, area, zone, text and who caused it. Filters narrow it: 'zone beam_north',
'area building', 'kind alarm' (alarm, restore, trouble, area, bypass, walktest, access...),
'since 2026-11-27' and 'until 2026-11-28T06:00' (UTC dates, as the log shows them); filters
search the newest 20000 events. 'log follow' shows new events as they are written, until
Ctrl-C. 'log verify' (installer) walks the log's hash chain and says whether any row was
altered or removed. 'log export csv' or 'log export jsonl' (installer) prints the events
(with the same filters) between BEGIN/END lines for your terminal's capture; with a FILE name
it writes the file in the controller's storage folder (exports/FILE), and without filters the
JSONL file carries the hash chain so it verifies on its own.
"""))
async def log_(ctx, args):
    log = ctx.host.eventlog
    if args and args[0].lower() == "export":
        await _export(ctx, args[1:])
        return
    if not args or args[0].isdigit() or args[0].lower() in FILTER_WORDS:
        filters, rest = parse_filters(args)
        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            raise UsageError()
        n = int(rest[0]) if rest else 20
        if not 1 <= n <= 1000:
            raise UsageError("N is 1 to 1000")
        rows = await _rows(ctx, filters, n)
        if filters:
            ctx.out(ctx._("({filters}; the last {n} match(es) of the newest {scan} events)",
                          filters=_describe(filters, ctx._), n=len(rows), scan=SCAN_ROWS))
        ctx.out(header(ctx._))
        for r in rows:
            ctx.out(*_lines(r, ctx.console.lang))
        if not rows:
            ctx.out(ctx._("(no event matches)") if filters else ctx._("(the log is empty)"))
        return
    if args == ["follow"]:
        loop = asyncio.get_running_loop()

        def on_row(row, record):
            if not _shown(record, getattr(ctx.host, "covert_incidents", frozenset())):
                return
            rec = dict(record, row=row)
            loop.call_soon_threadsafe(lambda: ctx.out(*_lines(rec, ctx.console.lang)))

        ctx.out(header(ctx._))
        log.subscribe(on_row)
        try:
            ctx.out(ctx._("(following; Ctrl-C stops)"))
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
            ctx.out(ctx._("log intact: {n} rows checked, hash chain unbroken", n=checked))
        else:
            ctx.out(ctx._("LOG ALTERED: the chain breaks at row {row} ({n} rows before it are "
                          "intact)", row=bad, n=checked))
        return
    raise UsageError()
