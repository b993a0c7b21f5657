"""Read-only views of the engine snapshot for the console and the retained `state` topic:
areas and zones with their live state, plus what the daemon itself tracks (last change,
trip counts since start)."""
from __future__ import annotations

from . import events


def shown_on_site(incident: dict) -> bool:
    """An open incident that may be shown on site (a panel, Home Assistant): every alarm but
    one made only of covert duress alarms (silent, and none of them an ordinary silent alarm:
    see the engine's Incident.has_silent)."""
    return not incident.get("silent", True) or bool(incident.get("has_silent"))


def areas_view(snap: dict) -> dict:
    out = {}
    shown = {i["area"] for i in snap.get("incidents", []) if shown_on_site(i)}
    for name, a in snap["areas"].items():
        out[name] = {
            "state": a["state"], "incident": a["incident"], "open_alarm": name in shown,
            "drill": a["drill"],
            "walktest": a["walktest"], "tripped": list(a.get("walktest_tripped", [])),
            "untripped": list(a.get("walktest_untripped", [])), "siren": a["siren"],
            "strobe": a["strobe"], "siren_by_fallback": a.get("siren_by_fallback", False),
            "armed_by": a.get("armed_by", ""),
        }
    return out


def _trouble(z: dict) -> str:
    if z.get("watch_trouble"):
        return "inactive"
    code = z.get("trouble_cid", 0)
    return {0: "", 147: "offline", 380: "fault"}.get(code, f"trouble {code}")


def zones_view(snap: dict, cfg: dict, activity: dict) -> list[dict]:
    """One dict per zone, in config order."""
    out = []
    zsnap = snap["zones"]
    for z in cfg["zones"]:
        s = zsnap.get(z["name"], {})
        act = activity.get(z["name"], {})
        last = act.get("last_change_ns", 0)
        out.append({
            "name": z["name"], "type": z["type"], "area": z["area"],
            "profile": z["profile"] or "", "point": z["point"],
            "state": s.get("state", "normal"), "bypassed": bool(s.get("bypassed")),
            "bypass_reason": s.get("bypassed") or "", "latched": bool(s.get("latched")),
            "trips": act.get("trips", 0),
            "last_change": events.wall_iso(last) if last else "",
            "trouble": _trouble(s), "incident": s.get("alarm_incident", 0),
        })
    return out
