"""The daemon's side of the second path (a mixin of ``Daemon``): start and stop the DC-09 path,
offer it every reported event, and join the two paths' states.

- The engine's ``uplink`` is "any path up": a silent alarm falls back to the local siren when
  no path can deliver, not when MQTT alone is down.
- With ``receipt_acks``, the ARC's ACK of an alarm acknowledges its incident (the alarm reached
  a manned receiving centre), which cancels the pending fallback like a platform ack.
- The DC-09 path going down or coming back is a trouble on MQTT (CID 350, new / restore); an
  event the ARC refused (DUH) is a CID 354 trouble. The MQTT path going down or coming back is
  told to the ARC (CID 350, zone 1) when ``report_platform_path`` is on.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Optional

from .. import events
from .payload import ALARM_KINDS, Numbering

log = logging.getLogger("guardroom.daemon")

PATH_NO_PLATFORM, PATH_NO_ARC = 1, 2


class Dc09Host:
    dc09 = None

    async def _dc09_start(self) -> None:
        cfg = self.config.get("dc09")
        if not cfg:
            return
        from ..outbox import Outbox
        from .path import Dc09Path

        storage = self.config["storage"]
        kw = {}
        if "outbox_reserve_kib" in storage:          # the same disk limits as the MQTT outbox
            kw = {"reserve_bytes": storage["outbox_reserve_kib"] * 1024,
                  "max_bytes": storage["outbox_max_mib"] * 1024 * 1024}
        box = Outbox(os.path.join(storage["dir"], cfg["outbox"]), fsync_ms=storage["fsync_ms"],
                     controller=f"{self.controller}-arc", **kw)
        box.on_trouble = self._on_storage_trouble
        if hasattr(self, "_on_storage_restore"):
            box.on_recover = self._on_storage_restore
        self.dc09_outbox = box
        self.dc09 = Dc09Path(cfg, box, numbering=Numbering(self.config),
                             on_state=self._dc09_on_state, on_delivered=self._dc09_on_delivered,
                             on_refused=self._dc09_on_refused)
        await self.dc09.start()
        log.info("dc09: second path to %s, %d event(s) waiting",
                 ", ".join(f"{r['name']} {r['host']}:{r['port']}/{r['protocol']}"
                           for r in cfg["receivers"]), box.depth())

    async def _dc09_stop(self) -> None:
        if self.dc09 is not None:
            try:
                await self.dc09.stop()
            finally:
                self.dc09_outbox.close()

    def _dc09_offer(self, ev: dict) -> None:
        if self.dc09 is None:
            return
        try:
            self.dc09.offer(ev)
        except Exception as e:  # noqa: BLE001 - the MQTT path must not suffer
            log.error("dc09 refused event: %s", e)

    def dc09_status(self) -> Optional[dict]:
        return self.dc09.status() if self.dc09 is not None else None

    def dc09_brief(self) -> dict:
        """The ARC path on the retained state topic."""
        st = self.dc09.status()
        return {k: st[k] for k in ("up", "receiver", "outbox_depth", "last_ack")}

    # ------------------------------------------------------------------ the two paths
    def _path_uplink(self, name: str, up: bool) -> None:
        """One path's state changed: feed the engine "any path up"; tell the ARC about the
        platform path."""
        ups = self.__dict__.setdefault("_path_ups", {})
        was = ups.get(name)
        ups[name] = bool(up)
        anyup = any(ups.values())
        if self.__dict__.get("_uplink_fed") is not anyup:
            self._uplink_fed = anyup
            self._apply(self.engine.uplink(time.monotonic_ns(), anyup))
        if name == "mqtt" and self.dc09 is not None and was is not bool(up) \
                and self.config["dc09"]["report_platform_path"] and (was is not None or not up):
            ev = events.make("trouble", 350, 3 if up else 1,
                             f"Platform path (MQTT) {'restored' if up else 'down'}",
                             user="system")
            ev["path_no"] = PATH_NO_PLATFORM
            self.dc09.enqueue(ev)

    def _dc09_on_state(self, up: bool, why: str) -> None:
        told = self.__dict__.setdefault("_dc09_down_told", [False])
        self._path_uplink("dc09", up)
        if not up:
            told[0] = True
            self._report_event(events.make("trouble", 350, 1, f"ARC path (DC-09) down: {why}",
                                           user="system"))
        elif told[0]:
            told[0] = False
            self._report_event(events.make("trouble", 350, 3, f"ARC path (DC-09) restored: "
                                           f"{why}", user="system"))
        self._schedule_state_publish()

    def _dc09_on_delivered(self, ev: dict, receiver: str, ms: float) -> None:
        incident = int(ev.get("incident") or 0)
        if (incident and ev.get("kind") in ALARM_KINDS
                and self.config["dc09"]["receipt_acks"]):
            done = self.__dict__.setdefault("_arc_acked", set())
            if incident not in done:
                done.add(incident)
                self._apply(self.engine.ack(time.monotonic_ns(), incident,
                                            user=f"arc:{receiver}"))

    def _dc09_on_refused(self, ev: dict, why: str) -> None:
        self._report_event(events.make("trouble", 354, 1, f"ARC refused event "
                                       f"{ev.get('ref') or ev.get('seq')}: {why}",
                                       user="system"))
