"""Decisions to events: the JSON the platform receives and the event log keeps.

The engine speaks monotonic nanoseconds; events carry UTC wall time with milliseconds.
``cid`` is the Contact ID qualifier digit followed by the 3-digit event code ("1120" = new
panic, "3131" = perimeter restore); "0000" for events that have no Contact ID code.

``text`` is in the site's language (``set_language``, from ``[site] language``); when that is
not English the English text is carried too, in ``text_en`` (see eventtext.py).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from .eventtext import localize

#: The site's language for event texts (``en`` or ``zh-CN``); the daemon sets it at start.
LANGUAGE = "en"

FIELDS = ("kind", "cid", "area", "zone", "incident", "verified", "silent", "drill", "user",
          "text")


def set_language(lang: str) -> None:
    """Event texts from now on in ``lang`` (the daemon calls this with ``[site] language``)."""
    global LANGUAGE
    LANGUAGE = lang


def wall_iso(t_mono_ns: int) -> str:
    """UTC ISO 8601 (ms) of a monotonic time stamp taken on this machine."""
    wall_ns = time.time_ns() - time.monotonic_ns() + t_mono_ns
    dt = datetime.fromtimestamp(wall_ns / 1e9, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cid_str(q: int, code: int) -> str:
    return f"{q % 10}{code % 1000:03d}" if code else "0000"


def from_decision(d) -> dict:
    """The event for one engine Decision (without id/seq: the outbox assigns them). Output
    orders also carry ``output``/``on`` and zone changes ``state``: the event log keeps them
    for reports (neither kind is sent to the platform)."""
    ev = {
        "ts": wall_iso(d.t_ns),
        "kind": d.kind,
        "cid": cid_str(d.q, d.cid),
        "area": d.area or "",
        "zone": d.zone or "",
        "incident": d.incident or 0,
        "verified": bool(d.verified),
        "silent": bool(d.silent),
        "drill": bool(d.drill),
        "user": d.user or "",
        "text": d.text or "",
    }
    if d.kind == "output":
        ev["output"], ev["on"] = d.output or "", bool(d.on)
    elif d.kind == "zone":
        ev["state"] = d.state or ""
    return localize(ev, LANGUAGE)


def make(kind: str, code: int, q: int, text: str, *, user: str = "", area: str = "",
         zone: str = "", t_ns: int | None = None) -> dict:
    """An event that does not come from the engine (wrong code, program mode, manual test,
    storage trouble)."""
    return localize({
        "ts": wall_iso(time.monotonic_ns() if t_ns is None else t_ns),
        "kind": kind, "cid": cid_str(q, code), "area": area, "zone": zone, "incident": 0,
        "verified": False, "silent": False, "drill": False, "user": user, "text": text,
    }, LANGUAGE)
