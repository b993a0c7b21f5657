"""What a report reads, opened read-only: the validated config, every event-log row with the
chain check, and the delivery record (PUBACK and ack times, uplink changes, starts)."""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from ..deliveries import FILE_NAME as DELIVERIES_FILE, config_sha256, event_key
from ..errors import GuardroomError
from ..eventlog import GENESIS, chain_hash


def epoch(ts: str) -> float:
    """Seconds since the epoch of an event's ISO time stamp ('...Z')."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def parse_date(text: str, end: bool = False) -> float:
    """--since/--until: a date (YYYY-MM-DD, local time; --until includes that day) or an ISO
    time. Raises ValueError with a readable message."""
    try:
        if len(text) == 10:
            d = datetime.strptime(text, "%Y-%m-%d").astimezone()
            return d.timestamp() + (86400 if end else 0)
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if d.tzinfo is None:
            d = d.astimezone()
        return d.timestamp()
    except ValueError:
        raise ValueError(f"not a date: {text!r} (YYYY-MM-DD or an ISO time)") from None


@dataclass
class Chain:
    ok: bool
    checked: int
    first_bad: Optional[int]
    head: str
    anchor_row: int


@dataclass
class SiteData:
    config: dict
    config_path: str
    config_sha256: str
    events: list[dict]                     # every row, oldest first; "row" and "t" added
    chain: Chain
    sent: dict[str, list[tuple]] = field(default_factory=dict)  # key -> [(seq, t, puback)]
    by_seq: dict[int, tuple] = field(default_factory=dict)       # seq -> (t, puback)
    acks: list[tuple] = field(default_factory=list)             # (incident, user, t)
    uplink: list[tuple] = field(default_factory=list)           # (state, t)
    starts: list[tuple] = field(default_factory=list)    # (t, sha256, version, alive)
    now: float = 0.0

    def delivery_of(self, ev: dict) -> Optional[tuple]:
        """(seq, queued t, PUBACK t or None) of a logged event, or None if never sent."""
        if "seq" in ev and ev["seq"] in self.by_seq:
            t, pb = self.by_seq[ev["seq"]]
            return ev["seq"], t, pb
        cands = self.sent.get(ev.get("_key", ""))
        if not cands:
            return None
        return min(cands, key=lambda c: abs(c[1] - ev["t"]))


def _ro(path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)


def load(config_path: str, now: Optional[float] = None) -> SiteData:
    """Everything a report needs. Raises GuardroomError when there is no event log."""
    from .. import config as config_mod

    cfg = config_mod.load(config_path)
    storage = cfg["storage"]["dir"]
    path = os.path.join(storage, "events.sqlite")
    if not os.path.exists(path):
        raise GuardroomError(f"no event log at {path}")
    events, chain = _read_log(path)
    data = SiteData(cfg, os.path.abspath(config_path), config_sha256(config_path), events,
                    chain, now=now if now is not None else datetime.now(timezone.utc).timestamp())
    dpath = os.path.join(storage, DELIVERIES_FILE)
    if os.path.exists(dpath):
        _read_deliveries(dpath, data)
    return data


def _read_log(path: str) -> tuple[list[dict], Chain]:
    try:
        db = _ro(path)
        try:
            a = db.execute("SELECT row, hash FROM anchor WHERE id=1").fetchone()
            rows = db.execute("SELECT row, body, hash FROM log ORDER BY row").fetchall()
        finally:
            db.close()
    except sqlite3.Error as e:
        raise GuardroomError(f"event log {path}: {e}") from None
    anchor_row, prev = (a[0], a[1]) if a else (0, GENESIS)
    ok, checked, bad = True, 0, None
    events = []
    for row, body, h in rows:
        if ok:
            if chain_hash(prev, body) != h:
                ok, bad = False, row
            else:
                checked += 1
            prev = h
        try:
            rec = json.loads(body)
        except ValueError:
            continue
        rec["_key"] = event_key(rec)
        rec["row"] = row
        try:
            rec["t"] = epoch(str(rec.get("ts", "")))
        except ValueError:
            continue
        events.append(rec)
    head = rows[-1][2] if rows else (a[1] if a else GENESIS)
    return events, Chain(ok, checked, bad, head, anchor_row)


def _read_deliveries(path: str, data: SiteData) -> None:
    try:
        db = _ro(path)
        try:
            for seq, key, t, pb in db.execute("SELECT seq, key, t, puback FROM sent"):
                data.sent.setdefault(key, []).append((seq, t, pb))
                data.by_seq[seq] = (t, pb)
            data.acks = [tuple(r) for r in db.execute(
                "SELECT incident, user, t FROM acks ORDER BY id")]
            data.uplink = [tuple(r) for r in db.execute(
                "SELECT state, t FROM uplink ORDER BY id")]
            cols = [r[1] for r in db.execute("PRAGMA table_info(starts)")]
            alive = "alive" if "alive" in cols else "NULL"
            data.starts = [tuple(r) for r in db.execute(
                f"SELECT t, config_sha256, version, {alive} FROM starts ORDER BY id")]
        finally:
            db.close()
    except sqlite3.Error:
        pass  # an unreadable record leaves the delivery figures blank, the report still says so
