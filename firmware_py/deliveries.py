"""The delivery record: when each event reached the broker (PUBACK) and when the platform's
acks arrived, uplink up/down changes and each start with its config hash: the real figures
behind a drill or inspection report (``guardroom report``).

    rec = DeliveryRecord("/var/lib/guardroom/deliveries.sqlite")
    rec.sent(seq, key)          # the event got its seq (key = event_key(event))
    rec.puback(seq)             # the broker acknowledged it
    rec.ack(incident, user)     # an ack from the platform arrived
    rec.uplink(up)              # the supervised uplink went up or down
    rec.started(sha, version); rec.alive(); rec.stopped()    # each run, for availability

Every call only queues a tuple with the wall time (``time.time()``); a writer thread commits
in batches, so the alarm loop never waits for the disk. Its own SQLite file: it never locks
the event log. Rows older than ``keep`` of each kind are pruned. It is evidence for reports,
not the alarm path: a lost tail after a power cut only leaves a figure blank.
"""
from __future__ import annotations

import hashlib
import logging
import os
import queue
import sqlite3
import threading
import time
from typing import Optional

from .eventlog import canonical

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, t REAL NOT NULL,
                                 puback REAL);
CREATE INDEX IF NOT EXISTS sent_key ON sent(key);
CREATE TABLE IF NOT EXISTS acks (id INTEGER PRIMARY KEY AUTOINCREMENT, incident INTEGER NOT NULL,
                                 user TEXT NOT NULL, t REAL NOT NULL);
CREATE TABLE IF NOT EXISTS uplink (id INTEGER PRIMARY KEY AUTOINCREMENT, state TEXT NOT NULL,
                                   t REAL NOT NULL);
CREATE TABLE IF NOT EXISTS starts (id INTEGER PRIMARY KEY AUTOINCREMENT, t REAL NOT NULL,
                                   config_sha256 TEXT NOT NULL, version TEXT NOT NULL,
                                   alive REAL);
"""
FILE_NAME = "deliveries.sqlite"


def event_key(event: dict) -> str:
    """Identifies an event in the event log and in the record: a hash of its canonical body
    without ``seq``/``id`` (the outbox adds those after the event is logged)."""
    body = {k: v for k, v in event.items() if k not in ("seq", "id", "row")}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()[:20]


class DeliveryRecord:
    """Writer used by the daemon (every method is cheap and never raises)."""

    def __init__(self, path: str, keep: int = 100_000):
        self.path = path
        self.keep = max(1000, int(keep))
        self._q: "queue.SimpleQueue[Optional[tuple]]" = queue.SimpleQueue()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(starts)")]
        if "alive" not in cols:   # a record from before `alive` existed
            self._db.execute("ALTER TABLE starts ADD COLUMN alive REAL")
        self._writes = 0
        self._thread = threading.Thread(target=self._writer, name="delivery-record",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ loop side
    def sent(self, seq: int, key: str) -> None:
        self._q.put(("sent", int(seq), key, time.time()))

    def puback(self, seq: int, wall: Optional[float] = None) -> None:
        self._q.put(("puback", int(seq), time.time() if wall is None else wall))

    def ack(self, incident: int, user: str) -> None:
        self._q.put(("ack", int(incident), str(user)[:64], time.time()))

    def uplink(self, up: bool) -> None:
        self._q.put(("uplink", "up" if up else "down", time.time()))

    def started(self, config_sha256: str, version: str) -> None:
        self._q.put(("start", config_sha256, version, time.time()))

    def alive(self) -> None:
        """The controller still runs (every minute): bounds a run that ends in a crash."""
        self._q.put(("alive", time.time()))

    def stopped(self) -> None:
        self._q.put(("uplink", "stop", time.time()))

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(5)
        try:
            self._db.close()
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ writer thread
    def _writer(self) -> None:
        while True:
            item = self._q.get()
            batch = [item]
            while True:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            try:
                self._write([b for b in batch if b is not None])
            except sqlite3.Error as e:
                log.error("delivery record %s: %s", self.path, e)
            if stop:
                return
            time.sleep(0.05)  # let a burst gather into one commit

    def _write(self, batch: list[tuple]) -> None:
        if not batch:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            for item in batch:
                what = item[0]
                if what == "sent":
                    db.execute("INSERT OR REPLACE INTO sent(seq, key, t, puback) VALUES "
                               "(?, ?, ?, (SELECT puback FROM sent WHERE seq=?))",
                               (item[1], item[2], item[3], item[1]))
                elif what == "puback":   # the first PUBACK counts (a replay is a duplicate)
                    db.execute("UPDATE sent SET puback=? WHERE seq=? AND puback IS NULL",
                               (item[2], item[1]))
                elif what == "ack":
                    db.execute("INSERT INTO acks(incident, user, t) VALUES (?, ?, ?)", item[1:])
                elif what == "uplink":
                    db.execute("INSERT INTO uplink(state, t) VALUES (?, ?)", item[1:])
                elif what == "alive":
                    db.execute("UPDATE starts SET alive=? WHERE id=(SELECT MAX(id) FROM starts)",
                               (item[1],))
                elif what == "start":
                    db.execute("INSERT INTO starts(config_sha256, version, t) VALUES (?, ?, ?)",
                               item[1:])
                    db.execute("INSERT INTO uplink(state, t) VALUES ('start', ?)", (item[3],))
            self._writes += len(batch)
            if self._writes > 5000:
                self._writes = 0
                for table, col in (("sent", "seq"), ("acks", "id"), ("uplink", "id")):
                    db.execute(f"DELETE FROM {table} WHERE {col} <= "
                               f"(SELECT MAX({col}) FROM {table}) - ?", (self.keep,))
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise


def config_sha256(path: Optional[str]) -> str:
    """sha256 of the config file's bytes ('' when unknown)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def record_path(storage_dir: str) -> str:
    return os.path.join(storage_dir, FILE_NAME)
