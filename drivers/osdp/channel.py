"""A serial port (RS-485 adapter, pty, or any pyserial URL) as libosdp's channel.

libosdp calls ``read``/``write``/``flush`` from its refresh thread. An exception escaping
into libosdp kills that thread, so every I/O error is caught here, counted, and the port is
closed and reopened a few seconds later (a USB adapter pulled out and plugged back in).

Reads and writes go straight to the tty's file descriptor (non-blocking): libosdp calls them
on the bus thread's every refresh, and pyserial's ``read``/``write`` add a ``select`` and a
timeout object per call; the fd is kept (``_fd``, -1 while closed or without one) so that a
read or a flush is a few lines of Python. ``read_calls`` counts libosdp's reads (it reads only while it waits
for a reply: bus.py schedules its refreshes by that) and ``writes`` the frames it sent."""
from __future__ import annotations

import os
import select
import termios
import threading
import time

import serial
from osdp import Channel

REOPEN_S = 2.0
WRITE_TIMEOUT_S = 1.0


class SerialChannel(Channel):
    """``serial.serial_for_url(device, baudrate, timeout=0)`` wrapped for libosdp."""

    def __init__(self, device: str, baudrate: int, opener=serial.serial_for_url):
        super().__init__()
        self.device = device
        self.baudrate = baudrate
        self._opener = opener
        self._lock = threading.Lock()
        self._port = None
        self._fd = -1           # the open tty's fd; -1: closed, or a URL handler without one
        self._next_open = 0.0
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.read_calls = 0     # libosdp reads only while a reply is awaited (bus.py)
        self.writes = 0         # frames handed to the port
        self.io_errors = 0
        self.last_error = ""
        self.closed = False

    def open(self) -> None:
        """Open now; raises ``serial.SerialException`` (the driver reports it at start)."""
        with self._lock:
            self._port = self._opener(self.device, baudrate=self.baudrate, timeout=0,
                                      write_timeout=1)
            fd = getattr(self._port, "fd", None)
            self._fd = fd if isinstance(fd, int) else -1

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def _ensure(self):
        port = self._port
        if port is not None or self.closed:
            return port
        now = time.monotonic()
        if now < self._next_open:
            return None
        self._next_open = now + REOPEN_S
        try:
            self.open()
        except (serial.SerialException, OSError, ValueError) as e:
            self._fail(e)
            return None
        return self._port

    def _fail(self, e: BaseException) -> None:
        self.io_errors += 1
        self.last_error = f"{type(e).__name__}: {e}"
        port, self._port = self._port, None
        self._fd = -1
        self._next_open = time.monotonic() + REOPEN_S
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - already failing; closing is best effort
                pass

    # -- libosdp's side ---------------------------------------------------------------------
    def read(self, max_bytes: int) -> bytes:
        self.read_calls += 1
        fd = self._fd
        if fd >= 0:         # the usual case: the tty is open
            try:
                data = os.read(fd, max_bytes)
            except BlockingIOError:
                return b""
            except OSError as e:
                self._fail(e)
                return b""
            self.rx_bytes += len(data)
            return data
        port = self._ensure()
        if port is None:
            return b""
        try:
            fd = getattr(port, "fd", None)
            if fd is not None:
                try:
                    data = os.read(fd, max_bytes)
                except BlockingIOError:
                    data = b""
            else:               # a pyserial URL handler (socket://...) has no fd
                data = port.read(max_bytes)
        except (serial.SerialException, OSError, TypeError) as e:
            self._fail(e)
            return b""
        self.rx_bytes += len(data)
        return data

    def write(self, buf: bytes) -> int:
        port = self._ensure()
        if port is None:
            return 0
        try:
            fd = getattr(port, "fd", None)
            if fd is not None:
                n = _write_all(fd, bytes(buf))
            else:
                n = port.write(bytes(buf))
        except (serial.SerialException, OSError, TypeError) as e:
            self._fail(e)
            return 0
        n = len(buf) if n is None else n
        self.tx_bytes += n
        self.writes += 1
        return n

    def flush(self) -> None:
        """libosdp asks to drop whatever is pending in the receive buffer."""
        fd = self._fd
        if fd >= 0:
            try:
                termios.tcflush(fd, termios.TCIFLUSH)
            except (termios.error, OSError) as e:
                self._fail(OSError(*e.args))
            return
        port = self._port
        if port is None:
            return
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError, AttributeError) as e:
            if not isinstance(e, AttributeError):
                self._fail(e)

    def close(self) -> None:
        self.closed = True
        with self._lock:
            port, self._port = self._port, None
            self._fd = -1
        if port is not None:
            port.close()

    def stats(self) -> dict:
        return {"device": self.device, "baudrate": self.baudrate, "open": self.is_open,
                "rx_bytes": self.rx_bytes, "tx_bytes": self.tx_bytes,
                "writes": self.writes,
                "io_errors": self.io_errors, "last_error": self.last_error}


def _write_all(fd: int, data: bytes) -> int:
    """One ``write`` when the tty takes the frame (always, for OSDP's short frames); else wait
    for room up to WRITE_TIMEOUT_S, as pyserial's ``write_timeout`` did."""
    try:
        n = os.write(fd, data)
    except BlockingIOError:
        n = 0
    if n == len(data):
        return n
    view = memoryview(data)[n:]
    deadline = time.monotonic() + WRITE_TIMEOUT_S
    while view:
        left = deadline - time.monotonic()
        if left <= 0:
            raise OSError("write timed out")
        select.select((), (fd,), (), left)
        try:
            k = os.write(fd, view)
        except BlockingIOError:
            k = 0
        view = view[k:]
        n += k
    return n
