"""Drills found in the event log: each drill_start .. drill_stop of an area, what happened in it
(button pressed, alarm decided, delivered to the platform, acknowledged, siren on/off, reset),
the response figures per alarm, the panic buttons and areas exercised or not, and the trouble
seen meanwhile. Pure: it reads a ``SiteData`` and returns plain objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .source import SiteData

PANIC_TYPES = ("panic", "duress")
TROUBLE_KINDS = ("trouble", "fallback")
TROUBLE_CODES = {"137", "144", "147", "350", "354", "380", "383", "300", "301", "302", "321"}


@dataclass
class Response:
    """One alarm of a drill and how fast everything after it happened (epoch seconds)."""
    zone: str
    zone_type: str
    area: str
    incident: int
    cid: str
    silent: bool
    t_stimulus: float
    t_alarm: float
    seq: Optional[int] = None
    t_delivered: Optional[float] = None     # broker PUBACK
    t_ack: Optional[float] = None           # the platform's ack arrived
    ack_by: str = ""
    t_siren_on: Optional[float] = None
    t_siren_off: Optional[float] = None
    t_reset: Optional[float] = None
    reset_by: str = ""

    def ms(self, what: str) -> Optional[float]:
        """stimulus -> ``alarm|delivered|ack|reset`` in milliseconds (None if it never
        happened)."""
        t = getattr(self, f"t_{what}")
        return None if t is None else round((t - self.t_stimulus) * 1000.0, 1)


@dataclass
class Step:
    t: float
    lane: str          # drill, zone, alarm, platform, ack, siren, reset, trouble
    what: str          # a string-table key
    detail: str = ""


@dataclass
class Drill:
    area: str
    t_start: Optional[float]
    t_stop: Optional[float]
    started_by: str = ""
    stopped_by: str = ""
    steps: list[Step] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    panic_exercised: list[str] = field(default_factory=list)
    panic_not_exercised: list[str] = field(default_factory=list)
    zones_exercised: list[str] = field(default_factory=list)
    troubles: list[dict] = field(default_factory=list)
    outages: list[tuple] = field(default_factory=list)     # (t0, t1) uplink down in the drill

    @property
    def duration_s(self) -> Optional[float]:
        if self.t_start is None or self.t_stop is None:
            return None
        return self.t_stop - self.t_start


def _is_start(ev: dict, open_now: bool) -> bool:
    text = str(ev.get("text", "")).lower()
    if "started" in text or "开始" in text:
        return True
    if "ended" in text or "结束" in text:
        return False
    return not open_now        # the engine refuses a second start: starts and stops alternate


def find_drills(data: SiteData, since: Optional[float] = None,
                until: Optional[float] = None) -> list[Drill]:
    """Every drill that overlaps [since, until), oldest first."""
    open_: dict[str, Drill] = {}
    done: list[Drill] = []
    for ev in data.events:
        if ev.get("kind") != "drill":
            continue
        area = ev.get("area", "")
        if _is_start(ev, area in open_):
            if area in open_:          # a start with no stop seen (log cut): close it there
                done.append(open_.pop(area))
            open_[area] = Drill(area, ev["t"], None, started_by=ev.get("user", ""))
        else:
            d = open_.pop(area, None) or Drill(area, None, None)
            d.t_stop, d.stopped_by = ev["t"], ev.get("user", "")
            done.append(d)
    done.extend(open_.values())
    done.sort(key=lambda d: d.t_start if d.t_start is not None else (d.t_stop or 0))
    out = []
    for d in done:
        t0 = d.t_start if d.t_start is not None else float("-inf")
        t1 = d.t_stop if d.t_stop is not None else float("inf")
        if since is not None and t1 < since:
            continue
        if until is not None and t0 >= until:
            continue
        _fill(d, data)
        out.append(d)
    return out


def _fill(d: Drill, data: SiteData) -> None:
    cfg = data.config
    ztype = {z["name"]: z["type"] for z in cfg["zones"]}
    sirens = {s for a in cfg["areas"].values() for s in a.get("sirens", [])}
    t0 = d.t_start if d.t_start is not None else float("-inf")
    t1 = d.t_stop if d.t_stop is not None else data.now
    inside = [e for e in data.events if t0 <= e["t"] <= t1]
    mine = [e for e in inside if e.get("area") == d.area]
    if d.t_start is not None:
        d.steps.append(Step(d.t_start, "drill", "step_drill_start", d.started_by))
    last_active: dict[str, float] = {}
    by_inc: dict[int, list[Response]] = {}
    exercised: list[str] = []
    for e in inside:
        kind, zone = e.get("kind"), e.get("zone", "")
        if kind == "zone" and _zone_went_active(e):
            last_active[zone] = e["t"]
            if e.get("area") == d.area or ztype.get(zone) in PANIC_TYPES:
                d.steps.append(Step(e["t"], "zone", "step_pressed", zone))
                if zone not in exercised:
                    exercised.append(zone)
        elif kind == "alarm" and (e.get("area") == d.area or e.get("drill")):
            r = Response(zone, ztype.get(zone, ""), e.get("area", ""), int(e.get("incident") or 0),
                         str(e.get("cid", "")), bool(e.get("silent")),
                         last_active.get(zone, e["t"]), e["t"])
            dl = data.delivery_of(e)
            if dl is not None:
                r.seq, r.t_delivered = dl[0], dl[2]
            d.responses.append(r)
            by_inc.setdefault(r.incident, []).append(r)
            d.steps.append(Step(e["t"], "alarm", "step_alarm", f"{zone} ({e.get('cid', '')})"))
            if r.t_delivered is not None:
                d.steps.append(Step(r.t_delivered, "platform", "step_delivered",
                                    f"#{r.seq}"))
            if zone and zone not in exercised:
                exercised.append(zone)
        elif kind == "ack":
            for r in by_inc.get(int(e.get("incident") or 0), []):
                if r.t_ack is None:
                    r.t_ack = _ack_arrival(data, r, e)
                    r.ack_by = _who(e.get("user", ""))
            if by_inc.get(int(e.get("incident") or 0)):
                d.steps.append(Step(_ack_arrival(data, by_inc[int(e["incident"])][0], e),
                                    "ack", "step_ack", _who(e.get("user", ""))))
        elif kind == "output" and _output_name(e) in sirens and e.get("area") == d.area:
            on = _output_on(e)
            for r in by_inc.get(int(e.get("incident") or 0), []) or \
                    [r for r in d.responses if r.area == d.area]:
                if on and r.t_siren_on is None:
                    r.t_siren_on = e["t"]
                elif not on and r.t_siren_on is not None and r.t_siren_off is None:
                    r.t_siren_off = e["t"]
            d.steps.append(Step(e["t"], "siren", "step_siren_on" if on else "step_siren_off",
                                _output_name(e)))
        elif kind == "reset":
            rs = by_inc.get(int(e.get("incident") or 0), [])
            for r in rs:
                if r.t_reset is None:
                    r.t_reset, r.reset_by = e["t"], e.get("user", "")
            if rs or e.get("area") == d.area:
                d.steps.append(Step(e["t"], "reset", "step_reset", e.get("user", "")))
        if _is_trouble(e):
            d.troubles.append(e)
            d.steps.append(Step(e["t"], "trouble", "step_trouble", e.get("text", "")))
    if d.t_stop is not None:
        d.steps.append(Step(d.t_stop, "drill", "step_drill_stop", d.stopped_by))
    d.steps.sort(key=lambda s: s.t)
    panic = [z["name"] for z in cfg["zones"] if z["type"] in PANIC_TYPES]
    d.zones_exercised = exercised
    d.panic_exercised = [z for z in panic if z in exercised]
    d.panic_not_exercised = [z for z in panic if z not in exercised]
    d.outages = [(max(a, t0), min(b, t1)) for a, b in uplink_outages(data)
                 if b > t0 and a < t1]
    del mine


def _zone_went_active(e: dict) -> bool:
    st = e.get("state")
    if st:
        return st in ("active", "tamper", "fault")
    return str(e.get("text", "")).rstrip().endswith("-> active")


def _output_name(e: dict) -> str:
    if e.get("output"):
        return e["output"]
    text = str(e.get("text", ""))          # logs written before outputs carried their name
    return text.split("'")[1] if text.count("'") >= 2 else ""


def _output_on(e: dict) -> bool:
    if "on" in e:
        return bool(e["on"])
    return str(e.get("text", "")).rstrip().endswith(" on")


def _who(user: str) -> str:
    return user.split(":", 1)[1] if user.startswith("platform:") else user


def _ack_arrival(data: SiteData, r: Response, ev: dict) -> float:
    """The ack's arrival from the delivery record (first for the incident after the alarm),
    else the time the engine took it (the ack event)."""
    for inc, _user, t in data.acks:
        if inc == r.incident and r.t_alarm - 1.0 <= t <= ev["t"] + 1.0:
            return t
    return ev["t"]


def _is_trouble(e: dict) -> bool:
    kind = e.get("kind")
    cid = str(e.get("cid", ""))
    if kind in TROUBLE_KINDS:
        return True
    return kind in ("alarm", "trouble") and cid[1:] in TROUBLE_CODES and cid[:1] == "1"


def uplink_outages(data: SiteData) -> list[tuple]:
    """(t_down, t_up) of every uplink outage in the record; a stop or a restart ends what is
    known (the controller was not running); an outage still open ends now."""
    out = []
    down_at = None
    for state, t in data.uplink:
        if state == "down":
            if down_at is None:
                down_at = t
        elif state in ("up", "stop", "start"):
            if down_at is not None:
                out.append((down_at, t))
                down_at = None
    if down_at is not None:
        out.append((down_at, data.now))
    return out
