"""Field buses and the uplink: modbus scan/stats, osdp status, mqtt status/test."""
from __future__ import annotations

import asyncio
import re

from ..errors import GuardroomError
from .commands import LEVEL_INSTALLER, CommandError, UsageError, command
from .render import kv, table
from .util import flat

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
        _device_table(ctx, d)
        return
    if args[0] != "scan" or len(args) not in (2, 3):
        raise UsageError()
    first, last = 1, 247
    if len(args) == 3:
        m = re.fullmatch(r"(\d{1,3})-(\d{1,3})", args[2])
        if not m or not 1 <= int(m[1]) <= int(m[2]) <= 247:
            raise UsageError("FROM-TO is a range within 1-247, e.g. 1-20")
        first, last = int(m[1]), int(m[2])
    ctx.out(f"Scanning bus {args[1]} addresses {first}-{last} (Ctrl-C stops)...")
    try:
        found = await ctx.host.modbus_scan(args[1], first, last)
    except (GuardroomError, KeyError, ValueError) as e:
        raise CommandError(f"scan failed: {e}") from None
    ctx.out(f"answering: {', '.join(map(str, found))}" if found else "no device answered")


@command("osdp", LEVEL_INSTALLER, "osdp status", "OSDP readers: online, secure channel, "
         "tamper, counters")
async def osdp(ctx, args):
    if args != ["status"]:
        raise UsageError()
    d = ctx.host.driver_status().get("osdp")
    if d is None:
        raise CommandError("no OSDP driver configured")
    _device_table(ctx, d)


@command("mqtt", LEVEL_INSTALLER, "mqtt status | mqtt test",
         "uplink state; send a test event and time its acknowledgement",
         """
'mqtt status': broker, connected or not, outbox depth (events not yet acknowledged), last
error. 'mqtt test' publishes a manual test event (601) through the outbox and waits for the
broker's acknowledgement, showing the sequence number and the round trip.
""")
async def mqtt(ctx, args):
    if args == ["status"]:
        ctx.out(*kv(flat(ctx.host.relay_status())))
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
