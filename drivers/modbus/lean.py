"""A lean Modbus master for the poll path: RTU over a serial port and Modbus TCP, one request
at a time from the bus's own thread, frames built and checked here.

Why not pymodbus' client: a poll is the daemon's most frequent piece of work (the beam module
ten times a second). pymodbus spends about half a millisecond of CPU per request in layers
the driver does not need (a transaction manager, framers that re-scan the buffer, a frame
log kept even with logging off); this does one ``write``, reads the answer into one buffer,
knows the answer's length from its first bytes, and checks the CRC once. pymodbus stays the
emulators' server and the test rigs' client.

A poll's requests are prepared once (``Request``: the RTU frame with its CRC, the text used in
errors) and an RTU answer identical to the last one whose CRC was checked is not checked again.

Errors are ``TransactionError`` with the kinds the driver counts: ``timeout`` (no complete
answer in time), ``crc`` (an RTU answer whose CRC is wrong, reported as soon as it is
complete), ``exception`` (an exception response, ``code`` set) and ``connection``.
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import termios
import time

from .errors import TransactionError


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (reflected 0x8005, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    table = _TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def _pdu_len(pdu: bytes) -> int:
    """Length of a complete response PDU from its first bytes; 0 while unknown."""
    if len(pdu) < 2:
        return 0
    fc = pdu[0]
    if fc & 0x80:
        return 2
    if fc in (1, 2, 3, 4):
        return 2 + pdu[1]
    if fc in (5, 6, 15, 16):
        return 5
    return -1          # a function this master never asks for: garbage


class Request:
    """One request, built once: ``frame`` is the complete RTU frame (CRC included), ``what``
    names it in errors. ``seen``/``seen_pdu``: the last RTU answer to it whose CRC was good,
    and its PDU (the same bytes again are that PDU, without a second CRC pass)."""

    __slots__ = ("device_id", "pdu", "frame", "what", "seen", "seen_pdu")

    def __init__(self, device_id: int, pdu: bytes, what: str = "request"):
        self.device_id = device_id
        self.pdu = pdu
        self.what = what
        frame = bytes((device_id,)) + pdu
        c = crc16(frame)
        self.frame = frame + bytes((c & 0xFF, c >> 8))
        self.seen = b""
        self.seen_pdu = b""


class LeanClient:
    """Blocking, for the bus's own thread: ``connect()`` -> bool, ``connected``, ``close()``,
    ``request(device_id, pdu, timeout_s)`` -> response PDU (function code first). Waits with
    ``select`` on the link's file descriptor, so a poll costs one write, one or two reads
    and no timer object."""

    def __init__(self, bus: dict):
        self.rtu = bus["transport"] != "tcp"
        self.cfg = bus
        self.timeout = bus["timeout_ms"] / 1000
        self.connected = False
        self._serial = None
        self._sock: socket.socket | None = None
        self._fd = -1
        self._poller = None         # select.poll on the link, registered once per connect
        self._avail = bytearray(4)  # FIONREAD's answer, filled in place
        self._tid = 0
        self.crc_errors = 0
        self.on_crc = None
        self.last_connect_error = ""

    # -- link ------------------------------------------------------------------------------
    def connect(self) -> bool:
        self.close()
        try:
            if self.rtu:
                import serial

                c = self.cfg
                self._serial = serial.serial_for_url(
                    c["port"], baudrate=c["baudrate"], bytesize=c["bytesize"],
                    parity=c["parity"], stopbits=c["stopbits"], timeout=0, write_timeout=1)
                self._fd = self._serial.fileno()
                os.set_blocking(self._fd, False)
            else:
                self._sock = socket.create_connection(
                    (self.cfg["host"], self.cfg["tcp_port"]), timeout=self.timeout + 1)
                self._sock.setblocking(False)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._fd = self._sock.fileno()
        except Exception as e:  # noqa: BLE001 - OSError, serial.SerialException, ValueError
            self.close()
            self.last_connect_error = str(e) or type(e).__name__
            return False
        self._poller = select.poll()
        self._poller.register(self._fd, select.POLLIN)
        self.connected = True
        return True

    def close(self) -> None:
        self.connected = False
        for attr in ("_serial", "_sock"):
            obj = getattr(self, attr)
            if obj is not None:
                setattr(self, attr, None)
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing a failed link is best effort
                    pass
        self._fd = -1
        self._poller = None

    # -- one transaction -----------------------------------------------------------------
    def request(self, device_id: int, pdu: bytes, timeout_s: float | None = None,
                what: str = "request") -> bytes:
        """A one-off request (coil writes, probes); polls ``send`` a prepared ``Request``."""
        return self.send(Request(device_id, pdu, what), timeout_s)

    def send(self, req: Request, timeout_s: float | None = None) -> bytes:
        """Send ``req`` and wait for its answer: the response PDU (function code first)."""
        if not self.connected:
            raise TransactionError("connection", f"{req.what}: not connected")
        if not self.rtu:    # a late answer to an earlier request is told apart by its id
            self._tid = (self._tid + 1) & 0xFFFF
        return self._transact(req, self.frame(req), 0, None, time.monotonic() + (
            self.timeout if timeout_s is None else timeout_s), self.rtu)

    def resume(self, req: Request, tid: int, wrote: int, data: bytes,
               deadline: float) -> bytes:
        """Finish a transaction the steady loop (_steady.pyx) began: ``wrote`` bytes of the
        request went out with transaction id ``tid``, ``data`` came back so far, the answer is
        late at ``deadline``. The response PDU, or the error ``send`` would raise."""
        if not self.connected:
            raise TransactionError("connection", f"{req.what}: not connected")
        if not self.rtu:
            self._tid = tid
        return self._transact(req, self.frame(req), wrote, bytearray(data), deadline, False)

    def frame(self, req: Request, tid: int | None = None) -> bytes:
        """The request as it goes on the wire (TCP: with ``tid``, default the current id)."""
        if self.rtu:
            return req.frame
        return struct.pack(">HHHB", self._tid if tid is None else tid, 0, len(req.pdu) + 1,
                           req.device_id) + req.pdu

    def answer(self, req: Request, pdu: bytes) -> bytes:
        """The bytes on the wire of the answer ``pdu`` to ``req`` (TCP: transaction id 0)."""
        if self.rtu:
            frame = bytes((req.device_id,)) + pdu
            c = crc16(frame)
            return frame + bytes((c & 0xFF, c >> 8))
        return struct.pack(">HHHB", 0, 0, len(pdu) + 1, req.device_id) + pdu

    @property
    def fd(self) -> int:
        return self._fd

    def _transact(self, req: Request, frame: bytes, wrote: int, buf: bytearray | None,
                  deadline: float, drop: bool) -> bytes:
        fd = self._fd
        try:
            if drop:       # RTU, before a fresh request
                self._drop_stale(fd)
            if wrote < len(frame):
                _write_all(fd, frame[wrote:] if wrote else frame)
            answer = self._read_answer(fd, req, deadline, buf)
        except OSError as e:
            self.close()
            raise TransactionError("connection", f"{req.what}: {e}") from None
        if answer[0] & 0x80:
            code = answer[1] if len(answer) > 1 else 0
            raise TransactionError("exception", f"{req.what}: exception response {code}", code)
        return answer

    def _read_answer(self, fd: int, req: Request, deadline: float,
                     buf: bytearray | None = None) -> bytes:
        rtu = self.rtu
        if buf:     # what the steady loop read already
            pdu = self._rtu_frame(buf, req) if rtu else self._tcp_frame(buf)
            if pdu is not None:
                return pdu
        elif buf is None:
            buf = bytearray()
        wait = self._poller.poll
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransactionError("timeout", f"{req.what}: no answer")
            if not wait(left * 1000.0):     # ms, rounded up: never wakes before the deadline
                continue
            try:
                data = os.read(fd, 512)
            except BlockingIOError:
                continue
            if not data:
                self.close()
                raise TransactionError("connection", f"{req.what}: the link was closed")
            if rtu and not buf and data == req.seen:
                return req.seen_pdu        # the same answer as last time, CRC already good
            buf += data
            pdu = self._rtu_frame(buf, req) if rtu else self._tcp_frame(buf)
            if pdu is not None:
                return pdu

    def _rtu_frame(self, buf: bytearray, req: Request) -> bytes | None:
        n = _pdu_len(buf[1:])
        if n == 0:
            return None
        end = 1 + n + 2
        if n > 0 and len(buf) < end:
            return None
        frame = bytes(buf[:end])
        if n < 0 or frame[0] != req.device_id or \
                crc16(frame[:-2]) != frame[-2] | (frame[-1] << 8):
            self.crc_errors += 1
            if self.on_crc is not None:
                self.on_crc()
            raise TransactionError("crc", f"{req.what}: answer with a bad CRC")
        req.seen = frame
        req.seen_pdu = pdu = frame[1:-2]
        return pdu

    def _tcp_frame(self, buf: bytearray) -> bytes | None:
        while len(buf) >= 7:
            tid, proto, length = struct.unpack_from(">HHH", buf)
            end = 6 + length
            if len(buf) < end:
                return None
            frame = bytes(buf[:end])
            del buf[:end]
            if tid == self._tid and proto == 0 and length >= 2:
                return frame[7:]
            # an answer to an earlier request that timed out: dropped
        return None

    def _drop_stale(self, fd: int) -> None:
        """Bytes that arrived since the last answer (noise, a late answer) are not ours.
        Asked with FIONREAD (no exception raised on the usual empty line)."""
        try:
            fcntl.ioctl(fd, termios.FIONREAD, self._avail, True)
            if self._avail == b"\0\0\0\0":
                return
        except OSError:     # a link without FIONREAD: read it empty instead
            pass
        try:
            while os.read(fd, 512):
                pass
        except BlockingIOError:
            pass


def _write_all(fd: int, data: bytes) -> None:
    try:
        n = os.write(fd, data)
    except BlockingIOError:
        n = 0
    if n == len(data):
        return
    view = memoryview(data)[n:]
    deadline = time.monotonic() + 1.0
    while view:
        if time.monotonic() > deadline:
            raise OSError("write timed out")
        select.select((), (fd,), (), 0.1)
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        view = view[n:]
