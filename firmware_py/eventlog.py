"""The event log: every event the controller made, hash-chained so an edited, inserted or deleted
row is detected, kept through restarts and power cuts, rotated beyond ``keep`` rows.

    log = EventLog("/var/lib/guardroom/events.sqlite", keep=100_000)
    row = log.append({"ts": "...", "kind": "alarm", ...})
    ok, checked, first_bad = log.verify()
    log.export(sys.stdout, fmt="jsonl")        # every line carries its hash: verifiable offline

Each row stores the record as canonical JSON (sorted keys, no spaces) and
``hash = sha256(prev_hash + canonical_json)`` (hex; the first row's prev_hash is 64 zeros).
Rotation deletes the oldest rows in chunks and keeps the *anchor*: the hash (and row number) of
the last deleted row, so ``verify`` still checks the whole remaining chain.

Appends are cheap: the row is inserted in an open transaction that a small committer thread
commits every ``commit_ms`` (WAL, ``synchronous=NORMAL``: a killed process loses nothing that
was committed; a power cut can lose the last commit window). The log is not the alarm path, but
the daemon appends from its loop, so the lock is held only for short steps: a commit never
checkpoints (``wal_autocheckpoint=0``); the committer checkpoints on its own connection without
the lock (PASSIVE past CK_BYTES of WAL, TRUNCATE past WAL_MAX).

A file deleted or replaced while open (SQLite would keep writing to the unlinked inode, and the
next start would find nothing, or someone else's file) is noticed by the committer thread every
``CHECK_S``: ``on_trouble(text)``, then every row the old connection still holds is copied, a
page at a time with the lock released between pages, into a new file put at the path (a file
found there is kept as ``<path>.replaced-<unix time>``), then ``on_recover(text)``. Row numbers
and the hash chain continue: ``verify()`` passes across the move.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from typing import Callable, IO, Optional

from . import sqlitefile
from .errors import StorageError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CHECK_S = 2.0        # how often the committer checks that the file is still at its path
MOVE_PAGE = 1000     # rows copied per hold of the lock when the file vanished
CK_BYTES = 4 * 1024 * 1024      # the committer checkpoints (PASSIVE) a WAL past this ...
WAL_MAX = 16 * 1024 * 1024      # ... and truncates one past this
CSV_COLUMNS = ("row", "ts", "kind", "cid", "area", "zone", "incident", "verified", "silent",
               "drill", "user", "text", "hash")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (row INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL,
                                hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS anchor (id INTEGER PRIMARY KEY CHECK (id = 1), row INTEGER NOT NULL,
                                   hash TEXT NOT NULL);
"""


