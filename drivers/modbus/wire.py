"""The seam to pymodbus: build an async client for a bus, run one request, and classify how
it failed (timeout, CRC error, exception response, no connection).

pymodbus drops an RTU frame whose CRC is wrong and lets the request time out. To count CRC
errors and not wait out the timeout for an answer that already arrived garbled, the client's
framer is wrapped: a CRC failure is reported and ends the pending request at once. That uses
pymodbus internals (``client.ctx.framer``, ``client.ctx.response_future``, 3.9-3.16); if they
change, ``watch_crc`` returns False and CRC errors count as timeouts instead."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from .errors import CrcError, TransactionError

_READ = {
    "coils": "read_coils",
    "discrete_inputs": "read_discrete_inputs",
    "holding_registers": "read_holding_registers",
    "input_registers": "read_input_registers",
}


def quiet_pymodbus() -> None:
    """pymodbus logs every timeout as an error with a dump of recent frames; the driver
    counts and reports those itself (``stats()``). Unless someone set the pymodbus logger's
    level on purpose, keep only its critical messages."""
    lg = logging.getLogger("pymodbus.logging")
    if lg.level == logging.NOTSET:
        lg.setLevel(logging.CRITICAL)


def make_client(bus: dict):
    """An unconnected pymodbus async client for one ``[[drivers.modbus.bus]]`` table. The
    driver retries and reconnects itself: pymodbus' own retries and reconnects are off."""
    quiet_pymodbus()
    timeout = bus["timeout_ms"] / 1000
    if bus["transport"] == "tcp":
        from pymodbus.client import AsyncModbusTcpClient

        return AsyncModbusTcpClient(bus["host"], port=bus["tcp_port"], timeout=timeout,
                                    retries=0, reconnect_delay=0)
    from pymodbus.client import AsyncModbusSerialClient
    from pymodbus.framer import FramerType

    return AsyncModbusSerialClient(bus["port"], framer=FramerType.RTU,
                                   baudrate=bus["baudrate"], bytesize=bus["bytesize"],
                                   parity=bus["parity"], stopbits=bus["stopbits"],
                                   timeout=timeout, retries=0, reconnect_delay=0)


class CrcWatch:
    """Counts RTU frames dropped for a bad CRC and fails the pending request at once."""

    def __init__(self, client, on_crc: Callable[[], None]):
        self.seen = False
        self.installed = False
        ctx = getattr(client, "ctx", None)
        framer = getattr(ctx, "framer", None)
        try:
            from pymodbus.framer import FramerRTU
        except ImportError:  # pragma: no cover
            return
        if not isinstance(framer, FramerRTU) or not hasattr(ctx, "response_future"):
            return
        original = framer.decode

        def decode(data: bytes):
            used, dev_id, tid, frame = original(data)
            if used and not frame:            # pymodbus' "CRC check failed" return
                self.seen = True
                on_crc()
                fut = getattr(ctx, "response_future", None)
                if fut is not None and not fut.done():
                    fut.set_exception(CrcError("bad CRC"))
            return used, dev_id, tid, frame

        framer.decode = decode
        self.installed = True


async def _call(coro, watch: CrcWatch | None, what: str):
    from pymodbus.exceptions import ConnectionException, ModbusIOException

    if watch is not None:
        watch.seen = False
    try:
        rr = await coro
    except CrcError:
        raise TransactionError("crc", f"{what}: answer with a bad CRC") from None
    except ConnectionException as e:
        raise TransactionError("connection", f"{what}: not connected ({e})") from None
    except ModbusIOException as e:
        if watch is not None and watch.seen:
            raise TransactionError("crc", f"{what}: answer with a bad CRC") from None
        raise TransactionError("timeout", f"{what}: no answer") from None
    except (asyncio.TimeoutError, TimeoutError):
        raise TransactionError("timeout", f"{what}: no answer") from None
    except OSError as e:
        raise TransactionError("connection", f"{what}: {e}") from None
    if rr is None:
        raise TransactionError("timeout", f"{what}: no answer")
    if rr.isError():
        code = getattr(rr, "exception_code", 0)
        raise TransactionError("exception", f"{what}: exception response {code}", code)
    return rr


async def read(client, table: str, address: int, count: int, device_id: int,
               watch: CrcWatch | None = None) -> list[int]:
    """Read ``count`` items of ``table`` from ``address``; a list of ints (bits as 0/1)."""
    fn = getattr(client, _READ[table])
    rr = await _call(fn(address, count=count, device_id=device_id), watch,
                     f"read {table} {address}+{count} from {device_id}")
    if table in ("coils", "discrete_inputs"):
        bits = list(rr.bits[:count])
        if len(bits) < count:
            raise TransactionError("exception", f"short answer: {len(bits)} of {count} bits")
        return [int(b) for b in bits]
    regs = list(rr.registers[:count])
    if len(regs) < count:
        raise TransactionError("exception", f"short answer: {len(regs)} of {count} registers")
    return regs


async def write_coil(client, address: int, on: bool, device_id: int,
                     watch: CrcWatch | None = None) -> None:
    await _call(client.write_coil(address, bool(on), device_id=device_id), watch,
                f"write coil {address}={int(on)} to {device_id}")


async def probe(client, device_id: int, timeout_s: float,
                watch: CrcWatch | None = None) -> bool:
    """Does ``device_id`` answer at all? Any answer counts, an exception response too."""
    try:
        await asyncio.wait_for(_call(client.read_holding_registers(0, count=1,
                                                                   device_id=device_id),
                                     watch, f"probe {device_id}"), timeout_s)
        return True
    except TransactionError as e:
        return e.kind == "exception"
    except asyncio.TimeoutError:
        return False
