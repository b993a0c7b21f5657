"""Device health in words, one line per field device, from the drivers' own status: online or
offline, since when, and the last error as the driver put it. Used by `status` (and the
`version`/`health` views); nothing here talks to hardware."""
from __future__ import annotations

import time
from typing import Optional


def ago(age_s: Optional[float]) -> str:
    """``125.0`` -> ``since 10:41:07 (2 min)``; empty when unknown."""
    if age_s is None:
        return ""
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() - float(age_s)))
    return f"since {stamp} ({span(age_s)})"


def span(s: float) -> str:
    s = int(s)
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{round(s / 60)} min"
    if s < 48 * 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} days"


def _modbus(d: dict) -> list[str]:
    out = []
    for bus in d.get("buses") or []:
        where = f"{bus.get('transport', '')} {bus.get('where', '')}".strip()
        if not bus.get("connected"):
            out.append(f"modbus bus {bus.get('name')} ({where}): NOT connected")
        for dev in bus.get("devices") or []:
            name = f"modbus {dev.get('name')} ({bus.get('name')}, address {dev.get('address')})"
            online = dev.get("online")
            if online is None:
                out.append(f"{name}: no answer yet")
                continue
            errors = sum(int(dev.get(k) or 0) for k in ("timeouts", "crc_errors", "exceptions",
                                                        "connection_errors"))
            polls = int(dev.get("polls") or 0)
            if online:
                line = f"{name}: online {ago(dev.get('since_age_s'))}".rstrip()
                if errors:
                    line += f", {errors} errors in {polls} polls"
            else:
                line = f"{name}: OFFLINE {ago(dev.get('since_age_s'))}".rstrip()
                if dev.get("last_error"):
                    line += f": {dev['last_error']}"
            out.append(line)
    return out


def _osdp(d: dict) -> list[str]:
    out = []
    for name, r in (d.get("readers") or {}).items():
        head = f"osdp reader {name} ({r.get('port', '')}, address {r.get('address', '')})"
        if r.get("online"):
            sc = "secure channel on" if r.get("secure_channel") else \
                f"secure channel OFF ({r.get('mode', '')} mode)"
            line = f"{head}: online {ago(r.get('since_age_s'))}".rstrip() + f", {sc}"
            if r.get("tamper"):
                line += ", TAMPER"
        else:
            line = f"{head}: OFFLINE {ago(r.get('since_age_s'))}".rstrip()
            n = (r.get("counts") or {}).get("went_offline", 0)
            if n:
                line += f", offline {n} time(s) since start"
        out.append(line)
    for port, p in (d.get("ports") or {}).items():
        ser = p.get("serial") or {}
        if ser.get("open") is False:
            out.append(f"osdp port {port}: NOT open")
    if not out:
        out.append("osdp: running, no readers" if d.get("running") else "osdp: NOT running")
    return out


def _gpio(d: dict) -> list[str]:
    state = "running" if d.get("started", True) else "NOT started"
    return [f"gpio ({d.get('factory', '?')} pins): {state}, {len(d.get('inputs') or [])} "
            f"inputs, {len(d.get('outputs') or [])} outputs"]


def device_lines(drivers: dict) -> list[str]:
    """One line per device (or per driver when it has no devices)."""
    out = []
    for kind, d in (drivers or {}).items():
        if not isinstance(d, dict):
            continue
        if d.get("error"):
            out.append(f"{kind}: status unavailable: {d['error']}")
        elif kind == "modbus":
            out += _modbus(d)
        elif kind == "osdp":
            out += _osdp(d)
        elif kind == "gpio":
            out += _gpio(d)
        else:
            out.append(f"{kind}: {'running' if d.get('started', True) else 'NOT started'}")
    return out
