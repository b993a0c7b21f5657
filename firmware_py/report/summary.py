"""A report in a few numbers (JSON): what the platform gets back from a `report` command and
what `guardroom report ... --json` prints."""
from __future__ import annotations

from .drills import Drill
from .source import SiteData


def _iso(t):
    from datetime import datetime, timezone

    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def drill_summary(drills: list[Drill]) -> dict:
    return {"report": "drill", "drills": [{
        "area": d.area, "start": _iso(d.t_start), "end": _iso(d.t_stop),
        "duration_s": None if d.duration_s is None else round(d.duration_s, 3),
        "started_by": d.started_by, "alarms": [{
            "zone": r.zone, "incident": r.incident, "cid": r.cid, "seq": r.seq,
            "to_alarm_ms": r.ms("alarm"), "to_delivered_ms": r.ms("delivered"),
            "to_ack_ms": r.ms("ack"), "to_reset_ms": r.ms("reset"), "ack_by": r.ack_by}
            for r in d.responses],
        "panic_exercised": d.panic_exercised, "panic_not_exercised": d.panic_not_exercised,
        "troubles": len(d.troubles), "uplink_outages": len(d.outages)} for d in drills]}


def inspection_summary(data: SiteData, zone_tests, untested: list[str], uplink, drills) -> dict:
    return {"report": "inspection", "zones": len(zone_tests), "untested": untested,
            "drills_12m": len(drills), "log_ok": data.chain.ok, "log_rows": data.chain.checked,
            "log_head": data.chain.head, "config_sha256": data.config_sha256,
            "uplink_share_pct": None if uplink.share is None else round(uplink.share, 3),
            "uplink_outages": len(uplink.outages),
            "longest_outage_s": None if uplink.longest is None
            else round(uplink.longest[1] - uplink.longest[0], 3)}
