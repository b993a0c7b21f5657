"""The daemon: one asyncio loop owns the engine and wires drivers -> engine -> outputs, the
event log, the MQTT relay and the console.

Samples arrive from driver threads through a SampleBuffer that wakes the loop only when it was
empty; the loop drains it into one ``feed_many`` call. Timers run from the engine's
``next_deadline()``: the loop sleeps until then or until woken, with no polling tick.
Decisions go to outputs (one ordered queue per driver), the hash-chained event log, the relay
(reportable ones) and console subscribers; the engine snapshot is persisted after changes so a
reboot during an alarm remembers it.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from typing import Callable, Optional

from . import __version__, events, systemd
from .assembly import build_drivers
from .authstore import AuthStore
from .codes import CodeBook, Lockout
from .deadline import DeadlineTimer
from .config import check_site, site_for_engine
from .dc09.hookup import Dc09Host
from .errors import GuardroomError, StorageError
from .lagprobe import LagProbe
from .outputs import OutputOwner
from .outbox import essential as outbox_essential
from .statefile import StateFile

log = logging.getLogger("guardroom.daemon")

DURESS_CID = 121
GC_FREEZE_AFTER_S = 2.0  # after start-up: gc.freeze() what it made (see _gc_freeze)
FEED_SLICE = 64         # samples fed to the engine at a time (their decisions stored at once)
TURN_BUDGET_S = 0.02    # a burst is fed slice after slice for this long, then the loop yields
PROBE_FROM = 64         # a drain of this many samples or more starts the loop-lag probe
APPLY_SLICE = 1000      # decisions stored and logged per transaction
STATE_REFRESH_S = 60.0
STATE_COALESCE_S = 0.2   # retained `state` after a change: at most this late (coalesced)
STATE_URGENT_S = 0.002   # ... after an alarm/area decision: once the event is on its way
STATE_URGENT_GAP_S = 0.05  # ... but not more often than this (a storm of alarms)

#: decisions whose retained state (Home Assistant's panel and sensors) goes out at once
URGENT_STATE_KINDS = frozenset({"alarm", "verified", "area", "reset"})
ACK_REFUSAL_REPORT_S = 60.0

#: decisions whose state must be on disk before the platform hears of them
CRITICAL_KINDS = frozenset({"alarm", "verified", "area", "bypass", "reset", "ack", "fallback",
                            "silence", "drill", "walktest"})

#: engine commands the platform may send on `cmd` (and the console through host.command)
PLATFORM_COMMANDS = {"arm_away", "arm_stay", "disarm", "bypass", "unbypass", "reset", "silence",
                     "drill_start", "drill_stop", "siren_test"}


class Daemon(Dc09Host):
    """The controller process. ``await start()``, then ``await wait_stopped()``; ``stop()``
    from a signal or the console. Also the host object the console talks to."""

    def __init__(self, config: dict, config_path: Optional[str] = None):
        self.config = config
        events.set_language(config["site"].get("language", "en"))
        self.config_path = config_path
        self.site = config["site"]["name"]
        self.controller = config["site"]["controller"]
        self.codes = CodeBook(config["users"])
        self.authstore = None    # counters of command/ack senders, lockouts (start())
        self.lockout = Lockout(**config["lockout"])  # keypads at the readers share one lockout
        self._ack_refusals: dict[str, list] = {}     # reason -> [last report mono, untold]
        self.covert_incidents: set[int] = set()     # duress incidents: never shown on site
        self._covert_call = False                    # applying a duress command's decisions
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.engine = None
        self.relay = None
        self.outbox = None
        self.eventlog = None
        self.deliveries = None
        self.console = None
        self.drivers: dict = {}
        self.outputs_map: dict[str, tuple] = {}  # output name -> (driver, kind)
        self.output_owner: Optional[OutputOwner] = None   # wanted/told state of outputs
        self.zone_activity: dict[str, dict] = {}  # zone -> last_change_ns, trips (since start)
        self._tasks: list[asyncio.Task] = []
        self._subscribers: list[Callable[[dict], None]] = []
        self._wake: Optional[asyncio.Event] = None
        self._timer = None           # DeadlineTimer of the engine loop (_run)
        self._stopped: Optional[asyncio.Event] = None
        self._stopping = False
        self._in_pump = False
        self._feed_rest = None       # (buffer, offset): a burst not all fed yet (fed in turns)
        self._lag: Optional[LagProbe] = None   # how late timers run while a burst is worked
        self._state_handle = None
        self._state_dirty = False
        self._state_sync = None      # the state fsync running in a worker thread
        self._state_sync_again = False
        self._publish_handle = None
        self._state_published_at = -1e9   # loop time of the last state publish
        self._restart_requested = ""
        self._gc_handle = None       # the gc.freeze() after start-up, pending
        self._gc_frozen = False
        self.started_ns = 0
        self.ready_ns = 0
        self.counters = {"samples": 0, "decisions": 0, "events": 0, "wakeups": 0,
                         "output_errors": 0}

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        from guardroom.core import BUILD, Engine
        from guardroom.drivers.base import SampleBuffer

        from .eventlog import EventLog
        from .outbox import Outbox
        from .relay import Relay

        self.started_ns = time.monotonic_ns()
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._lag = LagProbe(self.loop, self._busy, self._burst_done)
        self.engine_build = BUILD
        storage = self.config["storage"]
        try:
            os.makedirs(storage["dir"], mode=0o700, exist_ok=True)
            _private(storage["dir"])
            self.authstore = AuthStore(os.path.join(storage["dir"], "auth.json"))
        except OSError as e:
            raise StorageError(f"storage.dir {storage['dir']!r}: {e.strerror or e}") from None
        self.lockout = Lockout(**self.config["lockout"], store=self.authstore, key="keypad")
        self.covert_incidents = set((self.authstore.get("covert") or {}).get("incidents", []))

        # Drivers first (no hardware is opened before start()): they declare points/outputs.
        self.sink = SampleBuffer(wake=self._wake_threadsafe)
        asm = build_drivers(self.config, self.sink)
        self.drivers, self.points, self.outputs_map = asm.drivers, asm.points, asm.outputs
        self.output_owner = OutputOwner(self.outputs_map, self.drivers,
                                        on_change=self._schedule_state_publish,
                                        on_error=self._output_failed)
        check_site(self.config, self.points, asm.output_kinds(), asm.readers)
        self.engine = Engine(site_for_engine(self.config, self.points, asm.output_kinds()))
        self.statefile = StateFile(os.path.join(storage["dir"], "state"))
        restored = self.statefile.load()
        if restored is not None:
            try:
                for d in self.engine.restore(restored["engine"], time.monotonic_ns()) or []:
                    self._apply_one(d, log_it=False)
                log.info("state restored from %s (saved %s)", self.statefile.path,
                         restored.get("saved_at", "?"))
            except Exception as e:  # a stale or foreign state file must not stop the alarm
                log.error("state file ignored: %s", e)

        self.eventlog = EventLog(os.path.join(storage["dir"], "events.sqlite"),
                                 keep=storage["log_keep"])
        self.eventlog.on_trouble = self._on_storage_trouble      # the file vanished
        self.eventlog.on_recover = self._on_storage_restore
        self.outbox = Outbox(os.path.join(storage["dir"], "outbox.sqlite"),
                             fsync_ms=storage["fsync_ms"], controller=self.controller,
                             reserve_bytes=storage["outbox_reserve_kib"] * 1024,
                             max_bytes=storage["outbox_max_mib"] * 1024 * 1024)
        _private(storage["dir"])     # the files just created (under the caller's umask)
        self.outbox.on_trouble = self._on_storage_trouble
        self.outbox.on_recover = self._on_storage_restore
        self.outbox.on_event = self._log_event
        self.relay = Relay(self.config["mqtt"], self.controller, self.site, self.outbox,
                           self.loop, on_ack=self._on_ack, on_cmd=self._on_cmd,
                           on_uplink=self._on_uplink, check_code=self.codes.check,
                           store=self.authstore, on_ack_refused=self._on_ack_refused)
        self._open_delivery_record(storage)
        if hasattr(self.relay, "set_discovery"):
            self.relay.set_discovery(self.engine_area_names(),
                                     [{"name": z["name"], "type": z["type"], "area": z["area"]}
                                      for z in self.config["zones"]])
        await self.relay.start()
        await self._dc09_start()
        for kind, drv in self.drivers.items():
            await drv.start()
        # Only now can outputs be written: the restored orders (recorded above) go out here.
        self.output_owner.start()
        if self.config.get("console"):
            from .console import Console

            self.console = Console(self, self.config["console"])
            await self.console.start()
        self._tasks.append(asyncio.create_task(self._run(), name="engine-loop"))
        self._tasks.append(asyncio.create_task(self._refresh_state(STATE_REFRESH_S),
                                               name="state-refresh"))
        wd = systemd.watchdog_interval_s()
        if wd:
            self._tasks.append(asyncio.create_task(self._watchdog(wd), name="watchdog"))
        self._report_event(events.make("system", 0, 1, f"guardroom {__version__} started "
                                       f"(engine {BUILD})", user="system"))
        self._schedule_state_publish()
        self.ready_ns = time.monotonic_ns()
        self._gc_handle = self.loop.call_later(GC_FREEZE_AFTER_S, self._gc_freeze)
        systemd.notify("READY=1\nSTATUS=running")
        log.info("ready: site=%s controller=%s engine=%s zones=%d points=%d in %.0f ms",
                 self.site, self.controller, BUILD, len(self.config["zones"]), len(self.points),
                 (self.ready_ns - self.started_ns) / 1e6)

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        systemd.notify("STOPPING=1")
        if self._gc_handle is not None:
            self._gc_handle.cancel()
            self._gc_handle = None
        if self._gc_frozen:
            self._gc_frozen = False
            gc.unfreeze()
        log.info("stopping")
        if self._wake:
            self._wake.set()
        if self.console:
            await _quietly(self.console.stop())
        for drv in self.drivers.values():
            await _quietly(drv.stop())
        if self.output_owner is not None:
            await _quietly(self.output_owner.stop())
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._lag is not None:
            self._lag.cancel()
        if self.engine is not None:
            self._save_state_now()
            self.statefile.close()
        if self.relay:
            await _quietly(self.relay.stop())
        await _quietly(self._dc09_stop())
        if self.deliveries is not None:
            self.deliveries.stopped()
        for closable in (self.outbox, self.eventlog, self.deliveries):
            if closable is not None and hasattr(closable, "close"):
                try:
                    closable.close()
                except Exception as e:  # noqa: BLE001
                    log.error("close failed: %s", e)
        self._stopped.set()

    def _gc_freeze(self) -> None:
        """What start-up made (modules, config, engine, drivers, paho) lives as long as the
        process: move it out of the collector's sight (``gc.freeze``), so the occasional full
        collection walks only what came after (milliseconds less each time). Cycles that are
        already garbage are collected first; ``stop()`` unfreezes (a test process runs many
        daemons)."""
        self._gc_handle = None
        gc.collect()
        gc.freeze()
        self._gc_frozen = True

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def request_restart(self, reason: str) -> None:
        """Stop cleanly; ``run()`` then re-executes the process (config changes apply)."""
        log.warning("restart requested: %s", reason)
        self._restart_requested = reason or "requested"
        self.loop.create_task(self.stop())

    # ------------------------------------------------------------------ the loop
    def _wake_threadsafe(self) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop closed during shutdown
                pass

    async def _run(self) -> None:
        engine = self.engine
        # the engine's next deadline to the sub-millisecond (timerfd; see deadline.py),
        # not epoll's whole milliseconds: a debounce ends on time
        timer = self._timer = DeadlineTimer(self.loop, self._wake)
        try:
            while not self._stopping:
                if not self.sink.waiting():
                    # (put() wakes only an empty buffer: samples that came while a burst was
                    # fed slice by slice were put after that wake-up was used; never sleep on
                    # them)
                    await timer.wait(engine.next_deadline())
                self._wake.clear()
                self.counters["wakeups"] += 1
                cpu = time.thread_time()
                try:
                    self._pump()
                except Exception:  # never let one bad batch kill the alarm loop
                    log.exception("engine loop error")
                if self._lag.running:
                    self._lag.turn(time.thread_time() - cpu)
                if self._feed_rest:
                    # A burst is being worked through in slices: let PUBACKs, commands and
                    # output writes run between two slices, then carry on.
                    self._wake.set()
                    await asyncio.sleep(0)
        finally:
            timer.close()

    def _pump(self) -> None:
        # No garbage collection while samples become sent events: a collection due meanwhile
        # runs once the turn is over (it is bounded by TURN_BUDGET_S), not in an alarm's path.
        gc_on = gc.isenabled()
        if gc_on:
            gc.disable()
        self._in_pump = True
        try:
            self._pump_once()
        finally:
            self._in_pump = False
            if gc_on:
                gc.enable()

    def _pump_once(self) -> None:
        """Feed what the drivers put, in order. A burst is fed FEED_SLICE samples at a time
        (each slice's decisions stored, logged and sent) for at most TURN_BUDGET_S per loop
        turn; the rest waits for the next turn so PUBACKs, commands and timers run between
        (the loop never stalls for long, whatever the burst's size)."""
        rest = self._feed_rest
        if rest is None:
            buf, i = self.sink.drain(), 0
            if buf:
                self.counters["samples"] += len(buf) // 3
                if len(buf) >= 3 * PROBE_FROM:
                    self._lag.kick()       # a burst: watch the loop's lag until it is done
        else:
            buf, i = rest
        self._feed_rest = None
        n = len(buf)
        if n:
            until = time.monotonic() + TURN_BUDGET_S
            while i < n:
                j = min(n, i + 3 * FEED_SLICE)
                self._apply(self.engine.feed_many(buf if (i, j) == (0, n) else buf[i:j],
                                                  time.monotonic_ns()))
                i = j
                if i < n and time.monotonic() >= until:
                    self._feed_rest = (buf, i)     # in order: older samples first
                    break
        for ev in self.sink.drain_events():
            self._on_driver_event(ev)
        if self._feed_rest is None:            # no older sample still waiting: time moves
            self._apply(self.engine.advance(time.monotonic_ns()))

    def _busy(self) -> bool:
        return self._feed_rest is not None or self.sink.waiting()

    def _burst_done(self, lag_ms: float, turn_ms: float, busy_s: float) -> None:
        self.counters["loop_lag_max_ms"] = round(self._lag.max_ms, 1)
        self.counters["loop_turn_max_ms"] = round(self._lag.turn_max_ms, 1)
        log.info("burst worked through in %.2f s; timers ran at most %.1f ms late; longest "
                 "engine turn %.1f ms of CPU", busy_s, lag_ms, turn_ms)

    async def _refresh_state(self, period: float) -> None:
        """Re-publish the retained state now and then: device counters change without any
        decision (CRC errors on a line) and the platform should see them."""
        while True:
            await asyncio.sleep(period)
            self._schedule_state_publish()
            if self.deliveries is not None:
                self.deliveries.alive()   # after a crash, reports know when this run ended

    async def _watchdog(self, period: float) -> None:
        while True:
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(period)

    # ------------------------------------------------------------------ decisions
    def _apply(self, decisions) -> None:
        """Fan decisions out: decided -> stored -> sent -> logged. The reportable events of the
        batch go to the durable outbox first, in one transaction (seq assigned); then the
        outputs are ordered (siren) and the engine state that explains them is written, so a
        restart never knows less than the platform was told; then paho gets the events (written
        to the socket in the call, relay/link.py); only then come the second path (DC-09), the
        delivery record, the event log rows (with their seq) and the console's subscribers. A
        SIGKILL at any instant therefore never leaves a logged event that will not be
        delivered (the outbox has it before the log does: issue 9's rule).

        What is done before paho gets the event, in order: the outbox's SQLite COMMIT (WAL,
        into the page cache; its fsync thread syncs the WAL within ``fsync_ms``, woken once
        the event is sent), the state's ``pwrite`` into a slot file (page cache). Both survive
        a killed process; neither waits for the disk. Nothing on that stretch wakes another
        thread (which would take the GIL from it at its next system call): the outbox's fsync
        thread, the state's fsync (a worker thread), the event log's committer and the
        delivery record's writer are all woken after the send. A power cut before the state's
        fsync leaves the previous state file whole (see statefile.py)."""
        decisions = decisions if isinstance(decisions, list) else list(decisions)
        after: list = []            # per slice: (stored events, log rows, subscriber dicts)
        box = self.outbox
        saved = urgent = False
        try:
            with box.quiet() if box is not None else contextlib.nullcontext():
                # (the outbox's fsync thread is woken when the block ends)
                critical, urgent = self._apply_slices(decisions, after)
                saved = critical and self._save_state_fast()
                self._send()
        finally:
            for stored, logs, fan in after:      # even if something above failed
                self._stored_after(stored)
                self._log_events([x if type(x) is dict else events.from_decision(x)
                                  for x in logs])
                self._fan_out(fan)
        if saved:
            self._sync_state_later()     # fsync in a worker, once paho has the events
        if urgent:
            self._publish_state_soon()
        if not self._in_pump and self._wake is not None:
            # An engine call from outside the loop's pump (a command, an ack, the uplink) may
            # have started a timer earlier than the one the loop sleeps for: wake it to look.
            self._wake.set()

    def _apply_slices(self, decisions: list, after: list) -> tuple[bool, bool]:
        """``_apply`` up to the send: outbox, outputs, the rest collected into ``after``.
        Returns (a critical decision: save the state first, an urgent one: publish it)."""
        critical = urgent = False
        for i in range(0, len(decisions), APPLY_SLICE):
            # (the events of decisions only logged, zone changes and output orders, are made
            # after the send)
            batch = [(d, events.from_decision(d) if d.report else None)
                     for d in decisions[i:i + APPLY_SLICE]]
            stored = self._store([ev for d, ev in batch if d.report])
            logs: list = []
            fan: list = []
            after.append((stored, logs, fan))
            for d, ev in batch:
                self._apply_one(d, ev=ev, logs=logs, fan=fan)
                if d.kind in CRITICAL_KINDS:
                    critical = True
                    if d.kind in URGENT_STATE_KINDS:
                        urgent = True
        return critical, urgent

    def _apply_one(self, d, log_it: bool = True, ev: Optional[dict] = None,
                   logs: Optional[list] = None, fan: Optional[list] = None):
        """Outputs, log, subscribers for one decision (its event already stored in the outbox
        by ``_apply`` when reportable); returns its event if reportable. With ``logs`` and
        ``fan`` the log row and the subscribers' dict are collected there (``_apply`` writes
        them once the events are sent) instead of done now; ``logs`` then gets the decision
        itself when no event is given (made into one after the send)."""
        self.counters["decisions"] += 1
        self._track_covert(d)
        if d.kind == "zone":
            act = self.zone_activity.setdefault(d.zone, {"trips": 0, "last_change_ns": 0})
            act["last_change_ns"] = d.t_ns
            if d.state == "active":
                act["trips"] += 1
        elif d.kind == "output":
            self._order_output(d.output, bool(d.on))
        elif d.kind == "area":
            self._show_area_on_readers(d.area, d.state)
        if log_it:
            if logs is not None:
                logs.append(ev if ev is not None else d)   # logged with the rest of the batch
            else:
                self._log_event(ev if ev is not None else events.from_decision(d))
        if self._subscribers and not self._is_covert(d):  # duress never shows on site
            if fan is not None:
                fan.append(d.as_dict())
            else:
                self._fan_out([d.as_dict()])
        if d.kind != "zone" or d.state in ("offline", "tamper", "fault"):
            self._mark_state_dirty()
        else:
            self._schedule_state_publish()
        return ev if (log_it and d.report) else None

    def _fan_out(self, dicts: list) -> None:
        """Decisions to the console's subscribers (monitor, walk test)."""
        for dd in dicts:
            for cb in list(self._subscribers):
                try:
                    cb(dd)
                except Exception:  # noqa: BLE001 - a console view must not break the loop
                    log.exception("subscriber failed")

    def _store(self, evs: list) -> list:
        """Reportable events into the outbox, one transaction; seq and id are added to each
        dict in place (the event log then records them). Returns those that got a seq: give
        them to ``_stored_after`` once they are sent."""
        if not evs:
            return []
        self.counters["events"] += len(evs)
        try:
            stored = self.relay.store_events(evs)
        except Exception as e:  # noqa: BLE001 - the outbox never raises on storage trouble
            log.error("relay refused events: %s", e)
            stored = []
        for ev, st in zip(evs, stored):
            ev["seq"], ev["id"] = st["seq"], st["id"]
        return evs

    def _stored_after(self, evs: list) -> None:
        """The delivery record and the second path, once the first has the events."""
        for ev in evs:
            if "seq" in ev:
                self._note_sent(ev)
        for ev in evs:
            self._dc09_offer(ev)   # the second path gets it whatever became of the first

    # ------------------------------------------------------------------ covert duress
    def _track_covert(self, d) -> None:
        """Remember duress incidents (persisted): their number, acks and the rest never show
        on site. A real alarm joining the incident makes it visible (the site sees that)."""
        inc = getattr(d, "incident", 0) or 0
        if not inc or d.kind not in ("alarm", "verified"):
            return
        if d.cid == DURESS_CID or self._covert_call:
            if inc not in self.covert_incidents:
                self.covert_incidents.add(inc)
                self._save_covert()
        elif inc in self.covert_incidents:
            self.covert_incidents.discard(inc)
            self._save_covert()

    def _save_covert(self) -> None:
        if self.authstore is not None:
            self.authstore.put("covert", {"incidents": sorted(self.covert_incidents)[-256:]})

    def _is_covert(self, d) -> bool:
        return (self._covert_call or d.cid == DURESS_CID
                or (getattr(d, "incident", 0) or 0) in self.covert_incidents)

    def duress(self, user: str, areas=(), area: str = "") -> None:
        """A duress code was used (keypad, console, platform or Home Assistant command): a
        silent duress alarm (121) to the platform, nothing on site. The area: the one given
        (a reader's), else the user's first area, else the first area of the site, so a user
        without areas on a multi-area site still raises it."""
        area = area or (areas[0] if areas else "") or next(iter(self.config["areas"]), "")
        self._covert_call = True
        try:
            self._apply(self.engine.command(time.monotonic_ns(), "duress", area=area,
                                            user=user))
        finally:
            self._covert_call = False

    def _log_event(self, ev: dict) -> None:
        self._log_events([ev])

    def _log_events(self, evs: list) -> None:
        """Into the event log, one lock and one commit wake-up for the whole batch."""
        if getattr(self.outbox, "tight", False):
            # Disk full: the space the outbox freed is for alarms, not for log rows.
            keep = [ev for ev in evs if outbox_essential(ev)]
            self.counters["log_skipped"] = self.counters.get("log_skipped", 0) + \
                len(evs) - len(keep)
            evs = keep
        try:
            self.eventlog.append_many(evs)
        except Exception as e:  # noqa: BLE001 - the log must never stop an alarm
            now = time.monotonic()
            self._log_failures = getattr(self, "_log_failures", 0) + 1
            if now - getattr(self, "_log_fail_at", -1e9) >= 60.0:   # rate-limited
                log.error("event log append failed: %s (%d failures so far)", e,
                          self._log_failures)
                self._log_fail_at = now

    def _send(self) -> None:
        try:
            self.relay.send()
        except Exception as e:  # noqa: BLE001
            log.error("relay send failed: %s", e)

    def _publish(self, ev: dict) -> None:
        stored = self._store([ev])
        self._send()
        self._stored_after(stored)

    # ------------------------------------------------------------------ delivery record
    def _open_delivery_record(self, storage: dict) -> None:
        """PUBACK and ack times per event, uplink changes, starts (for `guardroom report`)."""
        from .deliveries import DeliveryRecord, config_sha256, record_path

        try:
            self.deliveries = DeliveryRecord(record_path(storage["dir"]),
                                             keep=storage["log_keep"])
        except Exception as e:  # noqa: BLE001 - reports lose figures, the alarm goes on
            log.error("delivery record not available: %s", e)
            return
        self.deliveries.started(config_sha256(self.config_path), __version__)
        self.relay.on_delivered = self.deliveries.puback

    def _note_sent(self, sent) -> None:
        if self.deliveries is not None and isinstance(sent, dict) and "seq" in sent:
            from .deliveries import event_key

            self.deliveries.sent(sent["seq"], event_key(sent))

    def _report_event(self, ev: dict) -> None:
        """An event not made by the engine: stored, sent, then logged."""
        stored = self._store([ev])
        self._send()
        self._stored_after(stored)
        self._log_event(ev)
        if self._subscribers:
            self._fan_out([dict(ev)])

    def report(self, kind: str, cid: int, q: int, text: str, user: str = "",
               area: str = "") -> None:
        """Console/daemon events outside the engine (461 wrong code, 627/628 program mode)."""
        self._report_event(events.make(kind, cid, q, text, user=user, area=area))

    def _on_storage_trouble(self, text: str) -> None:
        """The outbox or the event log found a storage problem (once per episode; any
        thread): a 1300 trouble, stored in the outbox's reserve (essential events are kept
        even on a full disk)."""
        log.error("storage trouble: %s", text)
        ev = events.make("trouble", 300, 1, f"Storage trouble: {text}", user="system")
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._report_event, ev)

    def _on_storage_restore(self, text: str) -> None:
        log.warning("storage restored: %s", text)
        ev = events.make("trouble_restore", 300, 3, f"Storage restored: {text}", user="system")
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._report_event, ev)

    # ------------------------------------------------------------------ outputs
    def _order_output(self, name: str, on: bool) -> None:
        if name not in self.outputs_map:
            log.error("engine ordered unknown output %s", name)
            return
        self.output_owner.order(name, on)

    def _driver_kind(self, drv) -> str:
        for k, d in self.drivers.items():
            if d is drv:
                return k
        return ""

    def _output_failed(self, name: str, e: Exception) -> None:
        self.counters["output_errors"] += 1
        self._report_event(events.make("trouble", 321, 1, f"Output {name!r} failed: {e}",
                                       user="system"))

    async def set_output(self, name: str, on: bool, who: str = "console") -> None:
        """By hand (console): held until ``end_manual_outputs(who)`` or a time limit."""
        await self.output_owner.manual_set(name, on, who)

    def end_manual_outputs(self, who: Optional[str] = None, why: str = "") -> list[str]:
        """Outputs switched by hand go back to the engine's order (console logout, ...)."""
        return self.output_owner.end_manual(who, why)

    async def pulse_output(self, name: str, ms: int) -> None:
        drv, _ = self.outputs_map[name]
        await drv.pulse_output(name, ms)

    @property
    def output_state(self) -> dict:
        """What each output's hardware was last told (and confirmed)."""
        return self.output_owner.state() if self.output_owner else {}

    def outputs(self) -> dict:
        told = self.output_state
        return {n: {"kind": k, "on": bool(told.get(n, False)),
                    "driver": self._driver_kind(d)} for n, (d, k) in self.outputs_map.items()}

    def _show_area_on_readers(self, area: str, state: str) -> None:
        armed = state in ("armed_away", "armed_stay", "alarm", "entry_delay")
        for reader, rc in self.config["readers"].items():
            led = f"{reader}.led"
            if rc["area"] == area and rc["show_armed"] and led in self.outputs_map:
                if self.output_owner.wanted.get(led) != armed:
                    self._order_output(led, armed)

    # ------------------------------------------------------------------ credentials
    def _on_driver_event(self, ev: dict) -> None:
        if ev.get("type") == "credential":
            self.loop.create_task(self._credential(ev))
        elif ev.get("type") == "notice":
            log.info("%s %s: %s", ev.get("driver", "?"), ev.get("device", ""), ev.get("text"))
            if ev.get("cid"):  # e.g. 626: the sample buffer refused a badly stamped sample
                self.report("trouble", int(ev["cid"]), 1,
                            f"{ev.get('device', '')}: {ev.get('text', '')}", user="system")
            text = str(ev.get("text", ""))
            if "online" in text and "offline" not in text and ev.get("driver") in self.drivers:
                # a module or reader is back: its coils/LEDs/strikes get what they should show
                self.output_owner.reapply(ev["driver"])
        elif ev.get("type") == "chatter":
            self._on_chatter(ev)

    def _on_chatter(self, ev: dict) -> None:
        """A driver stopped following a point's changes one by one (or started again): a
        sensor trouble (CID 380) or its restore for every zone on that point."""
        from guardroom.drivers.chatter import CHATTER_CID

        point, active = ev.get("point", ""), bool(ev.get("active"))
        zones = [z for z in self.config["zones"] if z["point"] == point]
        if not zones:
            log.warning("%s: %s (no zone uses point %s)", ev.get("driver", "?"),
                        ev.get("text", ""), point)
        for z in zones:
            self._report_event(events.make(
                "trouble", CHATTER_CID, 1 if active else 3,
                f"Zone {z['name']}: {ev.get('text', '')}", user="system", area=z["area"],
                zone=z["name"], t_ns=ev.get("t_ns")))
        self._schedule_state_publish()

    async def check_code(self, code: str):
        """Check a code off the loop (PBKDF2 takes tens of ms per user on a Pi)."""
        return await self.loop.run_in_executor(None, self.codes.check, code)

    async def _credential(self, ev: dict) -> None:
        reader, kind = ev.get("reader", ""), ev.get("kind")
        rc = self.config["readers"].get(reader)
        if rc is None:
            log.info("credential at reader %s with no [readers] entry: ignored", reader)
            return
        area = rc["area"]
        if kind == "card":
            m = self.codes.card(ev.get("value", ""))
            if m is None or not m.may_use_area(area):
                self.report("access", 421, 1, f"Access denied at reader {reader!r}: unknown "
                            "card", user=f"reader:{reader}", area=area)
                return
            if rc["card_action"] == "grant":
                drv = self.drivers.get("osdp")
                if drv is not None and hasattr(drv, "grant"):
                    await drv.grant(reader)
                self._log_event(events.make("access", 422, 1, f"Access granted to {m.user} at "
                                            f"reader {reader!r}", user=f"card:{m.user}",
                                            area=area))
            elif rc["card_action"] == "toggle":
                self._toggle_area(area, f"card:{m.user}")
        elif kind == "pin":
            now = time.monotonic()
            if self.lockout.remaining(now) > 0:
                self.report("access", 461, 1, f"Code entered at reader {reader!r} during "
                            "lockout", user=f"reader:{reader}", area=area)
                return
            m = await self.check_code(ev.get("value", ""))
            if m is None or not m.may_use_area(area):
                locked = self.lockout.failure(now)
                self.report("access", 461, 1, f"Wrong code at reader {reader!r}" +
                            (f"; keypads locked for {locked:.0f} s" if locked else ""),
                            user=f"reader:{reader}", area=area)
                return
            self.lockout.success()
            if m.duress:
                self.duress(f"pin:{m.user}", m.areas, area)
            if rc["pin_action"] == "toggle":
                self._toggle_area(area, f"pin:{m.user}")

    def _toggle_area(self, area: str, user: str) -> None:
        state = self.area_state(area)
        cmd = "disarm" if state not in ("disarmed",) else "arm_away"
        self._apply(self.engine.command(time.monotonic_ns(), cmd, area=area, user=user))

    # ------------------------------------------------------------------ relay callbacks
    def _on_uplink(self, up: bool) -> None:
        log.warning("uplink %s", "up" if up else "DOWN")
        if self.deliveries is not None:
            self.deliveries.uplink(bool(up))
        self._path_uplink("mqtt", bool(up))
        self._schedule_state_publish()

    def _on_ack(self, msg: dict) -> None:
        """A verified ack (signed, fresh, never seen: see cmdauth)."""
        try:
            incident = int(msg.get("incident", 0))
        except (TypeError, ValueError):
            log.warning("malformed ack ignored")
            return
        user = str(msg.get("user") or "platform")[:64]
        if self.deliveries is not None:
            self.deliveries.ack(incident, user)
        self._apply(self.engine.ack(time.monotonic_ns(), incident, user=f"platform:{user}"))

    def _on_ack_refused(self, reason: str, detail: str, incident: int) -> None:
        """An ack that failed authentication: logged, and told to the platform as an event
        (at most one per reason a minute, with the count of the others)."""
        now = time.monotonic()
        slot = self._ack_refusals.setdefault(reason, [-1e9, 0])
        if now - slot[0] < ACK_REFUSAL_REPORT_S:
            slot[1] += 1
            return
        more = f" (+{slot[1]} more since the last report)" if slot[1] else ""
        slot[0], slot[1] = now, 0
        self._report_event(events.make(
            "ack_refused", 0, 1, f"Acknowledgement refused ({reason}) for incident "
            f"{incident}{more}: the alarm stays unacknowledged", user="system"))

    def _on_cmd(self, cmd: dict) -> None:
        name = cmd.get("cmd", "")
        result = {"cmd": name, "nonce": cmd.get("nonce", ""), "ok": False}
        if name == "report":
            self._platform_report(cmd, result)
            return
        if name not in PLATFORM_COMMANDS:
            result["reason"] = f"command {name!r} is not allowed from the platform"
        else:
            try:
                decs = self.engine.command(time.monotonic_ns(), name,
                                           area=cmd.get("area", "") or "",
                                           zone=cmd.get("zone", "") or "",
                                           user=cmd.get("user", "platform"),
                                           force=bool(cmd.get("force", False)),
                                           arg=int(cmd.get("arg", 0) or 0))
            except (ValueError, TypeError) as e:
                decs = []
                result["reason"] = str(e)
            else:
                refused = [d for d in decs if d.kind == "refused"]
                result["ok"] = not refused
                if refused:
                    result["reason"] = refused[0].text
                result["decisions"] = [d.kind for d in decs]
                self._log_event(events.make("command", 0, 1, f"Platform command {name}",
                                            user=cmd.get("user", "platform"),
                                            area=cmd.get("area", "") or ""))
                self._apply(decs)
        if cmd.get("duress"):
            # A duress code acts exactly as the code (the result above says nothing more)
            # and raises the silent duress alarm to the platform.
            user = cmd.get("user", "")
            areas = next((u.get("areas", []) for u in self.config["users"]
                          if u["name"] == user), [])
            self.duress(user, areas, cmd.get("area", "") or "")
        try:
            self.relay.publish_cmd_result(result)
        except Exception as e:  # noqa: BLE001
            log.error("cmd result not published: %s", e)

    def _platform_report(self, cmd: dict, result: dict) -> None:
        """`report`: make the drill or inspection report into the storage folder (a child
        process; the loop only awaits it) and answer on cmd/result with its JSON summary."""
        from .report.runner import make_report, out_dir

        self._log_event(events.make("command", 0, 1, f"Platform command report "
                                    f"{cmd.get('report', '')}", user=cmd.get("user", "platform")))

        async def run():
            try:
                js = await make_report(self.config_path or "", str(cmd.get("report", "")),
                                       str(cmd.get("lang") or "zh"),
                                       out_dir(self.config["storage"]["dir"]))
            except GuardroomError as e:
                result["reason"] = str(e)
            else:
                result["ok"] = True
                js["files"] = [os.path.basename(f) for f in js.get("files", [])]
                result["summary"] = js
            try:
                self.relay.publish_cmd_result(result)
            except Exception as e:  # noqa: BLE001
                log.error("cmd result not published: %s", e)

        task = self.loop.create_task(run(), name="platform-report")
        self._tasks.append(task)
        task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))

    # ------------------------------------------------------------------ state
    def _mark_state_dirty(self) -> None:
        self._state_dirty = True
        if self._state_handle is None and self.loop is not None:
            self._state_handle = self.loop.call_later(0.05, self._flush_state)
        self._schedule_state_publish()

    def _flush_state(self) -> None:
        """Snapshot in the loop (consistent), write in a worker thread (an SD card fsync can
        take tens of ms and must not delay the next alarm)."""
        self._state_handle = None
        if self._state_dirty:
            self._state_dirty = False
            data = self._state_data()
            fut = self.loop.run_in_executor(None, self.statefile.save, data)
            fut.add_done_callback(self._state_saved)

    def _state_saved(self, fut) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            log.error("state not saved: %s", fut.exception())

    def _state_data(self) -> dict:
        return {"engine": self.engine.snapshot(),
                "saved_at": events.wall_iso(time.monotonic_ns())}

    def _save_state_fast(self) -> bool:
        """Write the state now without waiting for the disk (a ``pwrite`` into a slot: in the
        page cache, it survives a killed process). True when saved: its fsync is then to be
        asked for with ``_sync_state_later()`` (the caller does that once the events are handed
        to paho, so the worker thread does not compete with the send for the GIL)."""
        self._state_dirty = False
        try:
            self.statefile.save(self._state_data(), sync=False)
        except OSError as e:
            log.error("state not saved: %s", e)
            return False
        return True

    def _sync_state_later(self) -> None:
        """fsync the last state save in a worker thread (an SD card can take tens of ms). One
        at a time: saves made while one runs get one more fsync when it ends."""
        if self._state_sync is not None:
            self._state_sync_again = True
            return
        self._state_sync_again = False
        fut = self._state_sync = self.loop.run_in_executor(None, self.statefile.sync)
        fut.add_done_callback(self._state_synced)

    def _state_synced(self, fut) -> None:
        self._state_sync = None
        self._state_saved(fut)
        if self._state_sync_again and not self.loop.is_closed():
            self._sync_state_later()

    def _save_state_now(self) -> None:
        self._state_dirty = False
        try:
            self.statefile.save(self._state_data())
        except OSError as e:
            log.error("state not saved: %s", e)

    def _schedule_state_publish(self) -> None:
        if self._publish_handle is None and self.loop is not None and self.relay is not None:
            self._publish_handle = self.loop.call_later(STATE_COALESCE_S, self._publish_state)

    def _publish_state_soon(self) -> None:
        """An alarm or area decision: the retained state (what Home Assistant shows) follows
        the event at once instead of up to STATE_COALESCE_S later. STATE_URGENT_S lets the loop
        go idle first, so paho's thread writes the event before the state is built; during a
        storm of alarms the publishes are STATE_URGENT_GAP_S apart."""
        if self.loop is None or self.relay is None:
            return
        at = max(self.loop.time() + STATE_URGENT_S, self._state_published_at + STATE_URGENT_GAP_S)
        h = self._publish_handle
        if h is not None:
            if h.when() <= at:
                return                      # one is already due as soon
            h.cancel()
        self._publish_handle = self.loop.call_at(at, self._publish_state)

    def _publish_state(self) -> None:
        self._publish_handle = None
        self._state_published_at = self.loop.time()
        try:
            self.relay.publish_state(self.state())
        except Exception as e:  # noqa: BLE001
            log.error("state not published: %s", e)

    # ------------------------------------------------------------------ host API (console)
    @property
    def info(self) -> dict:
        return {"controller": self.controller, "site": self.site, "version": __version__,
                "engine": getattr(self, "engine_build", "?"),
                "description": self.config["site"]["description"]}

    def engine_area_names(self) -> list[str]:
        return list(self.config["areas"])

    def snapshot(self) -> dict:
        return self.engine.snapshot()

    def area_state(self, area: str) -> str:
        return self.areas().get(area, {}).get("state", "disarmed")

    def areas(self) -> dict:
        from .views import areas_view

        return areas_view(self.engine.snapshot(), self.covert_incidents)

    def zones(self) -> list[dict]:
        from .views import zones_view

        zones = zones_view(self.engine.snapshot(), self.config, self.zone_activity,
                           self.covert_incidents)
        stats = self.point_stats()
        for z in zones:
            st = stats.get(z["point"])
            if st is not None:
                z["chatter"] = st       # counts: nothing held back goes unaccounted
                if st.get("chatter") and not z["trouble"]:
                    z["trouble"] = "chatter"
        return zones

    def point_stats(self) -> dict:
        """Per input point, from the drivers that count them: chatter state and counts."""
        out: dict = {}
        for drv in self.drivers.values():
            fn = getattr(drv, "point_stats", None)
            if fn is not None:
                try:
                    out.update(fn())
                except Exception as e:  # noqa: BLE001 - status must not break the loop
                    log.error("point stats of %s: %s", drv.kind, e)
        return out

    def status(self) -> dict:
        return {
            "areas": self.areas(),
            "zones": self.zones(),
            "outputs": self.outputs(),
            "uplink": self.relay_status(),
            "arc": self.dc09_status(),
            "drivers": self.driver_status(),
            "clock": self.clock(),
            "counters": dict(self.counters),
        }

    def state(self) -> dict:
        """The retained `state` topic."""
        zones = {z["name"]: {"state": z["state"], "bypassed": z["bypassed"],
                             "trouble": z["trouble"], "latched": z["latched"]}
                 for z in self.zones()}
        up = self.relay_status()
        return {"areas": self.areas(), "zones": zones,
                "outputs": {n: o["on"] for n, o in self.outputs().items()},
                "uplink": {"connected": up.get("connected"), "outbox": up.get("outbox_depth")},
                "devices": self.device_health(), "log_head": self.log_head(),
                "build": {"version": __version__, "engine": self.info["engine"]},
                **({"arc": self.dc09_brief()} if self.dc09 is not None else {})}

    def log_head(self) -> dict:
        """The event log's head for the retained state: a platform that keeps it can later
        prove a rewrite or a cut tail (``guardroom log --verify --head ROW:HASH``)."""
        from .eventlog import head_of

        try:
            row, h = head_of(self.eventlog)
        except Exception:  # noqa: BLE001 - the state must go out even if the log is sick
            return {}
        return {"row": row, "hash": h}

    def device_health(self) -> dict:
        """Field devices for the platform: online flags and line-error counters."""
        out = {}
        mb = self.drivers.get("modbus")
        if mb is not None and hasattr(mb, "stats"):
            for name, st in mb.stats().items():
                out[name] = {"kind": "modbus", "online": bool(st.get("online")),
                             "crc_errors": st.get("crc_errors", 0),
                             "timeouts": st.get("timeouts", 0),
                             "exceptions": st.get("exceptions", 0)}
        osdp = self.drivers.get("osdp")
        if osdp is not None:
            for name, st in osdp.status().get("readers", {}).items():
                out[name] = {"kind": "osdp", "online": bool(st.get("online")),
                             "secure_channel": bool(st.get("secure_channel"))}
        return out

    async def command(self, name: str, area: str = "", zone: str = "", user: str = "",
                      force: bool = False, arg: int = 0) -> list[dict]:
        if name == "duress":       # covert: see duress()
            self.duress(user, area=area)
            return []
        decs = self.engine.command(time.monotonic_ns(), name, area=area, zone=zone, user=user,
                                   force=force, arg=arg)
        if name != "duress":  # the duress alarm itself is logged; no tell-tale command row
            text = f"Command {name}" + (f" area={area}" if area else "") + \
                (f" zone={zone}" if zone else "")
            self._log_event(events.make("command", 0, 1, text, user=user, area=area, zone=zone))
        self._apply(decs)
        return [d.as_dict() for d in decs]

    def subscribe(self, callback: Callable[[dict], None]) -> None:
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[dict], None]) -> None:
        try:
            self._subscribers.remove(callback)
        except ValueError:
            pass

    async def modbus_scan(self, bus: str, first: int, last: int) -> list[int]:
        drv = self.drivers.get("modbus")
        if drv is None:
            raise GuardroomError("no Modbus driver configured")
        return await drv.scan(bus, first, last)

    def driver_status(self) -> dict:
        out = {}
        for kind, drv in self.drivers.items():
            try:
                out[kind] = drv.status()
            except Exception as e:  # noqa: BLE001
                out[kind] = {"error": str(e)}
        return out

    def relay_status(self) -> dict:
        return self.relay.status() if self.relay else {}

    async def mqtt_test(self) -> dict:
        ev = self.relay.publish_event(events.make("test", 601, 1, "Manual test", user="console"))
        self._note_sent(ev)
        self._log_event(ev)
        rtt = await self.relay.wait_delivered(ev["seq"], 10.0)
        # "routed": False when the broker said no subscriber matched (no platform listening)
        return {"seq": ev["seq"], "rtt_ms": rtt,
                "routed": self.relay.routed(ev["seq"]) is not False}

    def clock(self) -> dict:
        return {"wall": events.wall_iso(time.monotonic_ns()), "ntp": _ntp_synced()}


def _ntp_synced() -> bool:
    """True when the kernel clock is disciplined by NTP (see clock.ntp_synced)."""
    from .clock import ntp_synced

    return ntp_synced()


def _private(folder: str) -> None:
    """The storage folder 0700 and its files 0600 (an older install made them 0755/0644)."""
    try:
        os.chmod(folder, 0o700)
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.chmod(path, 0o600)
    except OSError as e:
        log.warning("storage %s: cannot make it private: %s", folder, e.strerror)


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception as e:  # noqa: BLE001
        log.error("during stop: %s", e)


async def run(config: dict, config_path: Optional[str] = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code (re-exec on a requested restart)."""
    os.umask(0o077)   # the daemon process: every file it creates is for it alone
    daemon = Daemon(config, config_path)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: loop.create_task(daemon.stop()))
    try:
        await daemon.start()
    except Exception:
        await daemon.stop()
        raise
    await daemon.wait_stopped()
    return 75 if daemon._restart_requested else 0
