"""The seq guard: a tiny pre-allocated file that remembers the highest event seq ever issued, so
a seq number is never issued twice, whatever happens to the outbox database.

    g = SeqGuard("/var/lib/guardroom/outbox.sqlite.seq")
    floor = g.floor()        # the next seq must be >= this (None: the file told nothing)
    g.issue(last_seq)        # before a seq up to last_seq is handed out (page cache, no fsync)
    g.sync()                 # fsync if a reservation moved (the outbox's fsync thread)
    g.close(next_seq)        # clean stop: the exact value, no skip at the next start

The file holds one line ``issued reserved boot_id clean`` overwritten in place (``pwrite`` at
offset 0 of a file created 512 bytes long), so an update needs no new disk block and still works
on a full disk. ``issued`` is exact but reaches the disk only with the page cache; ``reserved``
runs ``BLOCK`` ahead and is fsynced, so a power cut is covered too:

* same boot (the process was killed; the page cache survived) or a clean stop: the next seq is
  ``issued + 1``: no gap;
* another boot after an unclean end (a power cut): ``reserved + 1``: a visible jump of at most
  ``BLOCK``, never a reuse.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

log = logging.getLogger(__name__)

BLOCK = 1000
SIZE = 512


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip().replace("-", "")[:32] or "-"
    except OSError:
        return "-"


class SeqGuard:
    """Not thread-safe except ``sync`` (called from the fsync thread)."""

    def __init__(self, path: str):
        self.path = path
        self.boot = boot_id()
        self.issued = 0
        self.reserved = 0
        self.ok = False                 # the file is open and was last written fine
        self.error = ""
        self._fd: Optional[int] = None
        self._need_sync = False
        self._floor: Optional[int] = None
        self._open()

    def _open(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as e:
            self.error = f"cannot open {self.path}: {e.strerror}"
            return
        try:
            raw = os.pread(fd, SIZE, 0)
            self._floor = self._parse(raw)
            if len(raw) < SIZE:          # new file: allocate its block now, while we can
                os.pwrite(fd, b"\n".ljust(SIZE, b" "), 0)
                os.fsync(fd)
        except OSError as e:
            os.close(fd)
            self.error = f"cannot prepare {self.path}: {e.strerror}"
            return
        self._fd = fd
        self.ok = True
        if self._floor:
            self.issued = self.reserved = self._floor - 1

    def _parse(self, raw: bytes) -> Optional[int]:
        parts = raw.split(b"\n", 1)[0].split()
        if len(parts) != 4:
            return None
        try:
            issued, reserved = int(parts[0]), int(parts[1])
        except ValueError:
            return None
        clean = parts[3] == b"1"
        if clean or parts[2].decode(errors="replace") == self.boot:
            return issued + 1
        return max(issued, reserved) + 1

    def floor(self) -> Optional[int]:
        """The lowest seq that may be issued next, as the file says (None if it says nothing)."""
        return self._floor

    def issue(self, last: int) -> bool:
        """Record that seqs up to ``last`` are (about to be) issued. False if it cannot."""
        if last <= self.issued and self.ok:
            return True
        self.issued = max(self.issued, last)
        if self.issued > self.reserved - BLOCK // 2:
            self.reserved = self.issued + BLOCK
            self._need_sync = True
        return self._write(clean=False)

    def _write(self, clean: bool) -> bool:
        if self._fd is None:
            return False
        line = f"{self.issued} {self.reserved} {self.boot} {1 if clean else 0}\n".encode()
        try:
            os.pwrite(self._fd, line.ljust(SIZE, b" "), 0)
        except OSError as e:
            if self.ok:
                self.error = f"cannot write {self.path}: {e.strerror}"
            self.ok = False
            return False
        self.ok = True
        return True

    def sync(self) -> None:
        """fsync when the reservation moved (cheap otherwise)."""
        if self._need_sync and self._fd is not None:
            self._need_sync = False
            try:
                os.fsync(self._fd)
            except OSError as e:
                self.ok = False
                self.error = f"cannot fsync {self.path}: {e.strerror}"

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def vanished(self) -> bool:
        """The open file is no longer the one at ``path`` (deleted or replaced): what is
        written would be lost at the next start."""
        if self._fd is None:
            return False
        try:
            st, mine = os.stat(self.path), os.fstat(self._fd)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino)

    def reopen(self, issued: int) -> bool:
        """Write the numbering again to a file at ``path`` (a new one, or the one found there
        if it says more), fsynced. False if it cannot."""
        issued, reserved = max(self.issued, issued), self.reserved
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        self.ok = False
        self._open()
        self.issued = max(self.issued, issued)
        self.reserved = max(self.reserved, reserved, self.issued + BLOCK)
        if not self._write(clean=False):
            return False
        try:
            os.fsync(self._fd)
        except OSError:
            return False
        return True

    def close(self, next_seq: int) -> None:
        """Clean stop: record the exact next seq, so the next start continues without a gap."""
        if self._fd is None:
            return
        self.issued = max(self.issued, next_seq - 1)
        if self._write(clean=True):
            try:
                os.fsync(self._fd)
            except OSError:
                pass
        os.close(self._fd)
        self._fd = None
