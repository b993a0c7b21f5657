"""The monitoring platform, played on a PC: watches every controller under a topic prefix, prints
each event the way a guard reads it, deduplicates by ``id``, spots seq gaps, acknowledges alarms
and sends commands (with a code or an HMAC signature).

    p = Platform("127.0.0.1", broker.port)       # connects and subscribes; auto_ack on
    ev = p.wait_for(lambda e: e["cid"] == "1120", timeout=5)
    p.send_cmd("ctl-1", "arm_away", area="ground", code="1234")
    p.close()

    guardroom emulate platform --port 1883        # the same, from a shell (main(argv))

Thread-safe: paho's network thread records, tests and the demo wait on a condition.
Receive times are kept per event id (``time.monotonic_ns()`` and wall clock) for latency figures.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
import uuid
from typing import Callable, Optional, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from guardroom.i18n import env_gettext as _

try:  # inside the package: the command signing helper
    from guardroom.cmdauth import next_ts as _next_ts
    from guardroom.cmdauth import sign as _sign
except ImportError:  # pragma: no cover
    _sign = None
try:  # the controller's definition of alarm-class (they travel ahead of a backlog)
    from guardroom.outbox import alarm_class as _alarm_class
except ImportError:  # pragma: no cover
    def _alarm_class(ev: dict) -> bool:
        cid = str(ev.get("cid", ""))
        return ev.get("kind") in ("alarm", "verified", "fallback") or (
            len(cid) == 4 and cid[0] == "1" and cid[1] == "1")

    def _next_ts() -> int:
        return int(time.time() * 1000)

# Contact ID event code ranges -> the word a guard reads first
_SEVERITY = [
    ((100, 199), "ALARM"), ((200, 299), "SUPERVISORY"), ((300, 399), "TROUBLE"),
    ((400, 499), "OPEN/CLOSE"), ((500, 599), "BYPASS"), ((600, 699), "TEST"),
]
_HOLDUP = {120, 121, 122, 123, 129}


def severity(cid: str) -> str:
    """The severity word of a Contact ID string like "1120" (qualifier 1/3 + code)."""
    if not isinstance(cid, str) or len(cid) != 4 or not cid.isdigit() or cid == "0000":
        return "INFO"
    q, code = int(cid[0]), int(cid[1:])
    word = "INFO"
    for (lo, hi), w in _SEVERITY:
        if lo <= code <= hi:
            word = w
            break
    if code in _HOLDUP and q == 1:
        word = "HOLD-UP"
    if q == 3:
        word = "RESTORE"
    return word


def format_event(site: str, controller: str, ev: dict) -> str:
    """One line for a guard: time, where, severity, text, zone, area, incident, flags, cid."""
    ts = str(ev.get("ts", ""))
    when = ts[11:23] if len(ts) >= 23 else ts
    flags = [f for f in ("verified", "silent", "drill") if ev.get(f)]
    parts = [f"{when:12}", f"{site}/{controller}", f"{severity(ev.get('cid', '')):11}",
             str(ev.get("text", ""))]
    if ev.get("zone"):
        parts.append(f"zone={ev['zone']}")
    if ev.get("area"):
        parts.append(f"area={ev['area']}")
    if ev.get("incident"):
        parts.append(f"incident={ev['incident']}")
    if flags:
        parts.append(" ".join(flags))
    parts.append(f"cid={ev.get('cid', '')}")
    parts.append(f"#{ev.get('seq', '?')}")
    return "  ".join(parts)


def _is_alarm(ev: dict) -> bool:
    cid = str(ev.get("cid", ""))
    return (ev.get("kind") == "alarm" or (len(cid) == 4 and cid[0] == "1" and cid[1] == "1")) \
        and bool(ev.get("incident"))


class Platform:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, prefix: str = "guardroom",
                 auto_ack: bool = True, ack_delay_s: float = 0.0,
                 hmac_key: Optional[bytes] = None, out: Optional[TextIO] = sys.stdout, *,
                 username: str = "", password: str = "", tls_ca: str = "",
                 connect: bool = True, quiet: bool = False):
        self.host, self.port, self.prefix = host, port, prefix
        self.auto_ack, self.ack_delay_s = auto_ack, ack_delay_s
        self.hmac_key = hmac_key
        self.out = None if quiet else out
        self.events: list[dict] = []                 # unique events, in arrival order
        self.rx: dict[str, tuple[int, float]] = {}   # id -> (monotonic_ns, wall)
        self.duplicates = 0
        self.gaps: list[tuple[str, int, int]] = []   # (controller, expected seq, got seq)
        self.out_of_order: list[tuple[str, int, int]] = []
        self.status: dict[str, str] = {}             # "site/controller" -> online/offline
        self.states: dict[str, dict] = {}
        self.results: list[dict] = []                # cmd/result messages
        self.heartbeats: dict[str, dict] = {}
        self.acks_sent: list[dict] = []
        self.sites: dict[str, str] = {}              # controller -> site
        self._last_seq: dict[str, int] = {}
        self._seen: dict[str, set] = {}              # controller -> seqs above its floor
        self._floor: dict[str, int] = {}             # every seq up to this one is accounted for
        self._lane_top: dict[str, list] = {}         # controller -> [alarm-class, other] top
        self._cond = threading.Condition()
        self._timers: list[threading.Timer] = []
        self.connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2,
                        client_id=f"platform-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        if username:
            c.username_pw_set(username, password)
        if tls_ca:
            c.tls_set(ca_certs=tls_ca)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = lambda *a: self.connected.clear()
        c.reconnect_delay_set(0.2, 2)
        self.client = c
        if connect:
            self.connect()

    # ------------------------------------------------------------------ connection
    def connect(self, timeout: float = 10.0) -> None:
        # A persistent session (resumed on reconnect, kept 10 min by the broker): like a real
        # platform, it gets the QoS 1 events published while it was reconnecting.
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                  properties=props)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError(f"platform: no connection to {self.host}:{self.port}")

    def close(self) -> None:
        for t in self._timers:
            t.cancel()
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0          # leaving for good: drop the session
        self.client.disconnect(properties=props)
        self.client.loop_stop()

    def __enter__(self) -> "Platform":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            self._print(f"platform: broker refused: {reason}")
            return
        p = self.prefix
        client.subscribe([(f"{p}/+/+/{leaf}", 1) for leaf in
                          ("status", "state", "event", "heartbeat", "cmd/result")])

    def _on_subscribe(self, client, userdata, mid, reasons, properties):
        # The subscription is live before anyone waits on `connected`.
        self.connected.set()

    # ------------------------------------------------------------------ receiving
    def _on_message(self, client, userdata, msg):
        t_ns, wall = time.monotonic_ns(), time.time()
        parts = msg.topic.split("/")
        n = len(self.prefix.split("/"))
        if len(parts) < n + 3:
            return
        site, ctl, leaf = parts[n], parts[n + 1], "/".join(parts[n + 2:])
        key = f"{site}/{ctl}"
        payload = bytes(msg.payload)
        with self._cond:
            self.sites[ctl] = site
            if leaf == "status":
                self.status[key] = payload.decode(errors="replace")
                self._print(f"{'':12}  {key}  {'STATUS':11}  {self.status[key]}")
            elif leaf == "state":
                try:
                    self.states[key] = json.loads(payload)
                except ValueError:
                    pass
            elif leaf == "heartbeat":
                try:
                    self.heartbeats[key] = hb = json.loads(payload)
                except ValueError:
                    pass
                else:
                    if hb.get("depth") == 0 and isinstance(hb.get("last_seq"), int) \
                            and ctl in self._floor:
                        self._account(site, ctl, hb["last_seq"] + 1)
            elif leaf == "cmd/result":
                try:
                    res = json.loads(payload)
                except ValueError:
                    res = {"raw": payload.decode(errors="replace")}
                res["_controller"] = ctl
                self.results.append(res)
                self._print(f"{'':12}  {key}  {'CMD RESULT':11}  {res.get('cmd')} "
                            f"{'ok' if res.get('ok') else 'refused: ' + str(res.get('reason'))}")
            elif leaf == "event":
                self._event(site, ctl, payload, t_ns, wall)
            self._cond.notify_all()

    def _event(self, site: str, ctl: str, payload: bytes, t_ns: int, wall: float) -> None:
        try:
            ev = json.loads(payload)
        except ValueError:
            self._print(f"platform: garbled event from {site}/{ctl} dropped")
            return
        eid = ev.get("id")
        if eid in self.rx:
            self.duplicates += 1
            return
        self.rx[eid] = (t_ns, wall)
        ev["_controller"], ev["_site"] = ctl, site
        self.events.append(ev)
        seq = ev.get("seq")
        if isinstance(seq, int):
            self._order(site, ctl, ev, seq)
        if self.out is not None:       # quiet: no formatting cost per event in a storm
            self._print(format_event(site, ctl, ev))
        if self.auto_ack and _is_alarm(ev):
            ack = {"incident": ev["incident"], "user": "platform-operator"}
            if self.ack_delay_s > 0:
                t = threading.Timer(self.ack_delay_s, self._send_ack, (site, ctl, ack))
                t.daemon = True
                self._timers.append(t)
                t.start()
            else:
                self._send_ack(site, ctl, ack)

    def _order(self, site: str, ctl: str, ev: dict, seq: int) -> None:
        """Seq bookkeeping. Alarm-class events overtake a backlog, so arrival order is seq
        order only within each class; a missing seq is lost once both classes have moved past
        it (or an idle heartbeat says everything up to last_seq was sent). A ``shed`` event
        accounts for the numbers it lists."""
        lane = 0 if _alarm_class(ev) else 1
        tops = self._lane_top.setdefault(ctl, [0, 0])
        if seq <= tops[lane]:
            self.out_of_order.append((ctl, tops[lane], seq))
        tops[lane] = max(tops[lane], seq)
        self._last_seq[ctl] = max(seq, self._last_seq.get(ctl, 0))
        seen = self._seen.setdefault(ctl, set())
        if ctl not in self._floor:
            self._floor[ctl] = seq - 1          # the first event seen sets the base
        seen.add(seq)
        shed = ev.get("shed")
        if isinstance(shed, dict):
            for r in shed.get("ranges", []):
                if isinstance(r, list) and len(r) == 2:
                    seen.update(range(max(r[0], self._floor[ctl] + 1), r[1] + 1))
        lo = min(tops) if all(tops) else 0
        self._account(site, ctl, lo)

    def _account(self, site: str, ctl: str, upto: int) -> None:
        """Move the floor: every seq below ``upto`` is received or lost (a gap)."""
        seen, floor = self._seen[ctl], self._floor[ctl]
        while True:
            if floor + 1 in seen:
                floor += 1
                seen.discard(floor)
            elif floor + 1 < upto:
                nxt = min([x for x in seen if x > floor] + [upto])
                self.gaps.append((ctl, floor + 1, nxt))
                self._print(f"{'':12}  {site}/{ctl}  {'GAP':11}  seq {floor + 1}..{nxt - 1} "
                            "missing")
                floor = nxt - 1
            else:
                break
        self._floor[ctl] = floor

    def _send_ack(self, site: str, ctl: str, ack: dict) -> None:
        # Acks carry authority (they stop a fallback siren): signed like a command.
        if self.hmac_key is not None and _sign is not None:
            ack = _sign(ack, self.hmac_key)
        self.client.publish(f"{self.prefix}/{site}/{ctl}/ack", json.dumps(ack), qos=1)
        with self._cond:
            self.acks_sent.append(dict(ack, _controller=ctl))
            self._cond.notify_all()

    def send_ack(self, controller: str, incident: int, user: str = "platform-operator", *,
                 site: str = "", signed: bool = True) -> dict:
        """Acknowledge an incident by hand (signed with ``hmac_key`` unless signed=False);
        returns the payload sent."""
        site = site or self.sites.get(controller, "")
        if not site:
            raise ValueError(f"site of controller {controller!r} unknown: pass site=")
        ack = {"incident": incident, "user": user}
        if signed:
            if self.hmac_key is None or _sign is None:
                raise ValueError("signed=True needs hmac_key")
            ack = _sign(ack, self.hmac_key)
        self.client.publish(f"{self.prefix}/{site}/{controller}/ack",
                            json.dumps(ack), qos=1)
        with self._cond:
            self.acks_sent.append(dict(ack, _controller=controller))
            self._cond.notify_all()
        return ack

    def _print(self, line: str) -> None:
        if self.out is not None:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (ValueError, OSError):
                pass

    # ------------------------------------------------------------------ waiting
    def wait_until(self, cond: Callable[[], object], timeout: float) -> object:
        """Wait (threadsafe) until ``cond()`` is truthy; returns its value or raises
        TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = cond()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"platform: condition not met in {timeout} s")
                self._cond.wait(left)

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float) -> dict:
        """The first received event (already here or coming) for which predicate is true.
        Each look only checks the events that came since the previous one: a waiter must not
        hold the lock for a scan of a 20k-event storm per message (the broker would queue
        what this subscriber is too slow to take, and latencies measured here would be its
        own)."""
        done = [0]

        def find():
            evs = self.events
            for i in range(done[0], len(evs)):
                if predicate(evs[i]):
                    return evs[i]
            done[0] = len(evs)
            return None
        return self.wait_until(find, timeout)  # type: ignore[return-value]

    def wait_count(self, n: int, timeout: float, controller: Optional[str] = None) -> list:
        def enough():
            evs = [e for e in self.events
                   if controller is None or e.get("_controller") == controller]
            return evs if len(evs) >= n else None
        return self.wait_until(enough, timeout)  # type: ignore[return-value]

    def wait_status(self, controller: str, value: str, timeout: float) -> None:
        self.wait_until(lambda: self.status.get(f"{self.sites.get(controller, '')}/"
                                                f"{controller}") == value, timeout)

    def wait_result(self, predicate: Callable[[dict], bool], timeout: float) -> dict:
        return self.wait_until(lambda: next((r for r in self.results if predicate(r)), None),
                               timeout)  # type: ignore[return-value]

    def events_of(self, controller: str) -> list[dict]:
        with self._cond:
            return [e for e in self.events if e.get("_controller") == controller]

    # ------------------------------------------------------------------ commands
    def send_cmd(self, controller: str, cmd: str, *, area: str = "", zone: str = "",
                 code: Optional[str] = None, signed: bool = False, site: str = "",
                 ts: Optional[int] = None, nonce: Optional[str] = None,
                 extra: Optional[dict] = None, raw: Optional[bytes] = None) -> dict:
        """Publish a command to a controller (with ``code=`` or ``signed=True``); returns the
        payload sent (its ``nonce`` matches the cmd/result). ``raw`` sends bytes as they are."""
        site = site or self.sites.get(controller, "")
        if not site:
            raise ValueError(f"site of controller {controller!r} unknown: pass site=")
        topic = f"{self.prefix}/{site}/{controller}/cmd"
        if raw is not None:
            self.client.publish(topic, raw, qos=1)
            return {}
        msg: dict = {"cmd": cmd, "ts": _next_ts() if ts is None else ts,
                     "nonce": nonce or secrets.token_hex(12)}
        if area:
            msg["area"] = area
        if zone:
            msg["zone"] = zone
        msg.update(extra or {})
        if signed:
            if self.hmac_key is None or _sign is None:
                raise ValueError("signed=True needs hmac_key")
            msg = _sign(msg, self.hmac_key)
        elif code is not None:
            msg["code"] = code
        self.client.publish(topic, json.dumps(msg), qos=1)
        return msg

    def latency_ms(self, ev_id: str, sent_mono_ns: int) -> float:
        """Receive time of an event minus a monotonic send time taken on this machine."""
        return (self.rx[ev_id][0] - sent_mono_ns) / 1e6


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom emulate platform",
                                 description=_("Play the monitoring platform: print events, "
                                             "acknowledge alarms."))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="guardroom")
    ap.add_argument("--no-ack", action="store_true", help=_("do not acknowledge alarms"))
    ap.add_argument("--ack-delay", type=float, default=0.0, metavar="S")
    ap.add_argument("--hmac-key-file", default="", help=_("file with the hex command key"))
    ap.add_argument("--username", default="")
    ap.add_argument("--password-file", default="")
    ap.add_argument("--ca-file", default="", help=_("CA of the broker (TLS)"))
    args = ap.parse_args(argv)
    key = None
    if args.hmac_key_file:
        with open(args.hmac_key_file) as fh:
            key = bytes.fromhex(fh.read().strip())
    password = ""
    if args.password_file:
        with open(args.password_file) as fh:
            password = fh.readline().rstrip("\r\n")
    try:
        p = Platform(args.host, args.port, args.prefix, auto_ack=not args.no_ack,
                     ack_delay_s=args.ack_delay, hmac_key=key, username=args.username,
                     password=password, tls_ca=args.ca_file)
    except TimeoutError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"platform: watching {args.prefix}/# on {args.host}:{args.port} (Ctrl-C ends)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        p.close()
        print(f"platform: {len(p.events)} events, {p.duplicates} duplicates, "
              f"{len(p.gaps)} gaps")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
