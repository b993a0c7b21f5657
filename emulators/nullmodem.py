"""A null-modem cable between two programs that both want a serial device path.

A pty's master end has no path, so two pty pairs are joined by a relay thread: the driver
opens ``path_a``, the emulated device opens ``path_b``; bytes written on one side come out on
the other. On demand the cable misbehaves like a real RS-485 line:

    cable.corrupt(True)            # flip bits in every frame towards A (CRC errors at the driver)
    cable.corrupt(3)               # only the next 3 frames
    cable.noise(b"\\x00\\xff\\x13")  # inject garbage towards A
    cable.cut(True)                # drop everything both ways (cable cut); cut(False) mends it

A "frame" here is what one read from the pty returns; a Modbus device writes each answer in
one go, so in practice one frame is one Modbus answer.
"""
from __future__ import annotations

import errno
import os
import select
import threading
import tty


class NullModem:
    def __init__(self):
        self._ma, self._sa = os.openpty()
        self._mb, self._sb = os.openpty()
        for fd in (self._sa, self._sb):
            tty.setraw(fd)                   # no echo, no CR/LF mangling: bytes are bytes
        for fd in (self._ma, self._mb):
            os.set_blocking(fd, False)
        self.path_a = os.ttyname(self._sa)   # the driver's end
        self.path_b = os.ttyname(self._sb)   # the device's end
        self._wake_r, self._wake_w = os.pipe()
        self._lock = threading.Lock()
        self._corrupt: dict[str, int | bool] = {"a": False, "b": False}
        self._cut = False
        self._thread: threading.Thread | None = None
        self._running = False
        self.stats = {"to_a": 0, "to_b": 0, "frames_corrupted": 0, "bytes_dropped": 0,
                      "noise_bytes": 0}

    # -- controls ---------------------------------------------------------------------------
    def corrupt(self, how: bool | int = True, towards: str = "a") -> None:
        """Corrupt frames heading to ``towards`` ("a" = the driver, "b" = the device, "both"):
        True = every frame, False = none, N = the next N frames."""
        with self._lock:
            for side in ("a", "b") if towards == "both" else (towards,):
                self._corrupt[side] = how

    def cut(self, on: bool = True) -> None:
        with self._lock:
            self._cut = bool(on)

    def noise(self, data: bytes, towards: str = "a") -> None:
        fd = self._ma if towards == "a" else self._mb
        with self._lock:
            self.stats["noise_bytes"] += len(data)
        self._write(fd, data)

    @property
    def is_cut(self) -> bool:
        return self._cut

    # -- relay ------------------------------------------------------------------------------
    def start(self) -> "NullModem":
        self._running = True
        self._thread = threading.Thread(target=self._relay, name="nullmodem", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            os.write(self._wake_w, b"x")
            if self._thread is not None:
                self._thread.join(5)
        for fd in (self._ma, self._sa, self._mb, self._sb, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._ma = self._mb = -1

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _take_corrupt(self, side: str) -> bool:
        with self._lock:
            how = self._corrupt[side]
            if how is True:
                return True
            if isinstance(how, int) and how > 0 and how is not False:
                self._corrupt[side] = how - 1
                return True
            return False

    def _write(self, fd: int, data: bytes) -> None:
        try:
            os.write(fd, data)
        except OSError as e:       # nobody reading that end: the bytes are lost, like a line
            if e.errno not in (errno.EAGAIN, errno.EIO):
                raise
            with self._lock:
                self.stats["bytes_dropped"] += len(data)

    def _relay(self) -> None:
        route = {self._ma: (self._mb, "b"), self._mb: (self._ma, "a")}
        while self._running:
            try:
                ready, _, _ = select.select([self._ma, self._mb, self._wake_r], [], [], 1.0)
            except (OSError, ValueError):
                return
            for fd in ready:
                if fd == self._wake_r:
                    return
                try:
                    data = os.read(fd, 4096)
                except OSError as e:
                    if e.errno in (errno.EAGAIN, errno.EIO):
                        continue
                    return
                if not data:
                    continue
                out, side = route[fd]
                if self._cut:
                    with self._lock:
                        self.stats["bytes_dropped"] += len(data)
                    continue
                if self._take_corrupt(side):
                    data = data[:-1] + bytes([data[-1] ^ 0x5A])   # the CRC no longer matches
                    with self._lock:
                        self.stats["frames_corrupted"] += 1
                with self._lock:
                    self.stats["to_" + side] += len(data)
                self._write(out, data)
