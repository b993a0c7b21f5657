"""What a walk test covers and where it stands, read from the engine: one definition of the
scope for the console's count, its report and the platform's end-of-test event.

The engine publishes the scope in its snapshot: per area ``areas[A]["walktest_scope"]`` (the
zones a walk test covers, those it started with while one runs), or ``snapshot["walktest"]
["scope"]``. An engine that does not yet do so still lists, per area in walk test, the zones
tripped and those not tripped: their union is the same scope its end-of-test report uses.
"""
from __future__ import annotations

import time
from typing import Optional


def running_areas(host) -> list[str]:
    """The areas in walk test right now, as the engine says."""
    return [a for a, st in host.status().get("areas", {}).items() if st.get("walktest")]


def _snapshot(host) -> dict:
    try:
        return host.snapshot() or {}
    except Exception:  # noqa: BLE001 - a host without a snapshot: the area view decides
        return {}


def scope(host, areas: list[str]) -> list[str]:
    """The zones a walk test of ``areas`` covers, in config order."""
    zones = host.zones()
    snap = _snapshot(host)
    names: Optional[set] = None
    top = snap.get("walktest")
    if isinstance(top, dict) and isinstance(top.get("scope"), list):
        names = set(map(str, top["scope"]))
    else:
        snap_areas = snap.get("areas") or {}
        lists = [snap_areas.get(a, {}).get("walktest_scope") for a in areas]
        per_area = [snap_areas.get(a, {}).get("walktest") for a in areas]
        if lists and all(isinstance(x, list) for x in lists):
            names = set()
            for x in lists:
                names.update(map(str, x))
        elif any(isinstance(w, dict) and isinstance(w.get("scope"), list) for w in per_area):
            names = set()
            for w in per_area:
                if isinstance(w, dict):
                    names.update(map(str, w.get("scope") or []))
    if names is None:
        view = host.status().get("areas", {})
        names = set()
        for a in areas:
            st = view.get(a, {})
            names.update(map(str, st.get("tripped") or []))
            names.update(map(str, st.get("untripped") or []))
        if not names:           # not running (yet): every zone of the areas but technical
            names = {z["name"] for z in zones if z.get("area") in areas
                     and z.get("type") != "technical"}
    return [z["name"] for z in zones if z["name"] in names and z.get("area") in areas]


class WalkTest:
    """The console's record of one walk test: areas, scope, trips seen and when."""

    def __init__(self, host, areas: list[str]):
        self.areas = list(areas)
        self.info = {z["name"]: z for z in host.zones()}
        self.zones = scope(host, self.areas)
        self.tripped: dict[str, float] = {}
        self.started = time.time()
        self.ended = ""              # why it ended ("" while running)

    def trip(self, zone: str) -> bool:
        """Record a trip; True when it is the zone's first in this test (in scope)."""
        if zone not in self.zones or zone in self.tripped:
            return False
        self.tripped[zone] = time.time()
        return True

    def sync(self, host) -> list[str]:
        """Take the trips the engine knows; returns the new ones."""
        new = []
        for a, st in host.status().get("areas", {}).items():
            if a in self.areas and st.get("walktest"):
                for z in st.get("tripped") or []:
                    if self.trip(str(z)):
                        new.append(str(z))
        return new

    @property
    def count(self) -> str:
        return f"{len([z for z in self.zones if z in self.tripped])}/{len(self.zones)} tested"

    def untested(self) -> list[str]:
        return [z for z in self.zones if z not in self.tripped]
