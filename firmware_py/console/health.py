"""Device health in words, one line per field device, from the drivers' own status: online or
offline, since when, and the last error as the driver put it. Used by `status` (and the
`version`/`health` views); nothing here talks to hardware."""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..i18n import translator

EN = translator("en")


def ago(age_s: Optional[float], t: Callable[..., str] = EN) -> str:
    """``125.0`` -> ``since 10:41:07 (2 min)``; empty when unknown."""
    if age_s is None:
        return ""
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() - float(age_s)))
    return t("since {stamp} ({span})", stamp=stamp, span=span(age_s, t))


def span(s: float, t: Callable[..., str] = EN) -> str:
    s = int(s)
    if s < 90:
        return t("{n} s", n=s)
    if s < 90 * 60:
        return t("{n} min", n=round(s / 60))
    if s < 48 * 3600:
        return t("{h} h {m} min", h=s // 3600, m=f"{s % 3600 // 60:02d}")
    return t("{n} days", n=s // 86400)


def _modbus(d: dict, t) -> list[str]:
    out = []
    for bus in d.get("buses") or []:
        where = f"{bus.get('transport', '')} {bus.get('where', '')}".strip()
        if not bus.get("connected"):
            out.append(t("modbus bus {bus} ({where}): NOT connected", bus=bus.get("name"),
                         where=where))
        for dev in bus.get("devices") or []:
            name = t("modbus {dev} ({bus}, address {address})", dev=dev.get("name"),
                     bus=bus.get("name"), address=dev.get("address"))
            online = dev.get("online")
            if online is None:
                out.append(t("{name}: no answer yet", name=name))
                continue
            errors = sum(int(dev.get(k) or 0) for k in ("timeouts", "crc_errors", "exceptions",
                                                        "connection_errors"))
            polls = int(dev.get("polls") or 0)
            if online:
                line = t("{name}: online {since}", name=name,
                         since=ago(dev.get("since_age_s"), t)).rstrip()
                if errors:
                    line += t(", {errors} errors in {polls} polls", errors=errors, polls=polls)
            else:
                line = t("{name}: OFFLINE {since}", name=name,
                         since=ago(dev.get("since_age_s"), t)).rstrip()
                if dev.get("last_error"):
                    line += f": {dev['last_error']}"
            out.append(line)
    return out


def _osdp(d: dict, t) -> list[str]:
    out = []
    for name, r in (d.get("readers") or {}).items():
        head = t("osdp reader {name} ({port}, address {address})", name=name,
                 port=r.get("port", ""), address=r.get("address", ""))
        if r.get("online"):
            sc = t("secure channel on") if r.get("secure_channel") else \
                t("secure channel OFF ({mode} mode)", mode=r.get("mode", ""))
            line = t("{head}: online {since}", head=head,
                     since=ago(r.get("since_age_s"), t)).rstrip() + t(", {sc}", sc=sc)
            if r.get("tamper"):
                line += t(", TAMPER")
        else:
            line = t("{head}: OFFLINE {since}", head=head,
                     since=ago(r.get("since_age_s"), t)).rstrip()
            n = (r.get("counts") or {}).get("went_offline", 0)
            if n:
                line += t(", offline {n} time(s) since start", n=n)
        out.append(line)
    for port, p in (d.get("ports") or {}).items():
        ser = p.get("serial") or {}
        if ser.get("open") is False:
            out.append(t("osdp port {port}: NOT open", port=port))
    if not out:
        out.append(t("osdp: running, no readers") if d.get("running")
                   else t("osdp: NOT running"))
    return out


def _gpio(d: dict, t) -> list[str]:
    state = t("running") if d.get("started", True) else t("NOT started")
    return [t("gpio ({factory} pins): {state}, {inputs} inputs, {outputs} outputs",
              factory=d.get("factory", "?"), state=state, inputs=len(d.get("inputs") or []),
              outputs=len(d.get("outputs") or []))]


def device_lines(drivers: dict, t: Callable[..., str] = EN) -> list[str]:
    """One line per device (or per driver when it has no devices), through translator ``t``."""
    out = []
    for kind, d in (drivers or {}).items():
        if not isinstance(d, dict):
            continue
        if d.get("error"):
            out.append(t("{kind}: status unavailable: {error}", kind=kind, error=d["error"]))
        elif kind == "modbus":
            out += _modbus(d, t)
        elif kind == "osdp":
            out += _osdp(d, t)
        elif kind == "gpio":
            out += _gpio(d, t)
        else:
            out.append(f"{kind}: " + (t("running") if d.get("started", True)
                                      else t("NOT started")))
    return out
