"""The facts of an inspection report, from the config, the event log and the delivery record:
device inventory, last test per zone, troubles by code, uplink availability, config history.
Pure: reads a ``SiteData``, returns plain values."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from .source import SiteData

DAY = 86400.0
TAMPER_CODES = {"137", "144", "383"}


@dataclass
class Device:
    driver: str
    name: str
    address: str
    detail: str
    points: list[str]
    secure: Optional[bool] = None   # OSDP readers: secure channel configured


def devices(cfg: dict) -> list[Device]:
    out = []
    drv = cfg.get("drivers", {})
    gpio = drv.get("gpio")
    if gpio:
        for i in gpio.get("input", []):
            out.append(Device("gpio", i["point"], f"GPIO{i['pin']}",
                              f"input, pull {i.get('pull', '')}", [i["point"]]))
        for o in gpio.get("output", []):
            out.append(Device("gpio", o["name"], f"GPIO{o['pin']}",
                              f"output ({o.get('kind', '')})", []))
    for bus in (drv.get("modbus") or {}).get("bus", []):
        where = (f"{bus['host']}:{bus['tcp_port']}" if bus.get("transport") == "tcp"
                 else f"{bus.get('port', '')} {bus.get('baudrate', '')}")
        for dev in bus.get("device", []):
            out.append(Device(f"modbus {bus.get('transport', '')}", dev["name"],
                              f"{bus['name']} #{dev['address']}",
                              f"profile {dev['profile']}, poll {dev.get('poll_ms', '')} ms, "
                              f"{where}", list(dev.get("points", {}).values())))
    for port in (drv.get("osdp") or {}).get("port", []):
        for r in port.get("reader", []):
            pts = [p for p in r.get("inputs", []) if p] + [
                r[k] for k in ("tamper_point", "power_point", "forced_point", "held_point")
                if r.get(k)]
            secure = bool(r.get("scbk")) and not r.get("insecure", False)
            out.append(Device("osdp", r["name"], f"{port['name']} #{r['address']}",
                              f"{port.get('device', '')} {port.get('baudrate', '')}", pts,
                              secure))
    return out


@dataclass
class ZoneTest:
    zone: str
    type: str
    area: str
    point: str
    driver: str
    t_last: Optional[float]
    how: str            # "walktest" or "drill" or ""

    def days(self, now: float) -> Optional[float]:
        return None if self.t_last is None else (now - self.t_last) / DAY


def zone_tests(data: SiteData) -> list[ZoneTest]:
    """Each zone's last test: a walk-test trip (607) or an alarm during a drill."""
    by_point = {}
    for d in devices(data.config):
        for p in d.points:
            by_point[p] = f"{d.driver} {d.name}"
    last: dict[str, tuple[float, str]] = {}
    for e in data.events:
        z = e.get("zone", "")
        if not z:
            continue
        how = ""
        if e.get("kind") == "walktest" or str(e.get("cid", ""))[1:] == "607":
            how = "walktest"
        elif e.get("kind") == "alarm" and e.get("drill"):
            how = "drill"
        if how:
            last[z] = (e["t"], how)
    out = []
    for z in data.config["zones"]:
        t, how = last.get(z["name"], (None, ""))
        out.append(ZoneTest(z["name"], z["type"], z["area"], z["point"],
                            by_point.get(z["point"], ""), t, how))
    return out


@dataclass
class TroubleLine:
    cid: str
    zone: str
    count: int
    t_last: float
    text: str


def troubles(data: SiteData, since: float) -> list[TroubleLine]:
    """Troubles, tamper and sabotage since ``since``, grouped by code and zone."""
    groups: dict[tuple, TroubleLine] = {}
    for e in data.events:
        if e["t"] < since:
            continue
        cid = str(e.get("cid", ""))
        kind = e.get("kind")
        if not (kind in ("trouble", "fallback") or (kind == "alarm" and cid[1:] in TAMPER_CODES)):
            continue
        key = (cid, e.get("zone", ""))
        g = groups.get(key)
        if g is None:
            groups[key] = TroubleLine(cid, e.get("zone", ""), 1, e["t"], e.get("text", ""))
        else:
            g.count += 1
            g.t_last, g.text = e["t"], e.get("text", "")
    return sorted(groups.values(), key=lambda g: (-g.count, g.cid))


@dataclass
class Uplink:
    known_s: float = 0.0
    up_s: float = 0.0
    outages: list[tuple] = field(default_factory=list)     # (t0, t1)
    unclean_restarts: int = 0
    days: list[tuple] = field(default_factory=list)        # (YYYY-MM-DD, % up or None)

    @property
    def share(self) -> Optional[float]:
        return None if self.known_s <= 0 else 100.0 * self.up_s / self.known_s

    @property
    def longest(self) -> Optional[tuple]:
        return max(self.outages, key=lambda o: o[1] - o[0]) if self.outages else None


def uplink(data: SiteData, since: float, until: float) -> Uplink:
    """Time up and down while the controller ran. A run that ended without a clean stop (a
    crash, a power cut) ends at its last sign of life (a minute at most before it died); the
    time the controller was not running is not counted."""
    alive = {round(st[0], 3): (st[3] if len(st) > 3 else None) for st in data.starts}
    spans: list[tuple] = []          # (t0, t1, up)
    u = Uplink()
    state, t_prev, last_t, run_alive = None, 0.0, 0.0, None
    for kind, t in data.uplink:
        if kind == "start":
            if state is not None:    # no clean stop: the previous run died after this
                u.unclean_restarts += 1
                spans.append((t_prev, max(last_t, run_alive or 0.0), state))
            # connecting: counted from the first up (or down, if the broker is not there)
            state, t_prev, run_alive = "starting", t, alive.get(round(t, 3))
        elif kind == "stop":
            if state is not None:
                spans.append((t_prev, t, state))
            state = None
        elif state is not None:
            spans.append((t_prev, t, state))
            state, t_prev = kind == "up", t
        last_t = t
    if state is not None:
        spans.append((t_prev, min(until, data.now), state))
    clipped = []
    for a, b, up in spans:
        if up == "starting":
            continue
        a, b = max(a, since), min(b, until)
        if b > a:
            clipped.append((a, b, up))
            u.known_s += b - a
            if up:
                u.up_s += b - a
    down_at, end = None, 0.0
    for a, b, up in clipped:
        if up:
            if down_at is not None:
                u.outages.append((down_at, a))
                down_at = None
        else:
            if down_at is None:
                down_at = a
            end = b
    if down_at is not None:
        u.outages.append((down_at, end))
    u.days = _per_day(clipped, since, until)
    return u


def _per_day(spans, since: float, until: float) -> list[tuple]:
    if not spans:
        return []
    first = datetime.fromtimestamp(max(since, spans[0][0])).astimezone().replace(
        hour=0, minute=0, second=0, microsecond=0)
    out = []
    day = first
    while day.timestamp() < until:
        d0, d1 = day.timestamp(), (day + timedelta(days=1)).timestamp()
        known = up = 0.0
        for a, b, st in spans:
            lo, hi = max(a, d0), min(b, d1)
            if hi > lo:
                known += hi - lo
                if st:
                    up += hi - lo
        out.append((day.strftime("%Y-%m-%d"), 100.0 * up / known if known > 0 else None))
        day += timedelta(days=1)
    return out[-92:]                  # the chart shows the last three months at most


def config_history(data: SiteData) -> list[tuple]:
    """(first seen, sha256, version) each time the config in use changed, from the starts."""
    out, prev = [], None
    for t, sha, version, *_ in data.starts:
        if sha and sha != prev:
            out.append((t, sha, version))
            prev = sha
    return out
