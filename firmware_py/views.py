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


def areas_view(snap: dict, hidden=frozenset()) -> dict:
    """``hidden``: incident numbers never shown (covert duress): they read as 0."""
    out = {}
    shown = {i["area"] for i in snap.get("incidents", []) if shown_on_site(i)}
    for name, a in snap["areas"].items():
        out[name] = {
            "state": a["state"], "open_alarm": name in shown,
            "incident": 0 if a["incident"] in hidden else a["incident"], "drill": a["drill"],
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


def zones_view(snap: dict, cfg: dict, activity: dict, hidden=frozenset()) -> list[dict]:
    """One dict per zone, in config order. A duress button shows at rest and an incident in
    ``hidden`` as 0: duress leaves no trace on the site's screens."""
    out = []
    zsnap = snap["zones"]
    for z in cfg["zones"]:
        s = zsnap.get(z["name"], {})
        act = activity.get(z["name"], {})
        if z["type"] == "duress":
            s, act = {}, {}
        last = act.get("last_change_ns", 0)
        out.append({
            "name": z["name"], "type": z["type"], "area": z["area"],
            "profile": z["profile"] or "", "point": z["point"],
            "state": s.get("state", "normal"), "bypassed": bool(s.get("bypassed")),
            "bypass_reason": s.get("bypassed") or "", "latched": bool(s.get("latched")),
            "trips": act.get("trips", 0),
            "last_change": events.wall_iso(last) if last else "",
            "trouble": _trouble(s),
            "incident": 0 if s.get("alarm_incident", 0) in hidden else s.get("alarm_incident", 0),
        })
    return out
