"""The DC-09 path: events from this path's own outbox to the ARC, one at a time, in order,
each leaving the outbox only on the receiver's ACK; NULL supervision when idle; failover from
the primary receiver to the backups; the path's up/down state for the daemon.

Per message: send, wait ``ack_timeout_s`` for the answer.

- ACK (with our sequence number; encrypted and decrypting with our key when we encrypt):
  delivered. The event leaves the outbox.
- NAK carrying the receiver's time that differs from ours by more than ``SKEW_S``: our time
  stamp was outside its window. The offset is learnt and the message is sent again at once
  with a corrected stamp (once per message).
- Any other NAK, no answer, a bad CRC, a closed connection: a failed attempt. After
  ``attempts`` failed attempts on one receiver the next one takes over (primary -> backup ->
  ...); after a whole round of receivers fails, the path is down (``on_state(False, why)``).
  Attempts go on with backoff ``retry_s`` doubling to ``retry_max_s``; nothing is dropped.
- DUH (not understood): the event is sent once more in its other format (SIA-DCS <-> ADM-CID)
  if it has one; a second DUH refuses it: it leaves this outbox and ``on_refused`` reports it
  (the platform still has it). Waiting forever would hold every later alarm behind it.

Idle for ``poll_s`` since the last contact: a NULL message. While on a backup, each poll first
tries the primary once and returns to it when it answers. The path is up again on the first
ACK (``on_state(True, ...)``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Callable, Optional

from ..waiting import Waiters, end_task
from .frame import Reply, build, parse_reply
from .payload import Numbering, encode, event_class
from .transport import WireError, wire_for

log = logging.getLogger("guardroom.dc09")

SKEW_S = 10.0          # a NAK stamped this far from our clock means our stamp was refused
ACK_WINDOW_S = 60.0    # an encrypted ACK stamped further than this from our clock is refused
LATENCY_KEEP = 512
BATCH = 16             # events read from the outbox at a time (a new alarm waits for < BATCH)


def _noop(*_a) -> None:
    pass


class Dc09Path:
    """Runs in the daemon's loop. ``offer(event)`` routes and stores an event; ``enqueue``
    stores one whatever its class (path troubles for the ARC)."""

    def __init__(self, cfg: dict, outbox, *, numbering: Optional[Numbering] = None,
                 on_state: Callable[[bool, str], None] = _noop,
                 on_delivered: Callable[[dict, str, float], None] = _noop,
                 on_refused: Callable[[dict, str], None] = _noop,
                 wall: Callable[[], float] = time.time):
        self.cfg = cfg
        self.outbox = outbox
        self.numbering = numbering or Numbering({})
        self.on_state, self.on_delivered, self.on_refused = on_state, on_delivered, on_refused
        self.wall = wall
        self.key = bytes.fromhex(cfg["key"]) if cfg.get("key") else None
        self.receivers = list(cfg["receivers"])
        self.wires = [wire_for(r) for r in self.receivers]
        self.classes = frozenset(cfg["classes"])
        self.active = 0
        self.up: Optional[bool] = None
        self.clock_offset_s = 0.0
        self.last_error = ""
        self.last_contact = time.monotonic()
        self.last_ack_wall: Optional[float] = None
        self.latencies: deque[float] = deque(maxlen=LATENCY_KEEP)   # enqueue -> ACK, ms
        self.failover_s: deque[float] = deque(maxlen=64)  # first failure -> ACK on another rcvr
        self.counters = {"sent": 0, "acked": 0, "nak": 0, "duh": 0, "timeouts": 0,
                         "attempts_failed": 0, "refused": 0, "polls": 0, "failovers": 0,
                         "clock_fixes": 0}
        self._batch: deque[dict] = deque()
        self._t_in: dict[int, float] = {}
        self._waiters = Waiters()
        self._fails = 0                    # consecutive failed attempts (any receiver)
        self._first_fail: Optional[float] = None
        self._failed_over = False
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    # ------------------------------------------------------------------ public API
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False
        self._maintained = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dc09")

    async def stop(self) -> None:
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        await end_task(self._task)
        self._task = None
        for w in self.wires:
            w.close()
        self._waiters.cancel_all()

    def routes(self, ev: dict) -> bool:
        return event_class(ev) in self.classes

    def offer(self, ev: dict) -> Optional[dict]:
        """Store the event for the ARC if its class is routed here; returns the stored copy."""
        return self.enqueue(ev) if self.routes(ev) else None

    def enqueue(self, ev: dict) -> Optional[dict]:
        msg = encode(ev, self.numbering, self.cfg["format"], self.cfg.get("sia_codes"))
        if msg is None:
            log.info("dc09: %s event %r has no code the ARC understands: not sent",
                     ev.get("kind"), ev.get("text", "")[:60])
            return None
        rec = {k: ev.get(k) for k in ("ts", "kind", "cid", "area", "zone", "incident", "text")}
        rec["ref"] = ev.get("id", "")
        if ev.get("path_no"):
            rec["path_no"] = ev["path_no"]
        rec["dc09"] = msg
        stored = self.outbox.append(rec)
        self._t_in[stored["seq"]] = time.monotonic()
        if self._wake is not None:
            self._wake.set()
        return stored

    def depth(self) -> int:
        return self.outbox.depth()

    async def wait_delivered(self, seq: int, timeout_s: float) -> None:
        """Wait until event ``seq`` of this path's outbox has left it (ACK or refusal)."""
        if not self.outbox.is_pending(seq):
            return
        await self._waiters.wait(seq, timeout_s)

    def status(self) -> dict:
        """For the console and the state topic. Never the key."""
        r = self.receivers[self.active]
        return {"up": self.up, "receiver": r["name"],
                "address": f"{r['host']}:{r['port']}/{r['protocol']}",
                "receivers": [x["name"] for x in self.receivers],
                "encrypted": self.key is not None, "outbox_depth": self.outbox.depth(),
                "last_ack": (time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                           time.gmtime(self.last_ack_wall))
                             if self.last_ack_wall else None),
                "last_contact_age_s": round(time.monotonic() - self.last_contact, 3),
                "clock_offset_s": round(self.clock_offset_s, 3),
                "last_error": self.last_error, **self.counters}

    # ------------------------------------------------------------------ the loop
    def _head(self) -> Optional[dict]:
        while self._batch and not self.outbox.is_pending(self._batch[0]["seq"]):
            self._batch.popleft()
        if not self._batch:
            cursor = getattr(self.outbox, "cursor", None)
            if cursor is None:               # an outbox without send order: seq order
                self._batch.extend(self.outbox.pending())
            else:                            # the outbox's send order (alarms first)
                self._batch.extend(json.loads(body) for _, body in cursor().take(BATCH))
        return self._batch[0] if self._batch else None

    def _maintain(self) -> None:
        """Let a troubled outbox retry its disk now and then (if it can)."""
        now = time.monotonic()
        fn = getattr(self.outbox, "maintain", None)
        if fn is not None and now - self._maintained >= 1.0:
            self._maintained = now
            fn()

    async def _run(self) -> None:
        poll = float(self.cfg["poll_s"])
        while not self._stopping:
            try:
                self._maintain()
                head = self._head()
                if head is not None:
                    await self._deliver(head)
                    continue
                wait = self.last_contact + poll - time.monotonic()
                if self.up is None or wait <= 0:
                    await self._poll()
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - never let one bad event stop the path
                log.exception("dc09 loop error")
                await asyncio.sleep(1.0)

    async def _deliver(self, ev: dict) -> None:
        seq = ev["seq"]
        msg = ev["dc09"]
        dseq = (seq - 1) % 9999 + 1
        reply = await self._send(msg["id"], msg["data"], dseq, abandon_if_busy=False)
        if reply is not None and reply.kind == "DUH" and msg.get("alt"):
            alt = msg["alt"]
            log.warning("dc09: receiver did not understand %s %s; sending it as %s",
                        msg["id"], msg["data"], alt["id"])
            reply = await self._send(alt["id"], alt["data"], dseq, abandon_if_busy=False)
        if reply is None:
            return                      # stopping
        rcv = self.receivers[self.active]["name"]
        self.outbox.remove(seq)
        t_in = self._t_in.pop(seq, None)
        ms = (time.monotonic() - t_in) * 1000.0 if t_in is not None else 0.0
        if reply.kind == "DUH":
            self.counters["refused"] += 1
            why = f"receiver {rcv} did not understand {msg['id']} {msg['data']} (DUH)"
            log.error("dc09: event %s refused: %s", ev.get("ref") or seq, why)
            self._call(self.on_refused, ev, why)
        else:
            if t_in is not None:
                self.latencies.append(ms)
            self._call(self.on_delivered, ev, rcv, ms)
        self._waiters.settle(seq)

    async def _poll(self) -> None:
        self.counters["polls"] += 1
        if self.active != 0 and len(self.receivers) > 1:
            reply = await self._attempt(0, "NULL", "", 0)
            if reply is not None and reply.kind in ("ACK", "DUH"):
                log.warning("dc09: primary receiver %s answers again: back on it",
                            self.receivers[0]["name"])
                self.active = 0
                self._contact(reply)
                return
        await self._send("NULL", "", 0, abandon_if_busy=True)

    # ------------------------------------------------------------------ attempts
    async def _send(self, msg_id: str, data: str, seq: int, *,
                    abandon_if_busy: bool) -> Optional[Reply]:
        """Send until ACK or DUH (returned). None when stopping, or for a NULL when an event
        is waiting (the event is a better probe)."""
        fixed_clock = False
        n = len(self.receivers)
        attempts = int(self.cfg["attempts"])
        while not self._stopping:
            reply = await self._attempt(self.active, msg_id, data, seq)
            if reply is not None and reply.kind in ("ACK", "DUH"):
                self._contact(reply)
                return reply
            if (reply is not None and reply.kind == "NAK" and reply.wall is not None
                    and not fixed_clock):
                skew = reply.wall - (self.wall() + self.clock_offset_s)
                if abs(skew) > SKEW_S:
                    fixed_clock = True
                    self.clock_offset_s += skew
                    self.counters["clock_fixes"] += 1
                    log.warning("dc09: receiver refused our time stamp; its clock is %+.0f s "
                                "from ours: using its time", skew)
                    continue
            self._fails += 1
            if self._first_fail is None:
                self._first_fail = time.monotonic()
            if self._fails % attempts == 0:
                if self._fails >= attempts * n:
                    self._set_up(False, self.last_error)
                if n > 1:
                    old = self.receivers[self.active]["name"]
                    self.active = (self.active + 1) % n
                    self._failed_over = True
                    self.counters["failovers"] += 1
                    log.warning("dc09: %d failed attempts on %s: failing over to %s",
                                attempts, old, self.receivers[self.active]["name"])
            delay = min(float(self.cfg["retry_max_s"]),
                        float(self.cfg["retry_s"]) * 2 ** min(20, (self._fails - 1) % attempts))
            if self._fails % attempts == 0 and n > 1 and self._fails < attempts * n:
                delay = 0.0                # a fresh receiver gets its first try at once
            if abandon_if_busy:
                if self._head() is not None:
                    return None
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                if self._head() is not None:
                    return None
            elif delay:
                await asyncio.sleep(delay)
        return None

    async def _attempt(self, idx: int, msg_id: str, data: str, seq: int) -> Optional[Reply]:
        r = self.receivers[idx]
        c = self.cfg
        frame = build(msg_id, seq, c["account"], data, self.wall() + self.clock_offset_s,
                      receiver=c["receiver"], line=c["line"], key=self.key)
        self.counters["sent"] += 1
        try:
            raw = await self.wires[idx].exchange(frame, float(c["ack_timeout_s"]))
        except WireError as e:
            self.counters["timeouts"] += 1
            self.counters["attempts_failed"] += 1
            self.last_error = f"{r['name']}: {e}"
            log.info("dc09: %s", self.last_error)
            return None
        reply = parse_reply(raw, self.key)
        if reply.kind == "ACK" and reply.seq is not None and reply.seq != seq:
            reply = Reply("", reply.seq, reply.encrypted, problem=f"ACK for sequence "
                                                                  f"{reply.seq}, not {seq}")
        if reply.kind == "ACK" and reply.encrypted and reply.wall is not None and \
                abs(reply.wall - (self.wall() + self.clock_offset_s)) > ACK_WINDOW_S:
            reply = Reply("", reply.seq, True, problem="encrypted ACK with a stale time stamp")
        if reply.kind == "ACK":
            return reply
        self.counters["attempts_failed"] += reply.kind != "DUH"
        if reply.kind == "NAK":
            self.counters["nak"] += 1
            self.last_error = (f"{r['name']}: NAK (the receiver refused the message: account, "
                               f"key or time stamp)")
        elif reply.kind == "DUH":
            self.counters["duh"] += 1
        else:
            self.last_error = f"{r['name']}: {reply.problem or 'unusable reply'}"
        if reply.kind != "DUH":
            log.info("dc09: %s", self.last_error)
        return reply

    def _contact(self, reply: Reply) -> None:
        self.last_contact = time.monotonic()
        if reply.kind == "ACK":
            self.counters["acked"] += 1
            self.last_ack_wall = time.time()
        if self._failed_over and self._first_fail is not None:
            self.failover_s.append(time.monotonic() - self._first_fail)
        self._fails, self._first_fail, self._failed_over = 0, None, False
        self._set_up(True, f"receiver {self.receivers[self.active]['name']} answers")

    def _set_up(self, up: bool, why: str) -> None:
        if up == self.up:
            return
        self.up = up
        if up:
            log.warning("dc09: path up (%s)", why)
        else:
            log.error("dc09: path DOWN: %s", why)
        self._call(self.on_state, up, why)

    @staticmethod
    def _call(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a callback bug must not stop the path
            log.exception("dc09 callback failed")
