"""The console's wire: a serial port (a real /dev/tty*, a pty slave path, or any pyserial URL
such as ``socket://host:port`` or ``rfc2217://``), or ``pty:LINK``, a pseudo-terminal the
console creates itself with its slave path linked at LINK (for picocom/screen on a PC).

Two small threads sit at this edge: a reader that hands bytes to the loop with
``call_soon_threadsafe`` and a writer that drains a queue, so a slow or stuck terminal never
blocks the loop. When the port fails (cable pulled, USB adapter gone) the link reports
``up=False`` and reopens it every second until it is back or the console stops.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Callable, Optional

import serial

log = logging.getLogger("guardroom.console")

RETRY_S = 1.0
READ_TIMEOUT_S = 0.2


class _PtyPort:
    """The master end of a pty we created; the slave path is linked at ``link``."""

    def __init__(self, link: str):
        import tty

        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)               # no echo, no line editing, no CRLF mapping
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self._slave)
        self.link = link
        tmp = f"{link}.tmp{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(self.slave_path, tmp)
        os.replace(tmp, link)

    def read(self) -> bytes:
        import select

        r, _, _ = select.select([self.master], [], [], READ_TIMEOUT_S)
        if not r:
            return b""
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except BlockingIOError:
            pass                              # nobody reads the terminal: drop, never block

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.path.islink(self.link) and os.readlink(self.link) == self.slave_path:
                os.unlink(self.link)
        except OSError:
            pass


class _SerialPort:
    def __init__(self, url: str, baudrate: int):
        self.port = serial.serial_for_url(url, baudrate=baudrate, bytesize=8, parity="N",
                                          stopbits=1, timeout=READ_TIMEOUT_S, write_timeout=2)

    def read(self) -> bytes:
        n = self.port.in_waiting
        return self.port.read(max(1, min(n, 4096)))

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except serial.SerialTimeoutException:
            pass                              # flow control stuck: drop rather than hang

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001 - closing a dead port may fail any way it likes
            pass


class SerialLink:
    """Reader and writer threads around one port; bytes arrive in the loop via ``on_bytes``,
    link state changes via ``on_up(bool)``."""

    def __init__(self, url: str, baudrate: int, loop, on_bytes: Callable[[bytes], None],
                 on_up: Callable[[bool], None]):
        self.url, self.baudrate = url, baudrate
        self._loop, self._on_bytes, self._on_up = loop, on_bytes, on_up
        self._port = None
        self._stop = threading.Event()
        self._outq: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=4096)
        self._reader: Optional[threading.Thread] = None
        self._writer: Optional[threading.Thread] = None
        self.bytes_in = self.bytes_out = self.dropped = 0
        self.last_error = ""

    @property
    def slave_path(self) -> str:
        return getattr(self._port, "slave_path", "")

    def _open(self):
        if self.url.startswith("pty:"):
            return _PtyPort(self.url[4:])
        return _SerialPort(self.url, self.baudrate)

    def open_now(self) -> None:
        """Open the port once in the caller's thread (so a bad port name fails at start)."""
        self._port = self._open()

    def start(self) -> None:
        self._reader = threading.Thread(target=self._read_loop, name="console-rx", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="console-tx", daemon=True)
        self._reader.start()
        self._writer.start()

    def write(self, data: bytes) -> None:
        try:
            self._outq.put_nowait(data)
        except queue.Full:
            self.dropped += len(data)

    def stop(self, timeout: float = 2.0) -> None:
        """Flush what was written (the goodbye line), then stop both threads and close."""
        try:
            self._outq.put(None, timeout=timeout)
        except queue.Full:
            pass
        if self._writer is not None:
            self._writer.join(timeout)
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout)
        if self._port is not None:
            self._port.close()
            self._port = None

    # -- threads -------------------------------------------------------------------------------
    def _call(self, fn, *args) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:                  # loop closed during shutdown
            self._stop.set()

    def _read_loop(self) -> None:
        up = self._port is not None
        if up:
            self._call(self._on_up, True)
        while not self._stop.is_set():
            if self._port is None:
                try:
                    self._port = self._open()
                except (OSError, serial.SerialException) as e:
                    if str(e) != self.last_error:
                        log.warning("console port %s cannot be opened: %s", self.url, e)
                        self.last_error = str(e)
                    self._stop.wait(RETRY_S)
                    continue
                log.info("console port %s open", self.url)
                self.last_error = ""
                self._call(self._on_up, True)
            try:
                data = self._port.read()
            except Exception as e:  # noqa: BLE001 - pyserial/termios raise many kinds
                if self._stop.is_set():
                    break
                log.warning("console port %s failed: %s", self.url, e)
                self.last_error = str(e)
                port, self._port = self._port, None
                port.close()
                self._call(self._on_up, False)
                self._stop.wait(RETRY_S)
                continue
            if data:
                self.bytes_in += len(data)
                self._call(self._on_bytes, data)

    def _write_loop(self) -> None:
        while True:
            data = self._outq.get()
            if data is None:
                return
            port = self._port
            if port is None:
                self.dropped += len(data)
                continue
            try:
                port.write(data)
                self.bytes_out += len(data)
            except Exception:  # noqa: BLE001 - any failure of a dying port: the reader
                self.dropped += len(data)         # notices it and reopens
