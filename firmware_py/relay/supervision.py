"""Uplink supervision: is the platform reachable? Pure logic, the relay feeds it times.

The uplink is *down* when the broker has not been heard from for ``heartbeat_s`` while we were
waiting for it: not connected at all, or a message (event, probe) outstanding without its PUBACK.
A healthy idle link is probed: when nothing is outstanding and the broker has been silent for
``heartbeat_s / 2``, the relay publishes a QoS 1 heartbeat whose PUBACK is contact. So a silent
link loss (Wi-Fi gone, no TCP reset) is found within ``heartbeat_s`` of the last contact, and a
drop shorter than about ``heartbeat_s / 2`` is never reported.

The uplink is *up* once connected and the backlog is flowing (the first PUBACK after a connect
that had events pending, or at once if nothing was pending).
"""
from __future__ import annotations

from typing import Optional


class UplinkSupervisor:
    def __init__(self, heartbeat_s: float, now: float):
        self.heartbeat_s = float(heartbeat_s)
        self.last_contact = now
        self.connected = False
        self.flowing = False
        self.up: Optional[bool] = None   # None until first decided

    def contact(self, now: float) -> None:
        self.last_contact = now

    def on_connect(self, now: float, backlog: bool) -> None:
        self.connected = True
        self.flowing = not backlog
        self.last_contact = now

    def on_flowing(self, now: float) -> None:
        self.flowing = True
        self.last_contact = now

    def on_disconnect(self, now: float) -> None:
        # last_contact stays: the silence is measured from the last thing the broker said.
        self.connected = False
        self.flowing = False

    def silent_s(self, now: float) -> float:
        return now - self.last_contact

    def probe_due(self, now: float, outstanding: bool) -> bool:
        return (self.connected and not outstanding
                and now - self.last_contact >= self.heartbeat_s / 2)

    def evaluate(self, now: float, outstanding: bool) -> Optional[bool]:
        """The new up/down state if it changed, else None."""
        silent = now - self.last_contact >= self.heartbeat_s
        if silent and (not self.connected or outstanding):
            want = False
        elif self.connected and self.flowing:
            want = True
        else:
            return None
        if want != self.up:
            self.up = want
            return want
        return None

    def tick_s(self) -> float:
        """How often the relay should call evaluate/probe_due."""
        return min(2.0, max(0.05, self.heartbeat_s / 5))
