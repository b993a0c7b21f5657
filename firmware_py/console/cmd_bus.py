"""Field buses and the uplink: modbus scan/stats, osdp status, mqtt status/test."""
from __future__ import annotations

import asyncio
import re

from ..errors import GuardroomError
from .commands import LEVEL_INSTALLER, CommandError, UsageError, command
from .render import kv, table
from .configedit import suggest
from .util import flat, short_time

MQTT_TEST_TIMEOUT_S = 15.0


def _rows_of(d) -> list[tuple[str, dict]]:
    """A per-device / per-reader status, whether given as a dict of dicts or a list."""
    if isinstance(d, dict):
        for key in ("devices", "readers", "buses"):
            if isinstance(d.get(key), (dict, list)):
                return _rows_of(d[key])
        return [(str(k), v) for k, v in d.items() if isinstance(v, dict)]
    if isinstance(d, list):
        return [(str(v.get("name", i)), v) for i, v in enumerate(d) if isinstance(v, dict)]
    return []


def _device_table(ctx, d) -> None:
    rows = _rows_of(d)
    if not rows:
        ctx.out(*kv(flat(d if isinstance(d, dict) else {})))
        return
    keys = []
    for _, v in rows:
        for k, x in v.items():
            if k not in keys and k != "name" and not isinstance(x, (dict, list)):
                keys.append(k)
    keys = keys[:6]
    ctx.out(*table(["NAME"] + [k.upper() for k in keys],
                   [[n] + [v.get(k, "") for k in keys] for n, v in rows]))


