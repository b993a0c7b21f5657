"""The durable outbox: every event is stored here before it is published and leaves only on its
PUBACK, so a broker outage, a crash or a restart loses nothing.

    box = Outbox("/var/lib/guardroom/outbox.sqlite", fsync_ms=50, controller="ctl-1")
    ev = box.append({"kind": "alarm", ...})     # -> the event with "seq" and "id" added
    box.pending()                               # [ev, ...] in seq order
    box.remove(ev["seq"])                       # after the broker's PUBACK

Storage is SQLite in WAL mode with ``synchronous=NORMAL``: an append is one small commit that
lands in the OS page cache (a SIGKILLed process loses nothing) and never waits for the disk.
A background thread fsyncs the WAL file at most every ``fsync_ms`` (group commit): a power cut
loses at most that window plus one fsync. Auto-checkpointing is off on the writer; the same
thread checkpoints, so the caller's thread never pays for an fsync.

``seq`` is gap-free and persisted in the same transaction as the row, so it survives restarts
and is never reused, even after rows are removed. ``id`` is ``f"{controller}-{seq}"``.

A full disk, a corrupt or unwritable database never raises out of ``append``/``remove``: the
outbox keeps every pending event in memory (it always mirrors them), sets ``healthy`` False and
``problem`` to a text, and calls ``on_trouble(text)`` once (from whichever thread found the
problem; a trouble found before ``on_trouble`` is set is delivered when it is set). If the
sequence counter itself could not be read, numbering restarts above the current Unix time in
milliseconds: a visible jump, never a reuse.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from typing import Callable, Iterable, Optional

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
CHECKPOINT_EVERY_S = 2.0      # the fsync thread checkpoints the WAL at most this often
CHECKPOINT_EVERY_ROWS = 2000  # ... or after this many writes


def _dumps(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


class Outbox:
    """Durable, ordered store of events waiting for their PUBACK. Not thread-safe: call it from
    one thread (the daemon's loop); only the fsync thread runs beside it."""

    def __init__(self, path: str, fsync_ms: int = 50, *, controller: str = "",
                 on_trouble: Optional[Callable[[str], None]] = None):
        self.path = path
        self.fsync_ms = max(0, int(fsync_ms))
        self.controller = controller
        self.healthy = True
        self.problem = ""
        self.fsyncs = 0               # fsyncs done by the background thread
        self.fsync_last_ms = 0.0      # duration of the last one
        self.fsync_max_ms = 0.0
        self._on_trouble = on_trouble
        self._trouble_sent = False
        self._trouble_waiting: Optional[str] = None
        self._pending: dict[int, tuple[dict, str]] = {}   # seq -> (event, json), seq order
        self._next_seq = 1
        self._written_seq = 0         # highest seq committed to the file
        self._durable_seq = 0         # highest seq known fsynced
        self._writes = 0              # commits since the last checkpoint
        self._db: Optional[sqlite3.Connection] = None
        self._closed = False
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._open()
        if self._db is not None and self.fsync_ms >= 0:
            self._thread = threading.Thread(target=self._fsync_loop, name="outbox-fsync",
                                            daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ public API
    @property
    def on_trouble(self) -> Optional[Callable[[str], None]]:
        return self._on_trouble

    @on_trouble.setter
    def on_trouble(self, fn: Optional[Callable[[str], None]]) -> None:
        self._on_trouble = fn
        if fn is not None and self._trouble_waiting is not None:
            text, self._trouble_waiting = self._trouble_waiting, None
            try:  # inside a running loop (the daemon's start()): deliver after this step
                asyncio.get_running_loop().call_soon(fn, text)
            except RuntimeError:
                fn(text)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def durable_seq(self) -> int:
        """Highest seq known to be on the disk (fsynced); 0 if none or in memory mode."""
        return self._durable_seq

    def depth(self) -> int:
        return len(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def append(self, event: dict) -> dict:
        """Store ``event`` (a copy, with ``seq`` and ``id`` added) and return it. Never waits
        for the disk; never raises on storage trouble (see the module doc)."""
        if self._closed:
            raise ValueError("outbox is closed")
        seq = self._next_seq
        ev = dict(event)
        ev["seq"] = seq
        ev["id"] = f"{self.controller}-{seq}" if self.controller else str(seq)
        body = _dumps(ev)
        self._next_seq = seq + 1
        self._pending[seq] = (ev, body)
        if self._db is not None:
            try:
                self._db.execute("INSERT INTO outbox(seq, body) VALUES (?, ?)", (seq, body))
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'",
                                 (seq + 1,))
                self._db.commit()
                self._written_seq = seq
                self._writes += 1
                self._dirty.set()
            except (sqlite3.Error, OSError) as e:
                self._degrade(f"cannot write {self.path}: {e}")
        return ev

    def remove(self, seq: int) -> bool:
        """Forget an acknowledged event. Returns False if it was not pending."""
        return self.remove_many((seq,)) == 1

    def remove_many(self, seqs: Iterable[int]) -> int:
        """Forget several acknowledged events in one commit; returns how many were pending."""
        gone = [s for s in seqs if self._pending.pop(s, None) is not None]
        if gone and self._db is not None:
            try:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in gone])
                self._db.commit()
                self._writes += 1
                self._dirty.set()
            except (sqlite3.Error, OSError) as e:
                self._degrade(f"cannot write {self.path}: {e}")
        return len(gone)

    def pending(self) -> list[dict]:
        """Every event not yet acknowledged, in seq order (copies)."""
        return [dict(ev) for ev, _ in self._pending.values()]

    def pending_seqs(self) -> list[int]:
        return list(self._pending)

    def get(self, seq: int) -> Optional[dict]:
        item = self._pending.get(seq)
        return item[0] if item else None

    def payload(self, seq: int) -> Optional[str]:
        """The stored JSON of a pending event (what the relay publishes)."""
        item = self._pending.get(seq)
        return item[1] if item else None

    def is_pending(self, seq: int) -> bool:
        return seq in self._pending

    def flush(self) -> None:
        """fsync the WAL now (blocking). The daemon never needs this; close() calls it."""
        self._fsync_once()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.Error as e:
                log.warning("outbox close: %s", e)
            self._db = None

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "disk" if self._db is not None else "memory"
        return f"<Outbox {self.path} {mode} depth={self.depth()} next_seq={self._next_seq}>"

    # ------------------------------------------------------------------ internals
    def _open(self) -> None:
        db = None
        try:
            d = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(d, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False,
                                 timeout=1.0)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL refused")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")   # the fsync thread checkpoints
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
            top = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
            if row is None:
                db.execute("INSERT INTO meta(key, value) VALUES ('next_seq', ?)", (top + 1,))
                nxt = top + 1
            else:
                nxt = max(int(row[0]), top + 1)
            db.commit()
            for seq, body in db.execute("SELECT seq, body FROM outbox ORDER BY seq"):
                try:
                    ev = json.loads(body)
                except ValueError:
                    log.error("outbox row %d is not JSON: dropped from the replay", seq)
                    continue
                self._pending[int(seq)] = (ev, body)
            self._next_seq = nxt
            self._written_seq = self._durable_seq = nxt - 1
            self._db = db
        except (sqlite3.Error, OSError) as e:
            if db is not None:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
            self._next_seq = max(self._next_seq, int(time.time() * 1000))
            self._degrade(f"cannot open {self.path}: {e}; numbering restarts at "
                          f"{self._next_seq}")

    def _degrade(self, text: str) -> None:
        """Switch to memory-only mode; report once."""
        db, self._db = self._db, None
        if db is not None:
            try:
                db.rollback()
                db.close()
            except sqlite3.Error:
                pass
        self._durable_seq = 0
        if not self.healthy:
            return
        self.healthy = False
        self.problem = f"{text}; outbox kept in memory only"
        log.error("outbox trouble: %s", self.problem)
        self._stop.set()
        self._dirty.set()
        if self._trouble_sent:
            return
        self._trouble_sent = True
        fn = self._on_trouble
        if fn is None:
            self._trouble_waiting = self.problem
            return
        try:
            fn(self.problem)
        except Exception:  # noqa: BLE001 - a callback bug must not lose the event
            log.exception("outbox on_trouble callback failed")

    def _fsync_once(self) -> None:
        if self._db is None:
            return
        wal = self.path + "-wal"
        target = self._written_seq
        t0 = time.perf_counter()
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        ms = (time.perf_counter() - t0) * 1000.0
        self.fsyncs += 1
        self.fsync_last_ms = ms
        self.fsync_max_ms = max(self.fsync_max_ms, ms)
        if self._durable_seq < target:
            self._durable_seq = target

    def _fsync_loop(self) -> None:
        """Group commit: fsync the WAL when something was written, then rest fsync_ms."""
        ck: Optional[sqlite3.Connection] = None
        last_ck = time.monotonic()
        ck_writes = 0
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                break
            self._dirty.clear()
            try:
                self._fsync_once()
                now = time.monotonic()
                if (self._writes - ck_writes >= CHECKPOINT_EVERY_ROWS
                        or now - last_ck >= CHECKPOINT_EVERY_S):
                    if ck is None:
                        ck = sqlite3.connect(self.path, timeout=0.5, check_same_thread=False)
                    # PASSIVE never blocks the writer; it fsyncs WAL then DB (NORMAL mode).
                    ck.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    ck_writes, last_ck = self._writes, now
            except (OSError, sqlite3.Error) as e:
                # Reported from this thread; the writer keeps the events in memory anyway.
                log.error("outbox fsync/checkpoint failed: %s", e)
                if isinstance(e, OSError):
                    self._problem_from_thread(f"cannot fsync {self.path}-wal: {e}")
                    break
            if self.fsync_ms:
                self._stop.wait(self.fsync_ms / 1000.0)
        if ck is not None:
            try:
                ck.close()
            except sqlite3.Error:
                pass

    def _problem_from_thread(self, text: str) -> None:
        # Do not touch the writer's connection from here; mark and report only.
        if not self.healthy:
            return
        self.healthy = False
        self.problem = f"{text}; durability not guaranteed"
        if not self._trouble_sent:
            self._trouble_sent = True
            fn = self._on_trouble
            if fn is None:
                self._trouble_waiting = self.problem
            else:
                try:
                    fn(self.problem)
                except Exception:  # noqa: BLE001
                    log.exception("outbox on_trouble callback failed")
