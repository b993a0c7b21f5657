"""Field buses and the uplink: modbus scan/stats, osdp status, mqtt status/test."""
from __future__ import annotations

import asyncio
import re

from ..errors import GuardroomError
from ..i18n import N_, Msg, msg_of, tr, translator
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
    ctx.out(*table([ctx._("NAME")] + [k.upper() for k in keys],
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
    _ = ctx._
    cols = [("address", _("ADDR")), ("online", _("ONLINE")), ("polls", _("POLLS")),
            ("failed_polls", _("FAILED")), ("err_rate", _("ERR")), ("timeouts", _("TIMEOUTS")),
            ("crc_errors", "CRC"), ("exceptions", _("EXC")), ("last_error", _("LAST ERROR"))]
    for bus in buses:
        ctx.out(_("bus {bus}: {transport} {where}, {state}", bus=bus.get("name"),
                  transport=bus.get("transport", ""), where=bus.get("where", ""),
                  state=_("connected") if bus.get("connected") else _("NOT connected")))
        devs = bus.get("devices") or []
        if not devs:
            ctx.out(_("  (no devices)"))
            continue
        use = _pick(devs, cols)
        ctx.out(*table([_("DEVICE")] + [h for _, h in use],
                       [[dv.get("name", "?")] + [dv.get(k, "") for k, _ in use]
                        for dv in devs]))


def _osdp_status(ctx, d: dict) -> None:
    readers = d.get("readers")
    if not isinstance(readers, dict):
        _device_table(ctx, d)
        return
    _ = ctx._
    rows = []
    for name, r in readers.items():
        door = r.get("door") or {}
        door_s = "-" if not door else (_("FORCED") if door.get("forced") else _("HELD") if
                                       door.get("held") else _("open") if door.get("open")
                                       else _("closed"))
        rows.append((name, r.get("port", ""), r.get("address", ""),
                     _("yes") if r.get("online") else _("NO"),
                     _("on") if r.get("secure_channel") else _("off"), r.get("mode", ""),
                     _("TAMPER") if r.get("tamper") else _("ok"), door_s,
                     r.get("last_event") or "-"))
    ctx.out(*table([_("READER"), _("PORT"), _("ADDR"), _("ONLINE"), "SC", _("MODE"),
                    _("TAMPER"), _("DOOR"), _("LAST EVENT")], rows))
    for port, p in (d.get("ports") or {}).items():
        ser = p.get("serial") or {}
        ctx.out(_("port {port}: {counters}", port=port,
                  counters=", ".join(f"{k} {v}" for k, v in flat(ser, t=_)[:6])))


def _rate(bad: int, total: int) -> str:
    if not total:
        return "-"
    pct = 100.0 * bad / total
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


def line_quality(ctx, drivers: dict) -> None:
    """Per device: how well its bus carries it (error rates, retries, secure channel)."""
    from .health import ago, span

    _ = ctx._
    mb = drivers.get("modbus")
    if isinstance(mb, dict) and isinstance(mb.get("buses"), list):
        rows = []
        for bus in mb["buses"]:
            for d in bus.get("devices") or []:
                polls = int(d.get("polls") or 0)
                age = d.get("last_good_age_s")
                rows.append((f"{d.get('name')} ({bus.get('name')}/{d.get('address')})",
                             _("online") if d.get("online") else _("OFFLINE") if d.get("online")
                             is False else "?", polls, _rate(int(d.get("failed_polls") or 0),
                                                             polls),
                             d.get("timeouts", 0), d.get("crc_errors", 0),
                             d.get("exceptions", 0),
                             _("{span} ago", span=span(age, _)) if age is not None
                             else _("never"),
                             d.get("last_error") or "-"))
        ctx.out(_("Modbus (per device since start):"))
        ctx.out(*table([_("DEVICE"), _("STATE"), _("POLLS"), _("ERR"), _("TIMEOUT"), "CRC",
                        _("EXC"), _("LAST GOOD"), _("LAST ERROR")], rows))
        for bus in mb["buses"]:
            for d in bus.get("devices") or []:
                if d.get("readings"):
                    ctx.out(_("  {name} readings (raw register values, as the profile maps "
                              "them): {values}", name=d.get("name"), values=", ".join(
                                  f"{k} {v}" for k, v in d["readings"].items())))
        unattributed = [b for b in mb["buses"] if b.get("crc_unattributed")]
        for b in unattributed:
            ctx.out(_("  bus {bus}: {n} CRC errors not attributable to a device (noise on the "
                      "line?)", bus=b["name"], n=b["crc_unattributed"]))
    osdp = drivers.get("osdp")
    if isinstance(osdp, dict) and isinstance(osdp.get("readers"), dict):
        rows = []
        for name, r in osdp["readers"].items():
            c = r.get("counts") or {}
            cmds = int(c.get("commands") or 0)
            rows.append((f"{name} ({r.get('port')}/{r.get('address')})",
                         _("online {since}", since=ago(r.get("since_age_s"), _)).strip()
                         if r.get("online") else _("OFFLINE"),
                         _("on") if r.get("secure_channel") else _("OFF"),
                         c.get("went_offline", 0), r.get("reconnects", 0),
                         f"{c.get('commands_failed', 0)}/{cmds}", c.get("card_errors", 0)))
        ctx.out(_("OSDP (per reader since start):"))
        ctx.out(*table([_("READER"), _("LINK"), "SC", _("DROPS"), _("RECONNECTS"),
                        _("CMD FAIL"), _("CARD ERR")], rows))
        for port, p in (osdp.get("ports") or {}).items():
            ser = p.get("serial") or {}
            ctx.out(_("  port {port}: {rx} bytes in, {tx} out, {io} I/O errors, {poll} poll "
                      "errors", port=port, rx=ser.get("rx_bytes", 0), tx=ser.get("tx_bytes", 0),
                      io=ser.get("io_errors", 0), poll=p.get("refresh_errors", 0))
                    + (_("; last: {error}", error=ser["last_error"])
                       if ser.get("last_error") else ""))
    if not (isinstance(mb, dict) or isinstance(osdp, dict)):
        ctx.out(_("no field bus (Modbus, OSDP) in this controller"))


@command("health", LEVEL_INSTALLER, "health", "line quality of every field device",
         N_("""
For each Modbus device: its state, polls, the share that failed (ERR), timeouts, CRC errors,
exception replies, when it last answered and its last error, and the last raw value of each
register point its profile maps (a fence energizer's voltage, a supply voltage). For each OSDP reader: the link
(online since when), the secure channel, how often it dropped off the bus, reconnects, failed
commands and unreadable cards; per OSDP port the bytes and I/O errors. A few per cent of errors
on RS-485 point at termination, biasing or a long stub; a steady rise at one device at its
wiring or supply.
"""))
async def health(ctx, args):
    if args:
        raise UsageError()
    line_quality(ctx, ctx.host.driver_status())


@command("modbus", LEVEL_INSTALLER, "modbus scan BUS [FROM-TO] | modbus stats",
         "find Modbus devices on a bus; per-device counters",
         N_("""
'modbus scan BUS' asks every address (1-247, or FROM-TO such as 1-20) on the named bus and
lists those that answer: use it to find a module whose address switches are unknown. It takes
a while on RS-485 (a dead address costs one timeout); Ctrl-C stops it. 'modbus stats' shows
each device's requests, errors, timeouts, CRC errors and whether it is online.
"""))
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
        raise CommandError("no Modbus bus named {bus!r}{hint} (buses: {names})", bus=args[1],
                           hint=suggest(args[1], buses), names=", ".join(buses) or Msg("none"))
    ctx.out(ctx._("Scanning bus {bus} addresses {first}-{last} (Ctrl-C stops)...", bus=args[1],
                  first=first, last=last))
    found: list[int] = []
    try:
        # One address at a time: each answer shows at once, and Ctrl-C keeps what was found.
        for address in range(first, last + 1):
            try:
                hit = await ctx.host.modbus_scan(args[1], address, address)
            except KeyError:
                raise CommandError("no Modbus bus named {bus!r}", bus=args[1]) from None
            except (GuardroomError, ValueError, OSError) as e:
                raise CommandError("scan failed at address {address}: {e}{found}",
                                   address=address, e=e, found=_found(found)) from None
            if hit:
                found += hit
                ctx.out(ctx._("  address {address} answers", address=address))
    except asyncio.CancelledError:
        ctx.out(ctx._("scan stopped{found}", found=tr(_found(found), ctx._)) if found else
                ctx._("scan stopped: nothing answered so far"))
        raise
    ctx.out(ctx._("answering: {addresses}", addresses=", ".join(map(str, found))) if found
            else ctx._("no device answered"))


def _found(found: list[int]):
    return Msg("; answering so far: {addresses}", addresses=", ".join(map(str, found))) \
        if found else ""


@command("osdp", LEVEL_INSTALLER, "osdp status", "OSDP readers: online, secure channel, "
         "tamper, counters")
async def osdp(ctx, args):
    if args != ["status"]:
        raise UsageError()
    d = ctx.host.driver_status().get("osdp")
    if d is None:
        raise CommandError("no OSDP driver configured")
    _osdp_status(ctx, d)


def mqtt_lines(st: dict, t=translator("en")) -> list[tuple[str, str]]:
    """The uplink in words: where, whether connected and since when, the outbox, the last
    contact and error (no secret: the relay's status holds none); through translator ``t``."""
    if not st:
        return [(t("uplink"), t("no MQTT relay in this controller"))]
    conn = st.get("connected")
    since = st.get("connected_since")
    proto = st.get("protocol")
    state = (t("connected") + (f" (MQTT {proto})" if proto else "")
             + (t(" since {stamp} UTC", stamp=short_time(since)) if since else "") if conn
             else t("NOT connected"))
    depth = st.get("outbox_depth", 0)
    outbox = t("{n} event(s) waiting", n=depth) if depth \
        else t("empty (everything acknowledged)")
    if st.get("outbox_healthy") is False:
        outbox += t("; PROBLEM: {problem}", problem=st.get("outbox_problem") or t("unhealthy"))
    rows = [
        (t("broker"), f"{st.get('broker', '?')}"
                      + (t(" with TLS") if st.get("tls") else t(" (no TLS)"))),
        (t("state"), state),
        (t("platform path"), t("up") if st.get("uplink")
         else t("DOWN (no answer within the heartbeat time)")),
        (t("client id"), st.get("client_id") or "-"),
        (t("user"), st.get("username") or t("(anonymous)")),
        (t("topics"), f"{st.get('topic_root', '?')}/..."),
        (t("outbox"), outbox),
        (t("next seq"), str(st.get("next_seq", "-"))),
        (t("events"), t("{published} published, {acked} acknowledged, {refused} refused, "
                        "{in_flight} in flight", published=st.get("events_published", 0),
                        acked=st.get("events_acked", 0), refused=st.get("events_refused", 0),
                        in_flight=st.get("in_flight", 0))),
        (t("last broker ack"), (short_time(st["last_puback"]) + " UTC")
         if st.get("last_puback") else t("never")),
        (t("last platform ack"), (short_time(st["last_platform_ack"]) + " UTC")
         if st.get("last_platform_ack") else t("never")),
        (t("reconnects"), t("{n} ({attempts} connection attempts)", n=st.get("reconnects", 0),
                            attempts=st.get("connect_attempts", 0))),
        (t("commands"), t("{accepted} accepted, {refused} refused",
                          accepted=st.get("cmds_accepted", 0),
                          refused=st.get("cmds_refused", 0))),
        (t("last error"), st.get("last_error") or t("none")),
    ]
    return rows


@command("mqtt", LEVEL_INSTALLER, "mqtt status | mqtt test",
         "uplink state; send a test event and time its acknowledgement",
         N_("""
'mqtt status': broker, connected or not, outbox depth (events not yet acknowledged), last
error. 'mqtt test' publishes a manual test event (601) through the outbox and waits for the
broker's acknowledgement, showing the sequence number and the round trip.
"""))
async def mqtt(ctx, args):
    if args == ["status"]:
        ctx.out(*kv(mqtt_lines(ctx.host.relay_status(), ctx._)))
        return
    if args != ["test"]:
        raise UsageError()
    ctx.out(ctx._("Sending a test event (601)..."))
    try:
        async with asyncio.timeout(MQTT_TEST_TIMEOUT_S):
            r = await ctx.host.mqtt_test()
    except TimeoutError:
        raise CommandError("no acknowledgement within {s} s; the event stays in the outbox and "
                           "goes when the broker is back", s=f"{MQTT_TEST_TIMEOUT_S:.0f}") from None
    except GuardroomError as e:
        raise CommandError("test failed: {e}", e=msg_of(e)) from None
    rtt = r.get("rtt_ms")
    if rtt is None:
        ctx.out(ctx._("test event seq {seq} queued; not acknowledged yet (uplink down?)",
                      seq=r.get("seq")))
    elif r.get("routed") is False:
        ctx.out(ctx._("test event seq {seq} reached the broker in {ms} ms, but no platform "
                      "subscribed: it stays in the outbox and is sent again until one does",
                      seq=r.get("seq"), ms=f"{float(rtt):.1f}"))
    else:
        ctx.out(ctx._("test event seq {seq} acknowledged in {ms} ms", seq=r.get("seq"),
                      ms=f"{float(rtt):.1f}"))