def _pick(rows: list[dict], columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (key, header) columns some row actually has."""
    return [(k, h) for k, h in columns if any(k in r for r in rows)]


def _modbus_stats(ctx, d: dict) -> None:
    buses = d.get("buses")
    if not isinstance(buses, list):
        _device_table(ctx, d)
        return
    for bus in buses:
        for dv in bus.get("devices") or []:
            if "polls" in dv:
                dv["err_rate"] = _rate(int(dv.get("failed_polls") or 0), int(dv["polls"] or 0))
    cols = [("address", "ADDR"), ("online", "ONLINE"), ("polls", "POLLS"),
            ("failed_polls", "FAILED"), ("err_rate", "ERR"), ("timeouts", "TIMEOUTS"), ("crc_errors", "CRC"),
            ("exceptions", "EXC"), ("last_error", "LAST ERROR")]
    for bus in buses:
        ctx.out(f"bus {bus.get('name')}: {bus.get('transport', '')} {bus.get('where', '')}, "
                f"{'connected' if bus.get('connected') else 'NOT connected'}")
        devs = bus.get("devices") or []
        if not devs:
            ctx.out("  (no devices)")
            continue
        use = _pick(devs, cols)
        ctx.out(*table(["DEVICE"] + [h for _, h in use],
                       [[dv.get("name", "?")] + [dv.get(k, "") for k, _ in use]
                        for dv in devs]))


def _osdp_status(ctx, d: dict) -> None:
    readers = d.get("readers")
    if not isinstance(readers, dict):
        _device_table(ctx, d)
        return
    rows = []
    for name, r in readers.items():
        door = r.get("door") or {}
        door_s = "-" if not door else ("FORCED" if door.get("forced") else "HELD" if
                                       door.get("held") else "open" if door.get("open")
                                       else "closed")
        rows.append((name, r.get("port", ""), r.get("address", ""),
                     "yes" if r.get("online") else "NO",
                     "on" if r.get("secure_channel") else "off", r.get("mode", ""),
                     "TAMPER" if r.get("tamper") else "ok", door_s,
                     r.get("last_event") or "-"))
    ctx.out(*table(["READER", "PORT", "ADDR", "ONLINE", "SC", "MODE", "TAMPER", "DOOR",
                    "LAST EVENT"], rows))
    for port, p in (d.get("ports") or {}).items():
        ser = p.get("serial") or {}
        ctx.out(f"port {port}: " + ", ".join(f"{k} {v}" for k, v in flat(ser)[:6]))


def _rate(bad: int, total: int) -> str:
    if not total:
        return "-"
    pct = 100.0 * bad / total
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


def line_quality(ctx, drivers: dict) -> None:
    """Per device: how well its bus carries it (error rates, retries, secure channel)."""
    from .health import ago, span

    mb = drivers.get("modbus")
    if isinstance(mb, dict) and isinstance(mb.get("buses"), list):
        rows = []
        for bus in mb["buses"]:
            for d in bus.get("devices") or []:
                polls = int(d.get("polls") or 0)
                age = d.get("last_good_age_s")
                rows.append((f"{d.get('name')} ({bus.get('name')}/{d.get('address')})",
                             "online" if d.get("online") else "OFFLINE" if d.get("online")
                             is False else "?", polls, _rate(int(d.get("failed_polls") or 0),
                                                             polls),
                             d.get("timeouts", 0), d.get("crc_errors", 0),
                             d.get("exceptions", 0),
                             span(age) + " ago" if age is not None else "never",
                             d.get("last_error") or "-"))
        ctx.out("Modbus (per device since start):")
        ctx.out(*table(["DEVICE", "STATE", "POLLS", "ERR", "TIMEOUT", "CRC", "EXC",
                        "LAST GOOD", "LAST ERROR"], rows))
        for bus in mb["buses"]:
            for d in bus.get("devices") or []:
                if d.get("readings"):
                    ctx.out(f"  {d.get('name')} readings (raw register values, as the "
                            f"profile maps them): " + ", ".join(
                                f"{k} {v}" for k, v in d["readings"].items()))
        unattributed = [b for b in mb["buses"] if b.get("crc_unattributed")]
        for b in unattributed:
            ctx.out(f"  bus {b['name']}: {b['crc_unattributed']} CRC errors not attributable "
                    "to a device (noise on the line?)")
    osdp = drivers.get("osdp")
    if isinstance(osdp, dict) and isinstance(osdp.get("readers"), dict):
        rows = []
        for name, r in osdp["readers"].items():
            c = r.get("counts") or {}
            cmds = int(c.get("commands") or 0)
            rows.append((f"{name} ({r.get('port')}/{r.get('address')})",
                         ("online " + ago(r.get("since_age_s"))).strip() if r.get("online")
                         else "OFFLINE", "on" if r.get("secure_channel") else "OFF",
                         c.get("went_offline", 0), r.get("reconnects", 0),
                         f"{c.get('commands_failed', 0)}/{cmds}", c.get("card_errors", 0)))
        ctx.out("OSDP (per reader since start):")
        ctx.out(*table(["READER", "LINK", "SC", "DROPS", "RECONNECTS", "CMD FAIL",
                        "CARD ERR"], rows))
        for port, p in (osdp.get("ports") or {}).items():
            ser = p.get("serial") or {}
            ctx.out(f"  port {port}: {ser.get('rx_bytes', 0)} bytes in, "
                    f"{ser.get('tx_bytes', 0)} out, {ser.get('io_errors', 0)} I/O errors, "
                    f"{p.get('refresh_errors', 0)} poll errors"
                    + (f"; last: {ser['last_error']}" if ser.get("last_error") else ""))
    if not (isinstance(mb, dict) or isinstance(osdp, dict)):
        ctx.out("no field bus (Modbus, OSDP) in this controller")


@command("health", LEVEL_INSTALLER, "health", "line quality of every field device",
         """
For each Modbus device: its state, polls, the share that failed (ERR), timeouts, CRC errors,
exception replies, when it last answered and its last error, and the last raw value of each
register point its profile maps (a fence energizer's voltage, a supply voltage). For each OSDP reader: the link
(online since when), the secure channel, how often it dropped off the bus, reconnects, failed
commands and unreadable cards; per OSDP port the bytes and I/O errors. A few per cent of errors
on RS-485 point at termination, biasing or a long stub; a steady rise at one device at its
wiring or supply.
""")
async def health(ctx, args):
    if args:
        raise UsageError()
    line_quality(ctx, ctx.host.driver_status())


@command("modbus", LEVEL_INSTALLER, "modbus scan BUS [FROM-TO] | modbus stats",
         "find Modbus devices on a bus; per-device counters",
         """
'modbus scan BUS' asks every address (1-247, or FROM-TO such as 1-20) on the named bus and
lists those that answer: use it to find a module whose address switches are unknown. It takes
a while on RS-485 (a dead address costs one timeout); Ctrl-C stops it. 'modbus stats' shows
each device's requests, errors, timeouts, CRC errors and whether it is online.
""")
async def modbus(ctx, args):
    if not args:
        raise UsageError()
    if args[0] == "stats" and len(args) == 1:
        d = ctx.host.driver_status().get("modbus")
        if d is None:
            raise CommandError("no Modbus driver configured")
        _modbus_stats(ctx, d)
        return
    if args[0] != "scan" or len(args) not in (2, 3):
        raise UsageError()
    first, last = 1, 247
    if len(args) == 3:
        m = re.fullmatch(r"(\d{1,3})-(\d{1,3})", args[2])
        if not m or not 1 <= int(m[1]) <= int(m[2]) <= 247:
            raise UsageError("FROM-TO is a range within 1-247, e.g. 1-20")
        first, last = int(m[1]), int(m[2])
    d = ctx.host.driver_status().get("modbus")
    if d is None:
        raise CommandError("no Modbus driver configured")
    buses = [str(b.get("name")) for b in d.get("buses") or []]
    if args[1] not in buses:
        raise CommandError(f"no Modbus bus named {args[1]!r}{suggest(args[1], buses)} "
                           f"(buses: {', '.join(buses) or 'none'})")
    ctx.out(f"Scanning bus {args[1]} addresses {first}-{last} (Ctrl-C stops)...")
    found: list[int] = []
    try:
        # One address at a time: each answer shows at once, and Ctrl-C keeps what was found.
        for address in range(first, last + 1):
            try:
                hit = await ctx.host.modbus_scan(args[1], address, address)
            except KeyError:
                raise CommandError(f"no Modbus bus named {args[1]!r}") from None
            except (GuardroomError, ValueError, OSError) as e:
                raise CommandError(f"scan failed at address {address}: {e}"
                                   f"{_found(found)}") from None
            if hit:
                found += hit
                ctx.out(f"  address {address} answers")
    except asyncio.CancelledError:
        ctx.out(f"scan stopped{_found(found) or ': nothing answered so far'}")
        raise
    ctx.out(f"answering: {', '.join(map(str, found))}" if found else "no device answered")


def _found(found: list[int]) -> str:
    return f"; answering so far: {', '.join(map(str, found))}" if found else ""


@command("osdp", LEVEL_INSTALLER, "osdp status", "OSDP readers: online, secure channel, "
         "tamper, counters")
async def osdp(ctx, args):
    if args != ["status"]:
        raise UsageError()
    d = ctx.host.driver_status().get("osdp")
    if d is None:
        raise CommandError("no OSDP driver configured")
    _osdp_status(ctx, d)


def _yes(v) -> str:
    return "yes" if v else "no"


def mqtt_lines(st: dict) -> list[tuple[str, str]]:
    """The uplink in words: where, whether connected and since when, the outbox, the last
    contact and error (no secret: the relay's status holds none)."""
    if not st:
        return [("uplink", "no MQTT relay in this controller")]
    conn = st.get("connected")
    since = st.get("connected_since")
    proto = st.get("protocol")
    state = (f"connected{' (MQTT ' + str(proto) + ')' if proto else ''}"
             f"{' since ' + short_time(since) + ' UTC' if since else ''}" if conn
             else "NOT connected")
    depth = st.get("outbox_depth", 0)
    outbox = f"{depth} event(s) waiting" if depth else "empty (everything acknowledged)"
    if st.get("outbox_healthy") is False:
        outbox += f"; PROBLEM: {st.get('outbox_problem') or 'unhealthy'}"
    rows = [
        ("broker", f"{st.get('broker', '?')}{' with TLS' if st.get('tls') else ' (no TLS)'}"),
        ("state", state),
        ("platform path", "up" if st.get("uplink") else "DOWN (no answer within the "
                                                        "heartbeat time)"),
        ("client id", st.get("client_id") or "-"),
        ("user", st.get("username") or "(anonymous)"),
        ("topics", f"{st.get('topic_root', '?')}/..."),
        ("outbox", outbox),
        ("next seq", str(st.get("next_seq", "-"))),
        ("events", f"{st.get('events_published', 0)} published, {st.get('events_acked', 0)} "
                   f"acknowledged, {st.get('events_refused', 0)} refused, "
                   f"{st.get('in_flight', 0)} in flight"),
        ("last broker ack", (short_time(st["last_puback"]) + " UTC")
         if st.get("last_puback") else "never"),
        ("last platform ack", (short_time(st["last_platform_ack"]) + " UTC")
         if st.get("last_platform_ack") else "never"),
        ("reconnects", f"{st.get('reconnects', 0)} ({st.get('connect_attempts', 0)} "
                       "connection attempts)"),
        ("commands", f"{st.get('cmds_accepted', 0)} accepted, {st.get('cmds_refused', 0)} "
                     "refused"),
        ("last error", st.get("last_error") or "none"),
    ]
    return rows


@command("mqtt", LEVEL_INSTALLER, "mqtt status | mqtt test",
         "uplink state; send a test event and time its acknowledgement",
         """
'mqtt status': broker, connected or not, outbox depth (events not yet acknowledged), last
error. 'mqtt test' publishes a manual test event (601) through the outbox and waits for the
broker's acknowledgement, showing the sequence number and the round trip.
""")
async def mqtt(ctx, args):
    if args == ["status"]:
        ctx.out(*kv(mqtt_lines(ctx.host.relay_status())))
        return
    if args != ["test"]:
        raise UsageError()
    ctx.out("Sending a test event (601)...")
    try:
        async with asyncio.timeout(MQTT_TEST_TIMEOUT_S):
            r = await ctx.host.mqtt_test()
    except TimeoutError:
        raise CommandError(f"no acknowledgement within {MQTT_TEST_TIMEOUT_S:.0f} s; the event "
                           "stays in the outbox and goes when the broker is back") from None
    except GuardroomError as e:
        raise CommandError(f"test failed: {e}") from None
    rtt = r.get("rtt_ms")
    if rtt is None:
        ctx.out(f"test event seq {r.get('seq')} queued; not acknowledged yet (uplink down?)")
    else:
        ctx.out(f"test event seq {r.get('seq')} acknowledged in {float(rtt):.1f} ms")
