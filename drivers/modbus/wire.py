"""The seam to the wire: build a client for a bus, run one request, and classify how it
failed (timeout, CRC error, exception response, no connection).

The client is ``lean.LeanClient`` (RTU and TCP framing done here, see that module for why),
blocking, called from the bus's own thread; a garbled RTU answer is reported as a CRC error
the moment it is complete, so it never waits out the timeout."""
from __future__ import annotations

import logging
import struct
from typing import Callable

from .errors import TransactionError
from .lean import LeanClient, Request


def quiet_pymodbus() -> None:
    """pymodbus logs every timeout as an error with a dump of recent frames (the emulators
    and test rigs still use it). Unless someone set the pymodbus logger's level on purpose,
    keep only its critical messages."""
    lg = logging.getLogger("pymodbus.logging")
    if lg.level == logging.NOTSET:
        lg.setLevel(logging.CRITICAL)


def make_client(bus: dict) -> LeanClient:
    """An unconnected client for one ``[[drivers.modbus.bus]]`` table. The driver retries
    and reconnects itself."""
    return LeanClient(bus)


class CrcWatch:
    """Counts RTU answers dropped for a bad CRC (the lean client checks every frame and ends
    the pending request at once, so a garbled answer never waits out the timeout)."""

    def __init__(self, client: LeanClient, on_crc: Callable[[], None]):
        self.seen = False
        self.installed = client.rtu

        def seen():
            self.seen = True
            on_crc()
        client.on_crc = seen


_READ_FC = {"coils": 1, "discrete_inputs": 2, "holding_registers": 3, "input_registers": 4}


def read_request(table: str, address: int, count: int, device_id: int) -> Request:
    """A read of ``count`` items of ``table`` from ``address``, prepared once per poll block."""
    return Request(device_id, struct.pack(">BHH", _READ_FC[table], address, count),
                   f"read {table} {address}+{count} from {device_id}")


def read(client: LeanClient, table: str, address: int, count: int, device_id: int,
         watch: CrcWatch | None = None) -> list[int]:
    """Read ``count`` items of ``table`` from ``address``; a list of ints (bits as 0/1)."""
    req = read_request(table, address, count, device_id)
    return decode(client.send(req), req, count)


def decode(pdu: bytes, req: Request, count: int) -> list[int]:
    """The answer ``pdu`` to the read ``req`` as ints (bits as 0/1)."""
    fc, what = req.pdu[0], req.what
    if pdu[0] != fc:
        raise TransactionError("exception", f"{what}: answer to function {pdu[0]}")
    data = pdu[2:2 + pdu[1]]
    if fc <= 2:
        if len(data) * 8 < count:
            raise TransactionError("exception", f"short answer: {len(data) * 8} of {count} bits")
        return [(data[i >> 3] >> (i & 7)) & 1 for i in range(count)]
    if len(data) < 2 * count:
        raise TransactionError("exception", f"short answer: {len(data) // 2} of {count} registers")
    return list(struct.unpack(f">{count}H", data[:2 * count]))


def write_coil(client: LeanClient, address: int, on: bool, device_id: int,
                     watch: CrcWatch | None = None) -> None:
    client.request(device_id, struct.pack(">BHH", 5, address, 0xFF00 if on else 0),
                         what=f"write coil {address}={int(on)} to {device_id}")


def probe(client: LeanClient, device_id: int, timeout_s: float,
                watch: CrcWatch | None = None) -> bool:
    """Does ``device_id`` answer at all? Any answer counts, an exception response too."""
    try:
        client.request(device_id, struct.pack(">BHH", 3, 0, 1), timeout_s,
                             what=f"probe {device_id}")
        return True
    except TransactionError as e:
        return e.kind == "exception"
