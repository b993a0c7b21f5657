"""The relay: events from the outbox to the broker in seq order, retained state and status,
acks and authenticated commands back from the platform, uplink supervision.

Runs in the daemon's asyncio loop, and so does paho (external-loop mode, see link.py: a
publish is written to the socket within the call; PUBACKs and messages are read by the loop's
reader and handed on with ``call_soon``). A supervisor task opens one ``Link`` (a fresh paho client) per
connection, with a jittered, capped exponential backoff between attempts (``backoff_s``: a
random delay in [0, min(reconnect_max_s, 0.25 * 2**n)] before attempt n, counted from 0 after
a lost connection), so a fleet that loses its broker at once does not come back at once. With
``hosts = [...]`` every failed attempt moves to the next endpoint, round robin. On every connect
a fresh outbox cursor sends the pending events again: alarm-class events first, each class in
seq order, at most ``WINDOW`` handed to paho at a time (so a new alarm overtakes a backlog
within a few round trips); an event leaves the outbox only on its PUBACK. Non-alarm events
leave at most ``nonalarm_rate`` a second (pace.py), so the broker's queue to a slower platform
stays short and an alarm is not stuck behind troubles the broker already took.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from ..authstore import AuthStore
from ..clock import trust_policy
from ..cmdauth import CommandVerifier, parse_json
from ..errors import AuthError, RelayError
from ..outbox import Outbox
from ..waiting import Waiters, end_task
from .hass import discovery_messages
from .link import Link
from .pace import Pace
from .supervision import UplinkSupervisor
from .topics import Topics

log = logging.getLogger(__name__)

WINDOW = 40            # events handed to paho and not yet PUBACKed, at most (paho sends 20 at
                       # once; a small window lets a new alarm overtake a backlog)
BACKOFF_MAX_S = 2.0   # default cap: an alarm uplink must notice the broker's return within seconds
BACKOFF_FIRST_S = 0.25  # the window of the first retry after a lost connection
UNROUTED = "No matching subscribers"   # MQTT v5 PUBACK 0x10: the broker delivered it to nobody
UNROUTED_RETRY_S = 1.0
NONALARM_RATE = 1000.0  # default [mqtt] nonalarm_rate: non-alarm events sent per second at most
STOP_TIMEOUT_S = 2.0
RTT_KEEP = 256         # round trips remembered for wait_delivered   # wait this long for the "offline" PUBACK on a clean stop


def _iso(t: Optional[float] = None) -> str:
    dt = datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


def _noop(*_a) -> None:
    pass


def _reason(err: BaseException) -> tuple[str, str]:
    """(reason, detail) of a verification failure; a bug in the verifier reads 'malformed'."""
    if isinstance(err, AuthError):
        return getattr(err, "reason", "refused"), getattr(err, "detail", "")
    log.error("verification failed: %r", err)
    return "malformed", "verifier error"


def backoff_s(attempt: int, cap_s: float, rnd=random.random) -> float:
    """Full jitter: uniform in [0, min(cap_s, BACKOFF_FIRST_S * 2**attempt)]."""
    return rnd() * min(cap_s, BACKOFF_FIRST_S * 2.0 ** min(attempt, 30))


def endpoints(cfg: dict, default_port: int) -> list[tuple[str, int]]:
    """(host, port) of every broker: ``hosts`` ("host" or "host:port", "[v6]:port") or
    ``host``/``port``."""
    port = int(cfg.get("port") or default_port)
    out = []
    for item in cfg.get("hosts") or [cfg["host"]]:
        host, p = item, port
        if item.startswith("["):                      # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            if rest.startswith(":"):
                p = int(rest[1:])
        elif item.count(":") == 1:
            host, ps = item.split(":")
            p = int(ps)
        out.append((host, p))
    return out


class Relay:
    """See the package doc and docs/operator/mqtt.md. Every public method is called from
    ``loop``'s thread; every callback is called there too."""

    def __init__(self, config: dict, controller: str, site: str, outbox: Outbox,
                 loop: asyncio.AbstractEventLoop,
                 on_ack: Callable[[dict], None] = _noop,
                 on_cmd: Callable[[dict], None] = _noop,
                 on_uplink: Callable[[bool], None] = _noop, *,
                 check_code: Optional[Callable[[str], Any]] = None,
                 store: Optional[AuthStore] = None,
                 on_ack_refused: Callable[[str, str, int], None] = _noop):
        self.cfg = dict(config)
        self.controller, self.site = controller, site
        self.outbox = outbox
        if not getattr(outbox, "controller", ""):
            outbox.controller = controller
        self.loop = loop
        if hasattr(outbox, "on_wake"):     # a vanished file's move: the next step at once
            outbox.on_wake = self._outbox_woke
        self.on_ack, self.on_cmd, self.on_uplink = on_ack, on_cmd, on_uplink
        #: ``on_delivered(seq, wall_time)`` at each event's PUBACK (the delivery record)
        self.on_delivered: Callable[[int, float], None] = _noop
        self.topics = Topics(self.cfg.get("topic_prefix", "guardroom"), site, controller)
        tls = bool(self.cfg.get("tls", False))
        self.endpoints = endpoints(self.cfg, 8883 if tls else 1883)
        self._ep = 0
        self.host, self.port = self.endpoints[0]
        self.backoff_max_s = float(self.cfg.get("reconnect_max_s", BACKOFF_MAX_S))
        self.heartbeat_s = float(self.cfg.get("heartbeat_s", 10.0))
        self.keepalive_s = int(self.cfg.get("keepalive_s", 30))
        mode = self.cfg.get("protocol", "auto")
        self._proto_mode = mode
        self._proto_next = "v311" if mode == "v311" else "v5"
        self._check_code = check_code
        self._store = store
        self.on_ack_refused = on_ack_refused
        self.verifier: Optional[CommandVerifier] = None
        self._password = ""
        self._link: Optional[Link] = None
        self._loop_tid = -1                  # the loop's thread (set by start())
        self._task: Optional[asyncio.Task] = None
        self._tick_handle: Optional[asyncio.TimerHandle] = None
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._sup = UplinkSupervisor(self.heartbeat_s, time.monotonic())
        self._cursor = None                  # the outbox cursor of the live connection
        # non-alarm events leave at most this fast (the broker's queue to the platform stays
        # short, so an alarm is not stuck behind troubles already sent); alarms are never paced
        self._pace = Pace(float(self.cfg.get("nonalarm_rate", NONALARM_RATE)), time.monotonic())
        self._pace_handle: Optional[asyncio.TimerHandle] = None
        self._inflight_events = 0
        self._acked: list[int] = []
        self._remove_scheduled = False
        self._waiters = Waiters()
        self._rtt: dict[int, float] = {}     # seq -> publish-to-PUBACK ms, the last RTT_KEEP
        self._routed: dict[int, bool] = {}   # seq -> did its last PUBACK find a subscriber
        self._state_payload: Optional[str] = None
        self._discovery: Optional[tuple[list[str], list[dict]]] = None
        self._cmd_pool: Optional[ThreadPoolExecutor] = None
        self._ever_connected = False
        self.counters = {"events_published": 0, "events_acked": 0, "events_refused": 0,
                         "reconnects": 0, "connect_attempts": 0, "probes": 0,
                         "cmds_accepted": 0, "cmds_refused": 0, "acks_received": 0,
                         "acks_refused": 0, "malformed_in": 0, "events_unrouted": 0}
        self._unrouted: set[int] = set()
        self._unrouted_handle: Optional[asyncio.TimerHandle] = None
        self.last_puback_wall: Optional[float] = None
        self.last_puback_mono: Optional[float] = None
        self.last_platform_ack: Optional[float] = None
        self.last_error = ""
        self.connected_since: Optional[float] = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def check_code(self):
        return self._check_code

    @check_code.setter
    def check_code(self, fn) -> None:
        self._check_code = fn
        if self.verifier is not None:
            self.verifier.check_code = fn

    async def start(self) -> None:
        """Check the files, then connect in the background; returns at once."""
        cfg = self.cfg
        for key in ("ca_file", "cert_file", "key_file"):
            path = cfg.get(key) or ""
            if path and not os.access(path, os.R_OK):
                raise RelayError(f"mqtt.{key}: cannot read {path!r}")
        self._password = cfg.get("password") or ""
        if cfg.get("password_file"):
            try:
                with open(cfg["password_file"], encoding="utf-8") as fh:
                    self._password = fh.readline().rstrip("\r\n")
            except OSError as e:
                raise RelayError(f"mqtt.password_file: cannot read "
                                 f"{cfg['password_file']!r}: {e.strerror}") from None
        key_hex = cfg.get("cmd_hmac_key") or ""
        self.verifier = CommandVerifier(bytes.fromhex(key_hex) if key_hex else None,
                                        self._check_code,
                                        max_age_s=cfg.get("cmd_max_age_s", 30),
                                        store=self._store, mono=time.monotonic,
                                        clock_trusted=trust_policy(cfg.get("cmd_clock",
                                                                           "ntp")))
        self._cmd_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-cmd")
        self._stopping = False
        self._sup = UplinkSupervisor(self.heartbeat_s, time.monotonic())
        self._loop_tid = threading.get_ident()
        self._task = self.loop.create_task(self._run(), name="relay")
        self._schedule_tick()

    async def stop(self) -> None:
        """Publish ``offline`` (retained), disconnect cleanly, stop the threads."""
        self._stopping = True
        self._wakeup.set()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        if self._unrouted_handle is not None:
            self._unrouted_handle.cancel()
            self._unrouted_handle = None
        if self._pace_handle is not None:
            self._pace_handle.cancel()
            self._pace_handle = None
        link = self._link
        if link is not None and link.connacked and not link.ended:
            fut = self.loop.create_future()
            if link.publish(self.topics.status, "offline", retain=True, kind="status", fut=fut):
                try:
                    await asyncio.wait_for(fut, STOP_TIMEOUT_S)
                except asyncio.TimeoutError:
                    log.warning("no PUBACK for 'offline' within %.0f s", STOP_TIMEOUT_S)
        if link is not None:
            link.close()
        await end_task(self._task)
        self._task = None
        self._set_disconnected()
        self._flush_removals()
        if self._cmd_pool is not None:
            self._cmd_pool.shutdown(wait=False)
            self._cmd_pool = None
        self._waiters.cancel_all()

    # ------------------------------------------------------------------ public API
    def publish_event(self, event: dict) -> dict:
        """Store the event in the outbox (seq/id assigned) and send it now if connected."""
        ev = self.outbox.append(event)
        self._pump()
        return ev

    def store_events(self, events: list) -> list:
        """Store events in the outbox in one transaction (seq/id assigned) without sending
        them: the daemon saves the state that explains them first, then calls ``send()``."""
        return self.outbox.append_many(events)

    def send(self) -> None:
        """Hand whatever is pending to the broker now (no-op while offline)."""
        self._pump()

    def publish_state(self, state: dict) -> None:
        """Retained JSON on ``state``; the latest is re-published on every reconnect."""
        self._state_payload = _dumps(state)
        link = self._live_link()
        if link is not None:
            link.publish(self.topics.state, self._state_payload, retain=True, kind="state")

    def publish_cmd_result(self, result: dict) -> None:
        """JSON on ``cmd/result`` (QoS 1, not retained; dropped if offline: results are
        transient)."""
        link = self._live_link()
        if link is None:
            log.info("cmd result for %s not sent: offline", result.get("cmd", "?"))
            return
        link.publish(self.topics.cmd_result, _dumps(result), kind="result")

    def set_discovery(self, areas: list[str], zones: list[dict]) -> None:
        """Entities for Home Assistant discovery (used when ``hass_discovery`` is true)."""
        self._discovery = (list(areas), [dict(z) for z in zones])
        if self._live_link() is not None:
            self._announce()

    def status(self) -> dict:
        """Where the uplink stands, for the console and the state topic. No secrets."""
        link = self._link
        now = time.monotonic()
        return {
            "connected": bool(link and link.connacked and not link.ended),
            "uplink": self._sup.up,
            "protocol": link.protocol if link and link.connacked else None,
            "broker": f"{self.host}:{self.port}",
            "tls": bool(self.cfg.get("tls")),
            "client_id": self._client_id(),
            "username": self.cfg.get("username") or "",
            "topic_root": self.topics.root,
            "outbox_depth": self.outbox.depth(),
            "outbox_healthy": bool(getattr(self.outbox, "healthy", True)),
            "outbox_problem": getattr(self.outbox, "problem", ""),
            "next_seq": self.outbox.next_seq,
            "events_published": self.counters["events_published"],
            "events_acked": self.counters["events_acked"],
            "events_refused": self.counters["events_refused"],
            "events_unrouted": self.counters["events_unrouted"],
            "in_flight": self._inflight_events,
            "last_puback": _iso(self.last_puback_wall) if self.last_puback_wall else None,
            "last_puback_age_s": (round(now - self.last_puback_mono, 3)
                                  if self.last_puback_mono is not None else None),
            "last_contact_age_s": round(self._sup.silent_s(now), 3),
            "last_platform_ack": (_iso(self.last_platform_ack)
                                  if self.last_platform_ack else None),
            "reconnects": self.counters["reconnects"],
            "connect_attempts": self.counters["connect_attempts"],
            "connected_since": _iso(self.connected_since) if self.connected_since else None,
            "last_error": self.last_error,
            "cmds_accepted": self.counters["cmds_accepted"],
            "cmds_refused": self.counters["cmds_refused"],
        }

    async def wait_delivered(self, seq: int, timeout_s: float) -> float:
        """Wait for the PUBACK of event ``seq``; returns the round trip in ms: from the moment
        the event was (last) handed to paho to its PUBACK, or from this call if it had not been
        sent yet. An event already acknowledged returns its recorded round trip (0.0 if that
        is no longer known). A PUBACK saying that no subscriber matched counts too (the broker
        answered; the event stays in the outbox: see _on_unrouted). Raises
        asyncio.TimeoutError after ``timeout_s``."""
        t0 = time.monotonic()
        if seq >= self.outbox.next_seq:
            raise ValueError(f"event {seq} does not exist yet")
        if seq in self._acked or not self.outbox.is_pending(seq):
            return self._rtt.get(seq, 0.0)
        t_ack = await self._waiters.wait(seq, timeout_s)
        if seq in self._rtt:
            return self._rtt[seq]
        return max(0.0, (t_ack - t0) * 1000.0)

    def routed(self, seq: int) -> Optional[bool]:
        """Did the broker's last PUBACK for event ``seq`` find a subscriber? False after an
        MQTT v5 "No matching subscribers" (no platform subscribed: the event stays in the
        outbox and is sent again), True after any other PUBACK (MQTT 3.1.1 cannot tell), None
        if not known (no PUBACK yet, or one of more than RTT_KEEP ago)."""
        return self._routed.get(seq)

    def _remember_route(self, seq: int, routed: bool) -> None:
        self._routed.pop(seq, None)                  # the newest answer goes last
        self._routed[seq] = routed
        if len(self._routed) > RTT_KEEP:
            del self._routed[next(iter(self._routed))]

    # ------------------------------------------------------------------ connection supervisor
    def _client_id(self) -> str:
        return self.cfg.get("client_id") or self.controller

    def _live_link(self) -> Optional[Link]:
        link = self._link
        if link is not None and link.connacked and not link.ended:
            return link
        return None

    def _hop(self, fn, *args) -> None:
        """A paho callback to the loop: paho runs in the loop thread (link.py), except
        while ``Link.open()`` connects in an executor thread."""
        try:
            if threading.get_ident() == self._loop_tid:
                self.loop.call_soon(fn, *args)
            else:
                self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed: the process is ending
            pass

    def _new_link(self, protocol: str) -> Link:
        c = self.cfg
        return Link(host=self.host, port=self.port, client_id=self._client_id(),
                    protocol=protocol, keepalive_s=self.keepalive_s,
                    username=c.get("username") or "", password=self._password,
                    tls=bool(c.get("tls")), ca_file=c.get("ca_file") or "",
                    cert_file=c.get("cert_file") or "", key_file=c.get("key_file") or "",
                    will_topic=self.topics.status, hop=self._hop, loop=self.loop,
                    session_expiry_s=int(c.get("session_expiry_s", 0)),
                    handlers={"connack": self._on_connack, "closed": self._on_closed,
                              "puback": self._on_puback, "message": self._on_message,
                              "suback": self._on_suback})

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            proto = self._proto_next
            link = self._new_link(proto)
            link.done = self.loop.create_future()
            self._link = link
            self.counters["connect_attempts"] += 1
            try:
                await self.loop.run_in_executor(None, link.open)
                link.attach()
            except (OSError, ValueError) as e:
                self.last_error = f"connect to {self.host}:{self.port} failed: {e}"
                log.info("mqtt: %s", self.last_error)
                link.close(False)
                self._next_endpoint()
                await self._backoff(failures)
                failures += 1
                continue
            # Wait for the session to end; give up on a broker that never answers CONNECT.
            connack_wait = max(5.0, float(self.keepalive_s))
            done, _ = await asyncio.wait({link.done}, timeout=connack_wait)
            if not done and not link.got_connack:
                self.last_error = f"no CONNACK from {self.host}:{self.port} in {connack_wait:g} s"
                link.close(False)
                if not link.done.done():
                    link.done.set_result(None)
            await link.done
            link.close(False)
            if self._stopping:
                break
            if link.connacked and getattr(link, "online_sent", False):   # SUBACK seen
                failures = 0
                await self._backoff(failures)   # a short jitter: not the whole fleet at once
                failures += 1
                continue
            if link.connacked:
                # accepted, then closed before the SUBACK (a RabbitMQ node that cannot reach
                # the node holding this client's session queue): a failed attempt, so the
                # backoff grows and the next endpoint is tried instead of a tight loop here
                self.last_error = (f"{self.host}:{self.port} closed the session before its "
                                   f"SUBACK ({link.closed_reason or 'no reason'})")
                log.warning("mqtt: %s", self.last_error)
            if self._proto_mode == "auto":
                if proto == "v5" and (not link.got_connack
                                      or "protocol" in link.refusal.lower()):
                    log.warning("mqtt: broker refused MQTT v5 (%s); falling back to 3.1.1",
                                link.refusal or "closed before CONNACK")
                    self._proto_next = "v311"
                    continue
                if proto == "v311" and not link.got_connack:
                    self._proto_next = "v5"     # the fallback did not help either
            self._next_endpoint()
            await self._backoff(failures)
            failures += 1

    def _next_endpoint(self) -> None:
        """After a failed attempt: the next broker of ``hosts`` (round robin). The outbox is
        replayed in seq order on whichever broker answers."""
        if len(self.endpoints) > 1:
            self._ep = (self._ep + 1) % len(self.endpoints)
            self.host, self.port = self.endpoints[self._ep]
            if self._proto_mode == "auto":
                self._proto_next = "v5"

    async def _backoff(self, attempt: int) -> None:
        delay = backoff_s(attempt, self.backoff_max_s)
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), delay)
        except asyncio.TimeoutError:
            pass

    # ------------------------------------------------------------------ paho callbacks (in loop)
    def _on_connack(self, link: Link, failed: bool, reason: str, t: float) -> None:
        if link is not self._link:
            return
        if failed:
            link.refusal = reason
            self.last_error = f"broker refused the connection: {reason}"
            log.warning("mqtt: %s", self.last_error)
            return
        link.connacked = True
        self._flush_removals()
        self.last_error = ""
        if self._ever_connected:
            self.counters["reconnects"] += 1
        self._ever_connected = True
        self.connected_since = time.time()
        log.info("mqtt: connected to %s:%d (%s)", self.host, self.port, link.protocol)
        # "online" follows the SUBACK (below): a platform that sends a command as soon as it
        # sees "online" must find the subscription in place.
        link.online_sent = False
        subs = [self.topics.ack, self.topics.cmd]
        if self.cfg.get("hass_discovery"):
            subs.append(self.cfg.get("hass_prefix", "homeassistant") + "/status")
        link.subscribe(subs)
        if self._state_payload is not None:
            link.publish(self.topics.state, self._state_payload, retain=True, kind="state")
        self._announce()
        self._cursor = self.outbox.cursor()
        self._inflight_events = 0
        self._sup.on_connect(t, backlog=self.outbox.depth() > 0)
        self._pump()
        self._evaluate()

    def _on_closed(self, link: Link, reason: str) -> None:
        if link is not self._link:
            return
        if link.connacked:
            log.warning("mqtt: connection lost (%s)", reason)
            if not self.last_error:
                self.last_error = f"connection lost: {reason}"
        link.closed_reason = reason
        link.ended = True
        self._set_disconnected()
        if not link.done.done():
            link.done.set_result(None)

    def _set_disconnected(self) -> None:
        self._sup.on_disconnect(time.monotonic())
        self._cursor = None
        self._inflight_events = 0
        self.connected_since = None
        self._evaluate()

    def _on_puback(self, link: Link, mid: int, failed: bool, reason: str, t: float) -> None:
        if link is not self._link:
            return
        self._sup.contact(t)
        entry = link.inflight.pop(mid, None)
        if entry is None:
            return
        kind, seq, t_sent, fut = entry
        if fut is not None and not fut.done():
            fut.set_result(t)
        if kind == "event":
            self._inflight_events = max(0, self._inflight_events - 1)
            if failed:
                self.counters["events_refused"] += 1
                self.last_error = f"broker refused event {seq}: {reason}"
                log.error("mqtt: %s (kept in the outbox)", self.last_error)
            elif reason == UNROUTED:
                self._on_unrouted(seq)
                self._rtt[seq] = max(0.0, (t - t_sent) * 1000.0)
                self._remember_route(seq, False)
                self._waiters.settle(seq, t)      # the broker answered (mqtt test)
            else:
                self.counters["events_acked"] += 1
                self.last_puback_wall, self.last_puback_mono = time.time(), t
                self._acked.append(seq)
                self._rtt[seq] = max(0.0, (t - t_sent) * 1000.0)
                self._call(lambda s: self.on_delivered(s, time.time() - (time.monotonic() - t)),
                           seq)
                if len(self._rtt) > RTT_KEEP:
                    del self._rtt[next(iter(self._rtt))]
                self._remember_route(seq, True)
                if not self._remove_scheduled:
                    self._remove_scheduled = True
                    self.loop.call_soon(self._flush_removals)
                self._waiters.settle(seq, t)
                if not self._sup.flowing:
                    self._sup.on_flowing(t)
            self._pump()
        self._evaluate()

    def _on_unrouted(self, seq: int) -> None:
        """The broker took the event but no subscriber matched it (a platform without a
        persistent session, or a broker restarted without its subscriptions): PUBACK means
        routed, not received. The event stays in the outbox and is sent again, in seq order,
        every UNROUTED_RETRY_S until a subscriber exists."""
        self.counters["events_unrouted"] += 1
        if not self._unrouted:
            log.warning("mqtt: event %d reached no subscriber; kept and sent again", seq)
        self._unrouted.add(seq)
        if self._unrouted_handle is None:
            self._unrouted_handle = self.loop.call_later(UNROUTED_RETRY_S,
                                                         self._resend_unrouted)

    def _resend_unrouted(self) -> None:
        self._unrouted_handle = None
        self._unrouted = set()
        if self._live_link() is None:
            return                        # the replay on reconnect sends every pending event
        self._cursor = self.outbox.cursor()   # from the oldest pending, in send order again
        self._pump()

    def _flush_removals(self) -> None:
        self._remove_scheduled = False
        if self._acked:
            batch, self._acked = self._acked, []
            self.outbox.remove_many(batch)

    def _on_suback(self, link: Link, bad: list[str], t: float) -> None:
        if link is not self._link:
            return
        self._sup.contact(t)
        if bad:
            self.last_error = f"subscription refused: {', '.join(bad)}"
            log.error("mqtt: %s (acks/commands will not arrive)", self.last_error)
        if not getattr(link, "online_sent", True):
            link.online_sent = True
            link.publish(self.topics.status, "online", retain=True, kind="status")

    def _on_message(self, link: Link, topic: str, payload: bytes, t: float) -> None:
        if link is not self._link:
            return
        self._sup.contact(t)
        self._evaluate()
        if topic == self.topics.ack:
            self._handle_ack(payload)
        elif topic == self.topics.cmd:
            self._handle_cmd(payload)
        elif topic == self.cfg.get("hass_prefix", "homeassistant") + "/status":
            if payload.strip() == b"online":
                self._announce()
                if self._state_payload is not None:
                    link.publish(self.topics.state, self._state_payload, retain=True,
                                 kind="state")

    # ------------------------------------------------------------------ sending
    def _pump(self) -> None:
        link = self._live_link()
        if link is None:
            return
        cur = self._cursor
        if cur is None:
            return
        room = WINDOW - self._inflight_events
        if room <= 0:
            return
        pace = self._pace
        batch = cur.take(room, pace.allowance(time.monotonic()))
        pace.spend(cur.slow_taken)
        if cur.slow_held and self._pace_handle is None:
            self._pace_handle = self.loop.call_later(pace.wait_s(), self._pace_wake)
        for seq, payload in batch:
            if not link.publish(self.topics.event, payload, kind="event", seq=seq):
                # paho refused it: start again from the oldest pending event at the next
                # PUBACK (duplicates are allowed; a lost event is not)
                self._cursor = self.outbox.cursor()
                break
            self._inflight_events += 1
            self.counters["events_published"] += 1

    def _pace_wake(self) -> None:
        """The non-alarm lane may send again (``nonalarm_rate``)."""
        self._pace_handle = None
        self._pump()

    def _announce(self) -> None:
        link = self._live_link()
        if link is None or not self.cfg.get("hass_discovery") or self._discovery is None:
            return
        areas, zones = self._discovery
        for topic, payload in discovery_messages(self.cfg.get("hass_prefix", "homeassistant"),
                                                 self.topics, areas, zones):
            link.publish(topic, payload, retain=True, kind="discovery")

    # ------------------------------------------------------------------ inbound
    def _handle_ack(self, payload: bytes) -> None:
        """Acks carry authority (they stop a fallback siren): verified like a signed
        command, off the loop (the sender's counter is fsynced)."""
        if self._cmd_pool is None or self.verifier is None:
            return
        fut = self.loop.run_in_executor(self._cmd_pool, self.verifier.verify_ack, payload)
        fut.add_done_callback(lambda f: self._ack_verified(f, payload))

    def _ack_verified(self, fut: asyncio.Future, payload: bytes) -> None:
        if fut.cancelled():
            return
        err = fut.exception()
        if err is None:
            self.counters["acks_received"] += 1
            self.last_platform_ack = time.time()
            self._call(self.on_ack, fut.result())
            return
        reason, detail = _reason(err)
        self.counters["acks_refused"] += 1
        incident = 0
        try:
            msg = parse_json(payload)
            if isinstance(msg, dict) and isinstance(msg.get("incident"), int) \
                    and not isinstance(msg.get("incident"), bool):
                incident = max(0, min(msg["incident"], 2**31))
        except AuthError:
            pass
        log.warning("ack refused: %s", reason)                      # never the payload
        try:
            self.on_ack_refused(reason, detail, incident)
        except Exception:  # noqa: BLE001
            log.exception("ack refusal callback failed")

    def _handle_cmd(self, payload: bytes) -> None:
        if self._cmd_pool is None or self.verifier is None:
            return
        fut = self.loop.run_in_executor(self._cmd_pool, self.verifier.verify, payload)
        fut.add_done_callback(lambda f: self._cmd_verified(f, payload))

    def _cmd_verified(self, fut: asyncio.Future, payload: bytes) -> None:
        if fut.cancelled():
            return
        err = fut.exception()
        if err is None:
            self.counters["cmds_accepted"] += 1
            self._call(self.on_cmd, fut.result())
            return
        err_reason, detail = _reason(err)
        self.counters["cmds_refused"] += 1
        cmd, nonce = "", ""
        try:
            msg = parse_json(payload)
            if isinstance(msg, dict):
                cmd = msg.get("cmd") if isinstance(msg.get("cmd"), str) else ""
                nonce = msg.get("nonce") if isinstance(msg.get("nonce"), str) else ""
        except AuthError:
            pass
        log.warning("command %r refused: %s", cmd[:32], err_reason)   # never the payload
        self.publish_cmd_result({"cmd": cmd[:64], "nonce": nonce[:128], "ok": False,
                                 "reason": err_reason, "detail": detail})

    def _call(self, fn, arg) -> None:
        try:
            fn(arg)
        except Exception:  # noqa: BLE001 - a daemon bug must not stop the relay
            log.exception("relay callback %s failed", getattr(fn, "__name__", fn))

    # ------------------------------------------------------------------ supervision
    def _schedule_tick(self) -> None:
        if not self._stopping:
            self._tick_handle = self.loop.call_later(self._sup.tick_s(), self._tick)

    def _outbox_woke(self) -> None:
        """(any thread) The outbox has the next step of a move ready: maintain() now."""
        try:
            self.loop.call_soon_threadsafe(self._maintain_now)
        except RuntimeError:
            pass                           # the loop is closed: stopping

    def _maintain_now(self) -> None:
        self.outbox.maintain()
        self._pump()

    def _tick(self) -> None:
        self._tick_handle = None
        now = time.monotonic()
        if hasattr(self.outbox, "maintain"):
            self.outbox.maintain()    # a troubled outbox goes back to disk by itself
            self._pump()
        link = self._live_link()
        if link is not None:
            if self._sup.probe_due(now, bool(link.inflight)):
                self.counters["probes"] += 1
                link.publish(self.topics.heartbeat,
                             _dumps({"ts": _iso(), "last_seq": self.outbox.next_seq - 1,
                                     "depth": self.outbox.depth()}), kind="probe")
            hung_after = max(3 * self.heartbeat_s, float(self.keepalive_s))
            if link.inflight and self._sup.silent_s(now) >= hung_after:
                self.last_error = f"no broker contact for {hung_after:g} s: reconnecting"
                log.warning("mqtt: %s", self.last_error)
                link.close(False)
        self._evaluate()
        self._schedule_tick()

    def _evaluate(self) -> None:
        link = self._live_link()
        outstanding = bool(link is not None and link.inflight)
        change = self._sup.evaluate(time.monotonic(), outstanding)
        if change is not None:
            log.warning("mqtt: uplink %s", "up" if change else "DOWN")
            self._call(self.on_uplink, change)
