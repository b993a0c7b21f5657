"""The persisted engine state (arming, latches, bypasses, open incidents), kept in three
preallocated slot files written in place (``state.a``, ``state.b``, ``state.c``).

A save is one ``pwrite`` of a record (magic, sequence number, length, CRC-32, JSON) at offset 0
of a slot: no temp file, no rename, no allocation, so it costs microseconds on the alarm path.
``sync()`` (run in a worker thread) fsyncs the slot last written. At load the valid record with
the highest sequence number wins; a torn record fails its CRC and is skipped.

Which slot a save overwrites: never the one written last (a SIGKILL or a power cut in the middle
of this write leaves the previous state intact) and never the newest one known to be on disk
(fsynced, and not written to since): a power cut before the pending fsync finishes still finds
that one whole. Two slots cannot always honour both rules without waiting for the disk while an
fsync is in flight, so there are three. A legacy ``state.json`` (before slots) is read when no
slot holds a valid record, and removed once a slot is on disk.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from typing import Optional

log = logging.getLogger("guardroom.state")

MAGIC = b"GRSTATE1"
_HEAD = struct.Struct("<8sQII")      # magic, seq, payload length, crc32(seq, length, payload)
SLOTS = ("a", "b", "c")
PREALLOC = 64 * 1024


def encode(seq: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<QI", seq, len(payload))))
    return _HEAD.pack(MAGIC, seq, len(payload), crc) + payload


def decode(blob: bytes) -> Optional[tuple[int, dict]]:
    """(seq, data) of a slot's record, or None when it is empty, torn or foreign."""
    if len(blob) < _HEAD.size:
        return None
    magic, seq, n, crc = _HEAD.unpack_from(blob)
    payload = blob[_HEAD.size:_HEAD.size + n]
    if magic != MAGIC or len(payload) != n:
        return None
    if zlib.crc32(payload, zlib.crc32(struct.pack("<QI", seq, n))) != crc:
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return (seq, data) if isinstance(data, dict) else None


class StateFile:
    """``StateFile("/var/lib/guardroom/state")`` -> state.a/.b/.c (legacy: state.json)."""

    def __init__(self, base: str):
        if base.endswith(".json"):
            base = base[:-5]
        self.base = base
        self.path = base                        # for messages: the slot read at load
        self.legacy = base + ".json"
        self.paths = [f"{base}.{s}" for s in SLOTS]
        self._lock = threading.Lock()           # slot choice + pwrite (loop and worker)
        self._fds: list[Optional[int]] = [None] * len(SLOTS)
        self._seq = 0                           # last sequence number written or read
        self._slot_seq = [0] * len(SLOTS)       # seq of the record in each slot (0: none)
        self._last = -1                         # slot written (or loaded) last
        self._durable = -1                      # slot holding the newest fsynced record
        self._legacy_gone = False
        self._dir_dirty = False                 # a slot file was created: fsync the folder

    # ------------------------------------------------------------------ load
    def load(self) -> Optional[dict]:
        found = []
        bad = []
        for i, p in enumerate(self.paths):
            try:
                with open(p, "rb") as fh:
                    blob = fh.read()
            except FileNotFoundError:
                continue
            except OSError as e:
                log.error("state slot %s unreadable: %s", p, e)
                bad.append(p)
                continue
            rec = decode(blob)
            if rec is None:
                if blob.strip(b"\0"):
                    bad.append(p)
                continue
            self._slot_seq[i] = rec[0]
            found.append((rec[0], i, rec[1]))
        if found:
            seq, i, data = max(found)
            self._seq, self._last, self._durable = seq, i, i
            self.path = self.paths[i]
            if bad:
                log.warning("state slot(s) %s torn or unreadable; %s used (seq %d)",
                            ", ".join(bad), self.path, seq)
            return data if "engine" in data else None
        for p in bad:
            log.error("state slot %s unreadable and no other valid; kept as %s.corrupt", p, p)
            try:
                os.replace(p, p + ".corrupt")
            except OSError:
                pass
        return self._load_legacy()

    def _load_legacy(self) -> Optional[dict]:
        try:
            with open(self.legacy, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            self._legacy_gone = True
            return None
        except (OSError, ValueError) as e:
            bad = self.legacy + ".corrupt"
            log.error("state file %s unreadable (%s); kept as %s", self.legacy, e, bad)
            try:
                os.replace(self.legacy, bad)
            except OSError:
                pass
            self._legacy_gone = True
            return None
        self.path = self.legacy
        return data if isinstance(data, dict) and "engine" in data else None

    # ------------------------------------------------------------------ save
    def _fd(self, i: int) -> int:
        fd = self._fds[i]
        if fd is None:
            flags = os.O_RDWR | os.O_CLOEXEC
            try:
                fd = os.open(self.paths[i], flags | os.O_CREAT | os.O_EXCL, 0o600)
                self._dir_dirty = True
            except FileExistsError:
                fd = os.open(self.paths[i], flags)
            try:
                if os.fstat(fd).st_size < PREALLOC:
                    os.posix_fallocate(fd, 0, PREALLOC)
            except OSError:
                pass                   # not supported here: the first write allocates
            self._fds[i] = fd
        return fd

    def _target(self) -> int:
        """Neither the slot written last nor the newest on-disk one; the oldest of the rest."""
        free = [i for i in range(len(SLOTS)) if i != self._last and i != self._durable]
        return min(free, key=lambda i: self._slot_seq[i])

    def save(self, data: dict, sync: bool = True) -> None:
        """Write the state into a slot. ``sync=False`` leaves the fsync to ``sync()``: the new
        state then survives a killed process (it is in the page cache) but not yet a power cut
        (the previous on-disk state does)."""
        # (a fresh tree of dicts and lists from the engine's snapshot: no cycle to look for;
        # skipping that check makes the JSON a third cheaper on the alarm path)
        payload = json.dumps(data, separators=(",", ":"), check_circular=False).encode()
        with self._lock:
            i = self._target()
            seq = self._seq + 1
            rec = encode(seq, payload)
            fd = self._fd(i)
            n = os.pwrite(fd, rec, 0)
            if n != len(rec):
                raise OSError(f"state slot {self.paths[i]}: short write ({n} of {len(rec)})")
            self._seq, self._last = seq, i
            self._slot_seq[i] = seq
        if sync:
            self.sync()

    def sync(self) -> None:
        """Make the last save durable. Runs in a worker thread; the loop may save meanwhile."""
        with self._lock:
            i, seq = self._last, self._seq
            if i < 0:
                return
            fd = self._fd(i)
        os.fsync(fd)
        with self._lock:
            # durable only if nothing was written into that slot while fsync ran
            whole = self._slot_seq[i] == seq
            if whole and (self._durable < 0 or seq > self._slot_seq[self._durable]):
                self._durable = i
        if whole and not self._legacy_gone:
            self._legacy_gone = True
            try:
                os.unlink(self.legacy)
                self._dir_dirty = True
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("old state file %s not removed: %s", self.legacy, e)
        if self._dir_dirty:
            self._dir_dirty = False
            self._sync_dir()

    def close(self) -> None:
        with self._lock:
            for i, fd in enumerate(self._fds):
                if fd is not None:
                    os.close(fd)
                    self._fds[i] = None

    def _sync_dir(self) -> None:
        try:
            dfd = os.open(os.path.dirname(os.path.abspath(self.base)), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
