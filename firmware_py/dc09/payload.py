"""What an event says to the ARC: its class (for routing) and its DC-09 payload.

ADM-CID data is ``Qeee aa zzz`` (qualifier 1 new / 3 restore, Contact ID event code, area
number, zone or user number). Events without a Contact ID code, and every event when the
format is SIA-DCS, are sent as ``Nri<area>/<SIA code><zone>``. Area, zone and user numbers are
positions in the config (first ``[areas]`` table = 1, first ``[[zones]]`` = 1, first
``[[users]]`` = 1): the ARC's zone list is the order of the config.
"""
from __future__ import annotations

from typing import Optional

#: event classes an installer routes ([dc09] classes)
CLASSES = ("alarm", "restore", "tamper", "trouble", "openclose", "bypass", "test", "access",
           "system")
ALARM_KINDS = frozenset({"alarm", "verified", "fallback"})
TAMPER_CODES = frozenset({137, 144, 145, 383})
_KIND_CLASS = {"restore": "restore", "trouble": "trouble", "trouble_restore": "trouble",
               "area": "openclose", "reset": "openclose", "silence": "openclose",
               "bypass": "bypass", "test": "test", "walktest": "test", "drill": "test",
               "access": "access"}

#: Contact ID code -> SIA-DCS codes (new, restore), for the codes guardroom sends
SIA_OF_CID = {
    100: ("MA", "MH"), 110: ("FA", "FH"), 120: ("PA", "PH"), 121: ("HA", "HH"),
    122: ("HA", "HH"), 123: ("PA", "PH"), 129: ("PA", "PH"), 130: ("BA", "BH"),
    131: ("BA", "BH"), 132: ("BA", "BH"), 134: ("BA", "BH"), 137: ("TA", "TR"),
    139: ("BV", "BH"), 144: ("TA", "TR"), 145: ("TA", "TR"), 147: ("BS", "BR"),
    150: ("UA", "UH"), 300: ("YX", "YZ"), 301: ("AT", "AR"), 302: ("YT", "YR"),
    321: ("YA", "YH"), 350: ("YC", "YK"), 354: ("YC", "YK"), 374: ("EA", "BH"),
    380: ("UT", "UJ"), 383: ("TA", "TR"), 401: ("OP", "CL"), 406: ("OC", "OC"),
    441: ("CG", "CG"), 459: ("CR", "CR"), 461: ("JA", "JA"), 570: ("BB", "BU"),
    601: ("RX", "RX"), 602: ("RP", "RP"), 607: ("TS", "TE"), 627: ("LB", "LB"),
    628: ("LX", "LX"),
}
#: events without a Contact ID code that still have a SIA code
SIA_OF_KIND = {"drill": ("TS", "TE"), "system": ("RR", "RR")}


def event_class(ev: dict) -> str:
    kind = ev.get("kind", "")
    if kind in ALARM_KINDS:
        return "alarm"
    code = _code(ev)
    if code in TAMPER_CODES:
        return "tamper"
    return _KIND_CLASS.get(kind, "system")


def _code(ev: dict) -> int:
    cid = str(ev.get("cid") or "0000")
    try:
        return int(cid[1:4])
    except ValueError:
        return 0


def _qual(ev: dict) -> int:
    cid = str(ev.get("cid") or "1")
    return 3 if cid[:1] == "3" else 1


class Numbering:
    """Area, zone and user numbers from the config (1-based positions; 0 = none)."""

    def __init__(self, config: dict):
        self.areas = {n: i + 1 for i, n in enumerate(config.get("areas", {}))}
        self.zones = {z["name"]: i + 1 for i, z in enumerate(config.get("zones", []))}
        self.users = {u["name"]: i + 1 for i, u in enumerate(config.get("users", []))}

    def area(self, name: str) -> int:
        return self.areas.get(name or "", 0) % 100

    def zone_or_user(self, ev: dict) -> int:
        if ev.get("path_no"):                   # a path trouble: 1 = platform, 2 = ARC
            return int(ev["path_no"]) % 1000
        if ev.get("zone"):
            return self.zones.get(ev["zone"], 0) % 1000
        user = str(ev.get("user") or "")
        name = user.split(":", 1)[1] if ":" in user else user
        return self.users.get(name, 0) % 1000

    def table(self) -> list[tuple[str, int, str]]:
        """(kind, number, name) rows for the ARC operator."""
        return ([("area", n, a) for a, n in self.areas.items()]
                + [("zone", n, z) for z, n in self.zones.items()]
                + [("user", n, u) for u, n in self.users.items()])


def encode(ev: dict, numbering: Numbering, fmt: str = "adm-cid",
           sia_codes: Optional[dict] = None) -> Optional[dict]:
    """``{"id": "ADM-CID"|"SIA-DCS", "data": ..., "alt": {...} or None}`` for an event, or
    None when it has no code the ARC would understand. ``alt`` is the other format, tried
    when the receiver answers DUH."""
    code, q = _code(ev), _qual(ev)
    area, zone = numbering.area(ev.get("area", "")), numbering.zone_or_user(ev)
    cid = {"id": "ADM-CID", "data": f"{q}{code:03d} {area:02d} {zone:03d}"} if code else None
    key = f"{q}{code:03d}" if code else ""
    sia = (sia_codes or {}).get(key) if key else None
    pair = SIA_OF_CID.get(code) if code else SIA_OF_KIND.get(ev.get("kind", ""))
    if sia is None and pair:
        sia = pair[1] if q == 3 else pair[0]
    dcs = {"id": "SIA-DCS", "data": f"Nri{area}/{sia}{zone:03d}"} if sia else None
    first, second = (cid, dcs) if fmt == "adm-cid" else (dcs, cid)
    first, second = (first or second), (second if first else None)
    if first is None:
        return None
    return {**first, "alt": second}