def canonical(record: dict) -> str:
    """The exact text that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class EventLog:
    """Append-only, hash-chained SQLite log. Safe to call from several threads."""

    def __init__(self, path: str, keep: int = 100_000, *, commit_ms: int = 100,
                 rotate_chunk: Optional[int] = None):
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.path = path
        self.keep = int(keep)
        self.rotate_chunk = int(rotate_chunk or max(1, min(10_000, self.keep // 10)))
        self.commit_ms = commit_ms
        self._lock = threading.RLock()
        self._subs: list[Callable[[int, dict], None]] = []
        #: ``on_trouble(text)`` / ``on_recover(text)``: the file vanished / is back (called
        #: from the committer thread)
        self.on_trouble: Optional[Callable[[str], None]] = None
        self.on_recover: Optional[Callable[[str], None]] = None
        self.problem = ""
        self._check_lock = threading.Lock()    # one check (and move) at a time
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._db = self._connect()
            self._ident = sqlitefile.ident(path)
            self._side = sqlitefile.side_idents(path)
            row = self._db.execute("SELECT row, hash FROM log ORDER BY row DESC LIMIT 1"
                                   ).fetchone()
            if row is None:
                a = self._db.execute("SELECT hash FROM anchor WHERE id=1").fetchone()
                self._head = a[0] if a else GENESIS
            else:
                self._head = row[1]
            self._count = self._db.execute("SELECT COUNT(*) FROM log").fetchone()[0]
        except sqlite3.Error as e:
            raise StorageError(f"event log {path}: {e}") from None
        self._in_txn = False
        self._uncommitted = 0
        self._ck: Optional[sqlite3.Connection] = None    # the committer's, for checkpoints
        self.checkpoint_max_ms = 0.0
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._committer, name="eventlog-commit",
                                        daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=2.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")     # the committer checkpoints
            db.execute(f"PRAGMA journal_size_limit={WAL_MAX}")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    # ------------------------------------------------------------------ writing
    def append(self, record: dict) -> int:
        """Add one record; returns its row number. The commit follows within commit_ms."""
        body = canonical(record)
        with self._lock:
            if self._closed:
                raise StorageError("event log is closed")
            h = chain_hash(self._head, body)
            try:
                if not self._in_txn:
                    self._db.execute("BEGIN")
                    self._in_txn = True
                cur = self._db.execute("INSERT INTO log(body, hash) VALUES (?, ?)", (body, h))
            except sqlite3.Error as e:
                raise StorageError(f"event log {self.path}: {e}") from None
            row = cur.lastrowid
            self._head = h
            self._count += 1
            self._uncommitted += 1
            if self._count > self.keep + self.rotate_chunk:
                self._rotate()
        self._wake.set()
        for fn in list(self._subs):
            try:
                fn(row, record)
            except Exception:  # noqa: BLE001 - a follower must not break the log
                log.exception("event log subscriber failed")
        return row

    def append_many(self, records: list) -> None:
        """Add several records under one lock and one committer wake-up (a burst)."""
        if not records:
            return
        bodies = [canonical(r) for r in records]
        rows = []
        with self._lock:
            if self._closed:
                raise StorageError("event log is closed")
            head = self._head
            try:
                if not self._in_txn:
                    self._db.execute("BEGIN")
                    self._in_txn = True
                ex = self._db.execute
                for body in bodies:
                    h = chain_hash(head, body)
                    rows.append(ex("INSERT INTO log(body, hash) VALUES (?, ?)",
                                   (body, h)).lastrowid)
                    head = h
            except sqlite3.Error as e:
                self._head = head
                self._count += len(rows)
                raise StorageError(f"event log {self.path}: {e}") from None
            self._head = head
            self._count += len(rows)
            self._uncommitted += len(rows)
            if self._count > self.keep + self.rotate_chunk:
                self._rotate()
        self._wake.set()
        if self._subs:
            for row, record in zip(rows, records):
                for fn in list(self._subs):
                    try:
                        fn(row, record)
                    except Exception:  # noqa: BLE001 - a follower must not break the log
                        log.exception("event log subscriber failed")

    def commit(self) -> None:
        """Commit now (append commits by itself within commit_ms)."""
        with self._lock:
            if self._in_txn:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as e:
                    log.error("event log commit failed: %s", e)
                    return
                self._in_txn = False
                self._uncommitted = 0

    def _rotate(self) -> None:
        """Delete the oldest rows down to ``keep``; remember the last deleted hash (lock held)."""
        excess = self._count - self.keep
        last = self._db.execute("SELECT row, hash FROM log ORDER BY row LIMIT 1 OFFSET ?",
                                (excess - 1,)).fetchone()
        if last is None:
            return
        self._db.execute("DELETE FROM log WHERE row <= ?", (last[0],))
        self._db.execute("INSERT OR REPLACE INTO anchor(id, row, hash) VALUES (1, ?, ?)",
                         (last[0], last[1]))
        self._count -= excess

    def _committer(self) -> None:
        next_check = time.monotonic() + CHECK_S
        while True:
            woke = self._wake.wait(CHECK_S)
            if self._closed:
                return
            if woke:
                self._wake.clear()
                # Let a burst accumulate into one commit.
                threading.Event().wait(self.commit_ms / 1000.0)
                self.commit()
                try:
                    with self._check_lock:
                        self._checkpoint()
                except sqlite3.Error as e:     # busy, or the file went: next time
                    log.debug("event log checkpoint: %s", e)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CHECK_S
                try:
                    self.check_file()
                except Exception:  # noqa: BLE001 - the committer must go on
                    log.exception("event log file check failed")

    def _checkpoint(self) -> None:
        """(committer, without the log's lock) Backfill a WAL past CK_BYTES on the committer's
        own connection: PASSIVE never blocks the appends; one past WAL_MAX is truncated (that
        waits for a commit in progress, at most the 0.2 s busy timeout)."""
        try:
            wal = os.path.getsize(self.path + "-wal")
        except OSError:
            return
        if wal < CK_BYTES or self._closed:
            return
        if self._ck is None:
            self._ck = sqlitefile.open_existing(self.path)
        t0 = time.perf_counter()
        self._ck.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if wal > WAL_MAX else 'PASSIVE'})"
                         ).fetchall()
        self.checkpoint_max_ms = max(self.checkpoint_max_ms, (time.perf_counter() - t0) * 1e3)

    def _close_ck(self) -> None:
        sqlitefile.close_quietly(self._ck)
        self._ck = None

    # ------------------------------------------------------------------ a vanished file
    def check_file(self) -> bool:
        """Is the open file still the one at ``path``? If not (deleted, or replaced by another
        file), report it and move what the old file holds to a new file at the path. The
        committer thread calls this every CHECK_S. Returns True when the file is in place."""
        with self._check_lock:
            return self._check_file()

    def _check_file(self) -> bool:
        now = sqlitefile.ident(self.path)
        if now == self._ident or self._closed:
            return True
        what = "deleted" if now is None else "replaced by another file"
        if not self.problem:
            self.problem = (f"event log {self.path} was {what} while open; its {self._count} "
                            "rows are copied to a new file")
            log.error("storage trouble: %s", self.problem)
            self._call(self.on_trouble, self.problem)
        try:
            self._move()
        except (sqlite3.Error, OSError) as e:
            log.error("event log: moving %s to a new file failed: %s (tried again in %g s)",
                      self.path, e, CHECK_S)
            return False
        text = f"event log {self.path} back on disk with {self._count} rows"
        self.problem = ""
        log.warning("%s", text)
        self._call(self.on_recover, text)
        return True

    def _call(self, fn, text: str) -> None:
        if fn is not None:
            try:
                fn(text)
            except Exception:  # noqa: BLE001
                log.exception("event log callback failed")

    def _move(self) -> None:
        """Copy every row the old connection holds (MOVE_PAGE rows per hold of the lock:
        appends go on meanwhile, to the old file, and are copied too), the anchor and the row
        counter into ``<path>.rescue``; then, under the lock, the last rows, the copy put at the
        path and opened. The old connection is closed after the lock is released (SQLite sees
        its file moved: closing it neither checkpoints nor deletes a WAL by its name)."""
        rescue = self.path + ".rescue"
        sqlitefile.remove(rescue)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        out = sqlite3.connect(rescue, isolation_level=None)
        old = None
        try:
            out.executescript(_SCHEMA)
            after = 0
            while True:
                with self._lock:
                    rows = self._db.execute("SELECT row, body, hash FROM log WHERE row > ? "
                                            "ORDER BY row LIMIT ?", (after, MOVE_PAGE)
                                            ).fetchall()
                    if len(rows) < MOVE_PAGE:
                        old = self._finish_move(out, rows, rescue)
                        break
                out.execute("BEGIN")
                out.executemany("INSERT INTO log(row, body, hash) VALUES (?, ?, ?)", rows)
                out.execute("COMMIT")
                after = rows[-1][0]
        finally:
            out.close()
        self._close_ck()                   # on the old file too (called under _check_lock)
        try:
            old.close()
        except sqlite3.Error:
            pass

    def _finish_move(self, out: sqlite3.Connection, rows: list,
                     rescue: str) -> sqlite3.Connection:
        """(lock held) The last rows, the anchor and the row counter; the copy in place and
        in use. Returns the old connection (to be closed without the lock)."""
        a = self._db.execute("SELECT row, hash FROM anchor WHERE id=1").fetchone()
        counter = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='log'"
                                   ).fetchone()
        out.execute("BEGIN")
        out.executemany("INSERT INTO log(row, body, hash) VALUES (?, ?, ?)", rows)
        if a is not None:
            out.execute("INSERT OR REPLACE INTO anchor(id, row, hash) VALUES (1, ?, ?)", a)
        if counter is not None:            # row numbers continue, never reused
            out.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name='log'",
                        (counter[0],))
            out.execute("INSERT INTO sqlite_sequence(name, seq) SELECT 'log', ? WHERE NOT "
                        "EXISTS (SELECT 1 FROM sqlite_sequence WHERE name='log')",
                        (counter[0],))
        out.execute("COMMIT")
        out.close()
        old = self._db
        if self._in_txn:                   # its rows are in the copy: not written twice
            try:
                old.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        self._in_txn = False
        self._uncommitted = 0
        try:
            aside = sqlitefile.put_in_place(rescue, self.path, self._side)
            if aside:
                log.error("event log: the file found at %s is kept as %s", self.path, aside)
        finally:   # the copy, or (it could not be put in place) whatever the path gives
            self._db = self._connect()
            self._ident = sqlitefile.ident(self.path)
            self._side = sqlitefile.side_idents(self.path)
        return old

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._count

    @property
    def head(self) -> str:
        """The hash of the newest row (publish or write it down to pin the whole chain)."""
        return self._head

    def anchor(self) -> tuple[int, str]:
        """(row, hash) of the last rotated-out row, or (0, GENESIS)."""
        with self._lock:
            a = self._db.execute("SELECT row, hash FROM anchor WHERE id=1").fetchone()
        return (a[0], a[1]) if a else (0, GENESIS)

    def verify(self) -> tuple[bool, int, Optional[int]]:
        """Walk the chain from the anchor: ``(ok, rows checked, first bad row or None)``."""
        _, prev = self.anchor()
        checked = 0
        with self._lock:
            rows = self._db.execute("SELECT row, body, hash FROM log ORDER BY row").fetchall()
        for row, body, h in rows:
            if chain_hash(prev, body) != h:
                return False, checked, row
            prev = h
            checked += 1
        return True, checked, None

    def tail(self, n: int = 20) -> list[dict]:
        """The last ``n`` records, oldest first, each with its ``row`` number added."""
        with self._lock:
            rows = self._db.execute("SELECT row, body FROM log ORDER BY row DESC LIMIT ?",
                                    (int(n),)).fetchall()
        out = []
        for row, body in reversed(rows):
            rec = json.loads(body)
            rec["row"] = row
            out.append(rec)
        return out

    def subscribe(self, callback: Callable[[int, dict], None]) -> None:
        """``callback(row, record)`` after every append, in the appending thread."""
        self._subs.append(callback)

    def unsubscribe(self, callback: Callable[[int, dict], None]) -> None:
        try:
            self._subs.remove(callback)
        except ValueError:
            pass

    def export(self, fh: IO[str], fmt: str = "jsonl", since_row: int = 0) -> int:
        """Write rows after ``since_row`` to a text file; returns how many.

        ``jsonl``: one ``{"row": n, "hash": "...", "record": {...}}`` per line; the first line
        is ``{"anchor": {"row": n, "hash": "..."}}`` so the export verifies on its own.
        ``csv``: the columns of CSV_COLUMNS, for a spreadsheet."""
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
        with self._lock:
            rows = self._db.execute("SELECT row, body, hash FROM log WHERE row > ? ORDER BY row",
                                    (int(since_row),)).fetchall()
            prev = self._db.execute("SELECT hash FROM log WHERE row <= ? ORDER BY row DESC "
                                    "LIMIT 1", (int(since_row),)).fetchone()
        if fmt == "jsonl":
            if rows:
                a_row, a_hash = self.anchor()
                if prev is not None:
                    a_row, a_hash = rows[0][0] - 1, prev[0]
                fh.write(json.dumps({"anchor": {"row": a_row, "hash": a_hash}}) + "\n")
            for row, body, h in rows:
                fh.write('{"row":%d,"hash":"%s","record":%s}\n' % (row, h, body))
        else:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for row, body, h in rows:
                rec = json.loads(body)
                w.writerow([row] + [rec.get(c, "") for c in CSV_COLUMNS[1:-1]] + [h])
        return len(rows)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.commit()
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        with self._check_lock:
            self._close_ck()
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.Error as e:
                log.warning("event log close: %s", e)

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def verify_export(lines) -> tuple[bool, int, Optional[int]]:
    """Verify a jsonl export on its own (an auditor's copy): same answer as ``verify``."""
    prev, checked = GENESIS, 0
    for line in lines:
        if not line.strip():
            continue
        obj = json.loads(line)
        if "anchor" in obj:
            prev = obj["anchor"]["hash"]
            continue
        if chain_hash(prev, canonical(obj["record"])) != obj["hash"]:
            return False, checked, obj.get("row")
        prev = obj["hash"]
        checked += 1
    return True, checked, None


# ---------------------------------------------------------------------- the head leaves the device
def head_of(elog: "EventLog") -> tuple[int, str]:
    """(row, hash) of the newest row; (anchor row, anchor hash) when every row rotated out,
    (0, GENESIS) for an empty log. Published in the retained state so the head is pinned
    outside the device."""
    with elog._lock:
        r = elog._db.execute("SELECT row, hash FROM log ORDER BY row DESC LIMIT 1").fetchone()
    return (int(r[0]), r[1]) if r else elog.anchor()


def verify_head(elog: "EventLog", row: int, want: str) -> tuple[bool, str]:
    """Does the log still hold the head (row, hash) that was published earlier? A chain
    recomputed after an edit changes every later hash; rows cut off at the tail lose the row:
    both fail here although ``verify()`` alone passes. (ok, what was found)."""
    a_row, a_hash = elog.anchor()
    with elog._lock:
        r = elog._db.execute("SELECT hash FROM log WHERE row = ?", (int(row),)).fetchone()
    if r is None:
        if row == a_row and a_row:
            got = a_hash
        elif 0 < row < a_row:
            return False, (f"row {row} rotated out (the log keeps rows after {a_row}): "
                           "check a newer head")
        else:
            last = head_of(elog)[0]
            return False, f"row {row} is missing: the log ends at row {last} (truncated?)"
    else:
        got = r[0]
    if got != want.lower():
        return False, f"row {row} has hash {got[:16]}..., the head said {want[:16]}..."
    return True, f"row {row} has the published hash"
