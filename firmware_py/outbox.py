"""The durable outbox: every event is stored here before it is published and leaves only on its
PUBACK, so a broker outage, a crash, a restart or a full disk loses nothing.

    box = Outbox("/var/lib/guardroom/outbox.sqlite", fsync_ms=50, controller="ctl-1")
    evs = box.append_many([{"kind": "alarm", ...}, ...])   # one transaction; "seq", "id" added
    cur = box.cursor()              # one per connection: events in send order, read in pages
    cur.take(20)                    # -> [(seq, json), ...]: alarm-class first, then the rest
    box.remove_many([seq, ...])     # after the broker's PUBACKs
    box.maintain()                  # now and then (the relay's tick): back to disk, shedding

The public API is this list plus ``append``, ``remove``, ``depth``, ``next_seq``,
``durable_seq``, ``healthy``, ``problem``, ``is_pending``, ``payload``, ``pending`` (tests and
tools: reads everything), ``flush``, ``close``, ``wait_move`` (tests), and the callbacks
``on_trouble(text)``, ``on_recover(text)``, ``on_event(event)``, ``on_wake()`` (from a thread:
call ``maintain()`` soon). Several instances (one per uplink path) may live in one process, each
on its own file.

Storage: SQLite in WAL mode, ``synchronous=NORMAL``. A batch is one commit into the OS page
cache (a SIGKILLed process loses nothing) that never waits for the disk; the ``outbox-fsync``
thread fsyncs the WAL at most every ``fsync_ms`` and checkpoints it, truncating it when it grew
past ``WAL_MAX`` bytes. Pending events are NOT mirrored in memory: a cursor reads them in pages,
so memory does not grow with the backlog.

Order: every event has a *lane*: 0 for alarm-class events (``alarm_class``), 1 for the rest. A
cursor gives lane 0 first, each lane in seq order, so a panic overtakes a backlog of troubles.
``seq`` is gap-free (the platform orders by it, see docs/operator/mqtt.md).

Seq is never issued twice: a ``SeqGuard`` file records the highest seq before it is handed out,
in place, on a full disk too; see firmware_py/seqguard.py. Only if neither the database nor the
guard file can be read or written does numbering jump to the Unix time in milliseconds.

Full disk: a reserve file of ``reserve_bytes`` is kept beside the database. When a write fails
for lack of space the reserve is deleted, the write retried, and until space returns only
*essential* events (alarm-class, storage trouble, shedding summaries) go to disk; the others are
held in memory (at most ``mem_max``; beyond that the oldest non-essential ones are shed and
counted). Any other storage failure (corrupt, vanished, read-only) holds every event in memory.
Either way ``healthy`` turns False, ``on_trouble(text)`` is called once per episode (a trouble
found before ``on_trouble`` is set is delivered when it is set), and ``maintain()`` retries
every ``RETRY_S``: once the database is writable and the reserve rebuilt, the held events are
written back and ``on_recover(text)`` is called. A corrupt file found at open is renamed
``<path>.corrupt-<unix time>`` and a new one started. A file deleted or replaced while open
(SQLite would keep writing to the unlinked inode) is found by ``maintain()`` (every CHECK_S):
storage trouble, then everything pending is copied to a new file at the path, on a thread
(``_start_move``), and put in place by the next ``maintain()`` (``_finish_move``).

Space: new files use incremental auto_vacuum; after a drain the fsync thread gives the free
pages back to the file system a few hundred at a time, beside the writer (``_compact``).

Disk cap: when the database holds more than ``max_bytes``, the oldest non-essential lane 1
events are deleted and one summary event (cid 1624, ``shed``: seq range, count, counts per
zone/kind) is appended in their place; alarm-class events are never shed.
"""
from __future__ import annotations

import asyncio
import bisect
import contextlib
import errno
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from typing import Callable, Iterable, Optional

from . import sqlitefile
from .seqguard import SeqGuard

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL,
                                   lane INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
CHECKPOINT_EVERY_S = 2.0      # the fsync thread checkpoints the WAL at most this often
CHECKPOINT_EVERY_ROWS = 20    # ... or after this many commits
WAL_MAX = 16 * 1024 * 1024    # a WAL past this is truncated by the fsync thread
PAGE = 256                    # rows a cursor reads at once
CHECK_S = 2.0                 # maintain(): how often the file is checked to still be at its path
RETRY_S = 2.0                 # maintain(): how often a troubled outbox tries the disk again
MOVE_PAGES = 256              # pages per step when a vanished file is copied (a thread)
COMPACT_MIN = 1024 * 1024     # free space in the file that starts a compaction (bytes)
COMPACT_PAGES = 256           # pages given back per incremental_vacuum step
COMPACT_QUIET_S = 0.2         # a step waits until the writer has been quiet this long ...
COMPACT_WAIT_MAX_S = 0.5      # ... or for at most this long (a steady trickle of events)
COMPACT_REST_S = 0.05         # rest between steps
COMPACT_CONVERT_MAX = 1024 * 1024   # a file without auto_vacuum is converted (VACUUM) only
                                    # when it holds at most this much
LOG_EVERY_S = 60.0            # while in trouble, one summary log line at most this often
SHED_CID = "1624"             # Contact ID 624: event log overflow

#: Contact ID codes of alarm-class events that are not of kind alarm/verified/fallback
ALARM_CIDS = frozenset({383})
ALARM_KINDS = frozenset({"alarm", "verified", "fallback", "duress", "panic", "sabotage",
                         "tamper"})
#: events stored even on a full disk, beside alarm-class ones (storage trouble and restore)
ESSENTIAL_CIDS = frozenset({"1300", "3300", SHED_CID})


def alarm_class(ev: dict) -> bool:
    """Alarm, verified, duress, panic, fallback, sabotage, tamper: the kind says so, or the
    event is a new (qualifier 1) Contact ID alarm (1xx) or sensor tamper (383)."""
    if ev.get("kind") in ALARM_KINDS:
        return True
    cid = ev.get("cid")
    if isinstance(cid, str) and len(cid) == 4 and cid.isdigit() and cid[0] == "1":
        code = int(cid[1:])
        return 100 <= code <= 199 or code in ALARM_CIDS
    return False


def essential(ev: dict) -> bool:
    """Stored even on a full disk: alarm-class, storage trouble/restore, shedding summaries."""
    return alarm_class(ev) or ev.get("cid") in ESSENTIAL_CIDS


def _dumps(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


def _is_full(e: BaseException) -> bool:
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    text = str(e).lower()
    return "full" in text or "no space" in text or "too large" in text


class SendCursor:
    """The pending events of one connection, in send order: lane 0 (alarm-class) first, each
    lane in seq order. New events appended later are seen; a new alarm comes next."""

    def __init__(self, box: "Outbox"):
        self._box = box
        self._after = [0, 0]                       # highest seq read, per lane
        self._buf = (deque(), deque())
        self.slow_taken = 0                        # lane-1 events in the last take()
        self.slow_held = False                     # the last take() held lane 1 back

    def take(self, n: int, slow: Optional[int] = None) -> list[tuple[int, str]]:
        """Up to ``n`` events in send order, of which at most ``slow`` from lane 1 (non-alarm;
        None = no limit: the relay paces that lane). Afterwards ``slow_taken`` is how many
        lane-1 events were taken and ``slow_held`` is True when ``slow`` stopped lane 1 while
        it still had events (the caller comes back when it may send more)."""
        out: list[tuple[int, str]] = []
        buf = self._buf[0]
        while len(out) < n:
            if not buf and not self._fill(0):
                break
            out.append(buf.popleft())
        fast = len(out)
        cap = n if slow is None else min(n, fast + max(0, slow))
        buf = self._buf[1]
        while len(out) < cap:
            if not buf and not self._fill(1):
                break
            out.append(buf.popleft())
        self.slow_taken = len(out) - fast
        self.slow_held = (len(out) == cap < n and (bool(buf) or self._fill(1)))
        return out

    def has_alarm(self) -> bool:
        """True when an alarm-class event is waiting (buffered or newer than what was read)."""
        return bool(self._buf[0]) or self._box._top[0] > self._after[0]

    def _fill(self, lane: int) -> bool:
        rows = self._box._read(lane, self._after[lane], PAGE)
        if not rows:
            return False
        self._after[lane] = rows[-1][0]
        self._buf[lane].extend(rows)
        return True


class Outbox:
    """Durable, ordered store of events waiting for their PUBACK. Not thread-safe: call it from
    one thread (the daemon's loop); only the fsync thread runs beside it."""

    def __init__(self, path: str, fsync_ms: int = 50, *, controller: str = "",
                 on_trouble: Optional[Callable[[str], None]] = None,
                 reserve_bytes: int = 1024 * 1024, max_bytes: int = 0, mem_max: int = 20_000):
        self.path = path
        self.fsync_ms = max(0, int(fsync_ms))
        self.controller = controller
        self.reserve_bytes = max(0, int(reserve_bytes))
        self.max_bytes = max(0, int(max_bytes))
        self.mem_max = max(100, int(mem_max))
        self.healthy = True
        self.problem = ""
        self.on_recover: Optional[Callable[[str], None]] = None
        self.on_event: Optional[Callable[[dict], None]] = None
        self.fsyncs = 0               # fsyncs done by the background thread
        self.fsync_last_ms = 0.0      # duration of the last one
        self.fsync_max_ms = 0.0
        self.checkpoints = 0
        self.wal_max_seen = 0         # the largest WAL size the fsync thread saw (bytes)
        self.compact_steps = 0        # incremental_vacuum steps (or VACUUMs) done
        self.compact_max_ms = 0.0     # the longest one
        self.compacting = False       # free pages are being given back to the file system
        self._last_write = 0.0        # monotonic time of the writer's last commit
        self._compact_due = 0.0       # when the next compaction step became due
        self.shed_total = 0
        self._on_trouble = on_trouble
        self._trouble_waiting: Optional[str] = None
        self._in_trouble = False      # an episode is open (trouble sent, recover not yet)
        self._tight = False           # disk full: only essential events go to disk
        self._broken = False          # writes fail (read-only, corrupt): all held in memory
        self._jumped = False          # numbering jumped to Unix ms in this episode
        self._capping = False
        self._gone: set[int] = set()  # acknowledged while the file could not be written
        self._mem: tuple[list, list] = ([], [])   # per lane: sorted [(seq, body, essential)]
        self._top = [0, 0]            # highest seq appended, per lane
        self._count = 0               # pending events (disk + memory)
        self._next_seq = 1
        self._written_seq = 0         # highest seq committed to the file
        self._durable_seq = 0         # highest seq known fsynced
        self._writes = 0              # commits so far
        self._fresh: list = [None, None]   # per lane: (top before, [(seq, body)]) of the
        self._fresh_at = -1                # last append, committed whole at commit no. this
        self._db: Optional[sqlite3.Connection] = None
        self._closed = False
        self._next_retry = 0.0
        self._last_log = 0.0
        self._held_logged = 0
        self._dirty = threading.Event()
        self._quiet = 0               # inside quiet(): the fsync thread is woken at its end
        self._woken_late = False
        self._ck: Optional[sqlite3.Connection] = None   # the fsync thread's checkpointer
        self._ck_lock = threading.Lock()
        self._ident: Optional[tuple[int, int]] = None   # (st_dev, st_ino) of the open file
        self._side: set = set()       # ... and of its -wal/-shm (sqlitefile.side_idents)
        self._next_check = 0.0
        self._vanished = False        # the open file is no longer at self.path
        self._mover: Optional[threading.Thread] = None   # copies a vanished file
        self._move_ready = False      # ... step 1 done: maintain() does step 2
        self._move_db: Optional[sqlite3.Connection] = None   # step 2 done: the new file
        self._move_error = ""
        self.on_wake: Optional[Callable[[], None]] = None   # (any thread) call maintain()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        try:                           # the guard is made first: its folder too
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        except OSError:
            pass                       # _open() reports it
        self._guard = SeqGuard(path + ".seq")
        self._open()
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

    @property
    def tight(self) -> bool:
        """The disk is full: only essential events are being written (see ``essential``)."""
        return self._tight

    @property
    def in_memory(self) -> int:
        """Events held in memory only (storage trouble)."""
        return len(self._mem[0]) + len(self._mem[1])

    def depth(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def append(self, event: dict) -> dict:
        """Store one event; see ``append_many``."""
        return self.append_many((event,))[0]

    def append_many(self, events: Iterable[dict]) -> list[dict]:
        """Store copies of ``events`` with ``seq`` and ``id`` added, in one transaction, and
        return them. Never waits for the disk; never raises on storage trouble."""
        if self._closed:
            raise ValueError("outbox is closed")
        out, rows = [], []
        seq = self._next_seq
        for event in events:
            ev = dict(event)
            ev["seq"] = seq
            ev["id"] = f"{self.controller}-{seq}" if self.controller else str(seq)
            ac = alarm_class(ev)
            rows.append((seq, _dumps(ev), 0 if ac else 1, ac or ev.get("cid") in ESSENTIAL_CIDS))
            out.append(ev)
            seq += 1
        if not rows:
            return out
        if not self._guard.ok and (self._db is None or self._broken or self._tight) \
                and not self._jumped:
            # Neither the database nor the guard file records seq: jump to the Unix time in
            # ms (once per episode), which no number issued before can have reached.
            self._jumped = True
            self._next_seq = self._time_floor()
            log.error("outbox: seq cannot be recorded (%s); numbering jumps to %d",
                      self._guard.error, self._next_seq)
            return self.append_many(events)
        self._guard.issue(seq - 1)
        self._next_seq = seq
        self._store(rows)
        for s, _, lane, _ in rows:
            self._top[lane] = s
        self._count += len(rows)
        if self.max_bytes and not self._capping and self._writes % 20 == 0:
            self._capping = True
            try:
                self._cap()
            finally:
                self._capping = False
        return out

    @contextlib.contextmanager
    def quiet(self):
        """Commits inside the block wake the fsync thread only when it ends (the daemon sends
        the new events first: a woken thread would take the GIL from the send). The WAL's
        fsync is delayed by the block's length, a fraction of a millisecond."""
        self._quiet += 1
        try:
            yield self
        finally:
            self._quiet -= 1
            if not self._quiet and self._woken_late:
                self._woken_late = False
                self._dirty.set()

    def remove(self, seq: int) -> bool:
        """Forget an acknowledged event. Returns False if it was not pending."""
        return self.remove_many((seq,)) == 1

    def remove_many(self, seqs: Iterable[int]) -> int:
        """Forget acknowledged events in one commit; returns how many were pending."""
        seqs = list(seqs)
        gone = 0
        if self.in_memory:
            held = set()
            for lane in (0, 1):
                mem = self._mem[lane]
                for s in seqs:
                    i = bisect.bisect_left(mem, (s,))
                    if i < len(mem) and mem[i][0] == s:
                        del mem[i]
                        held.add(s)
            gone += len(held)
            seqs = [s for s in seqs if s not in held]
        if seqs and self._db is not None and not self._broken:
            try:
                cur = self._db.executemany("DELETE FROM outbox WHERE seq = ?",
                                           [(s,) for s in seqs])
                self._floor(self._db)
                self._db.commit()
                gone += max(0, cur.rowcount)
                self._wrote()
                seqs = []
            except (sqlite3.Error, OSError) as e:
                self._rollback()
                self._failed(e)
        if seqs and self._broken:          # remembered, deleted when the disk is back
            fresh = {s for s in seqs if s not in self._gone and s < self._next_seq}
            self._gone.update(fresh)
            gone += len(fresh)
        self._count = max(0, self._count - gone)
        return gone

    def cursor(self) -> SendCursor:
        """A fresh reader over every pending event, in send order (one per connection)."""
        return SendCursor(self)

    def pending(self) -> list[dict]:
        """Every event not yet acknowledged, in seq order (reads everything: tests, tools)."""
        rows: list[tuple[int, str]] = []
        for lane in (0, 1):
            after = 0
            while True:
                page = self._read(lane, after, 10_000)
                if not page:
                    break
                rows.extend(page)
                after = page[-1][0]
        rows.sort()
        return [json.loads(b) for _, b in rows]

    def payload(self, seq: int) -> Optional[str]:
        """The stored JSON of a pending event (what the relay publishes)."""
        for lane in (0, 1):
            mem = self._mem[lane]
            i = bisect.bisect_left(mem, (seq,))
            if i < len(mem) and mem[i][0] == seq:
                return mem[i][1]
        if self._db is not None:
            try:
                row = self._db.execute("SELECT body FROM outbox WHERE seq = ?",
                                       (seq,)).fetchone()
            except sqlite3.Error:
                return None
            return row[0] if row else None
        return None

    def get(self, seq: int) -> Optional[dict]:
        body = self.payload(seq)
        return json.loads(body) if body is not None else None

    def is_pending(self, seq: int) -> bool:
        return self.payload(seq) is not None

    def maintain(self) -> None:
        """Call now and then from the owner's thread: a troubled outbox retries the disk
        (every RETRY_S) and writes back what it holds in memory; logs a rate-limited summary."""
        if self._closed:
            return
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_S
            self._check_file()
        if not self._in_trouble:
            return
        if now - self._last_log >= LOG_EVERY_S and self.in_memory != self._held_logged:
            self._last_log = now
            self._held_logged = self.in_memory
            log.warning("outbox trouble continues: %s; %d events held in memory",
                        self.problem, self.in_memory)
        if self._vanished:
            self._move_step(now)
            return
        if now < self._next_retry:
            return
        self._next_retry = now + RETRY_S
        self._recover()

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
        self.wait_move(30)
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.Error as e:
                log.warning("outbox close: %s", e)
            self._db = None
        self._guard.close(self._next_seq)
        if self.in_memory:
            log.error("outbox closed with %d events held in memory only: they are lost",
                      self.in_memory)

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "disk" if self._db is not None else "memory"
        return f"<Outbox {self.path} {mode} depth={self.depth()} next_seq={self._next_seq}>"

    # ------------------------------------------------------------------ opening
    def _connect(self) -> sqlite3.Connection:
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False,
                             timeout=1.0)
        try:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")    # a new file: before WAL, tables
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL refused")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")   # the fsync thread checkpoints
            db.execute(f"PRAGMA journal_size_limit={WAL_MAX}")
            db.executescript(_SCHEMA)
            cols = [r[1] for r in db.execute("PRAGMA table_info(outbox)")]
            if "lane" not in cols:                     # a file from before the lanes
                db.execute("ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 1")
            db.execute("CREATE INDEX IF NOT EXISTS outbox_lane ON outbox(lane, seq)")
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> None:
        floor = self._guard.floor()
        try:
            try:
                db = self._connect()
                nxt = self._load(db)
            except sqlite3.DatabaseError as e:
                if not any(w in str(e).lower() for w in ("not a database", "malformed",
                                                          "corrupt")):
                    raise
                aside = f"{self.path}.corrupt-{int(time.time())}"
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(self.path + suffix):
                        os.replace(self.path + suffix, aside + suffix)
                db = self._connect()
                nxt = self._load(db)
                if floor is None:
                    floor = self._time_floor()
                self._trouble(f"outbox {self.path} was corrupt ({e}); kept as {aside}, its "
                              "events are lost; a new file is used")
            self._db = db
            self._ident = self._stat_ident()
            self._side = sqlitefile.side_idents(self.path)
            self._next_seq = max(nxt, floor or 1)
            self._written_seq = self._durable_seq = self._next_seq - 1
            self._make_reserve()
        except (sqlite3.Error, OSError) as e:
            self._db = None
            self._next_seq = max(self._next_seq, floor or self._time_floor())
            self._degrade(f"cannot open {self.path}: {e}; numbering continues at "
                          f"{self._next_seq}")

    def _load(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        top = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
        nxt = max(int(row[0]) if row else 1, top + 1)
        if row is None:
            db.execute("INSERT INTO meta(key, value) VALUES ('next_seq', ?)", (nxt,))
            db.commit()
        for lane, mx in db.execute("SELECT lane, MAX(seq) FROM outbox GROUP BY lane"):
            if lane in (0, 1):
                self._top[lane] = int(mx)
        self._count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return nxt

    def _time_floor(self) -> int:
        return max(self._next_seq, int(time.time() * 1000))

    # ------------------------------------------------------------------ writing
    def _store(self, rows: list) -> None:
        self._fresh = [None, None]
        if self._db is not None and not self._tight and not self._broken:
            try:
                self._insert(rows)
                # what a cursor that read everything before would now SELECT (see _read)
                for lane in (0, 1):
                    mine = [(s, b) for s, b, ln, _ in rows if ln == lane]
                    if mine:
                        self._fresh[lane] = (self._top[lane], mine)
                self._fresh_at = self._writes
                return
            except (sqlite3.Error, OSError) as e:
                self._rollback()
                self._failed(e)
        if self._db is not None and self._tight and not self._broken:
            keep = [r for r in rows if r[3]]
            try:
                if keep:
                    self._insert(keep)
            except (sqlite3.Error, OSError) as e:
                self._rollback()
                self._failed(e)
                self._hold(rows)
                return
            self._hold([r for r in rows if not r[3]])
            return
        self._hold(rows)

    def _insert(self, rows: list) -> None:
        # The rows themselves record their seq (at open: the larger of meta's floor and
        # MAX(seq) + 1); meta's floor is moved only where rows are deleted (``_floor``), so an
        # append writes the table and its index, not the meta page too.
        db = self._db
        if len(rows) == 1:
            s, b, lane, _ = rows[0]
            db.execute("INSERT INTO outbox(seq, body, lane) VALUES (?, ?, ?)", (s, b, lane))
        else:
            db.executemany("INSERT INTO outbox(seq, body, lane) VALUES (?, ?, ?)",
                           [(s, b, lane) for s, b, lane, _ in rows])
        db.commit()
        self._written_seq = rows[-1][0]
        self._wrote()

    def _floor(self, db: sqlite3.Connection) -> None:
        """In a transaction that deletes rows: record the next seq in meta, so numbering never
        falls back below a deleted row (at open, next seq = max(meta, MAX(seq) + 1); rows
        still present record themselves)."""
        db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (self._next_seq,))

    def _wrote(self) -> None:
        self._writes += 1
        self._last_write = time.monotonic()
        if self._quiet:
            self._woken_late = True
        else:
            self._dirty.set()

    def _rollback(self) -> None:
        try:
            if self._db is not None:
                self._db.rollback()
        except sqlite3.Error:
            pass

    def _hold(self, rows: list) -> None:
        """Keep rows in memory (storage trouble); beyond mem_max shed the oldest lane 1."""
        for s, b, lane, ess in rows:
            self._mem[lane].append((s, b, ess))
        if self.in_memory > self.mem_max:
            mem = self._mem[1]
            over = self.in_memory - self.mem_max
            victims = [r for r in mem if not r[2]][:over]
            if victims:
                drop = {r[0] for r in victims}
                self._mem[1][:] = [r for r in mem if r[0] not in drop]
                self._count -= len(victims)
                self._summarise([json.loads(r[1]) for r in victims], "memory full")

    def _disk_full(self, e: BaseException) -> None:
        """First full write: free the reserve, store only essential events from now on."""
        self._tight = True
        freed = self._drop_reserve()
        self._trouble(f"disk full writing {self.path} ({e}); reserve of "
                      f"{freed // 1024} KiB released for alarms, other events held in memory")

    def _failed(self, e: BaseException) -> None:
        if _is_full(e):
            if not self._tight:
                self._disk_full(e)
            return
        self._degrade(f"cannot write {self.path}: {e}")

    def _degrade(self, text: str) -> None:
        """Hold every new event in memory from now on (until maintain() gets the disk back);
        what the file holds is still read while it can be."""
        self._broken = True
        self._durable_seq = 0
        self._trouble(f"{text}; events held in memory")

    def _trouble(self, text: str) -> None:
        self.healthy = False
        self.problem = text
        self._next_retry = time.monotonic() + RETRY_S
        if self._in_trouble:
            log.debug("outbox: %s", text)
            return
        self._in_trouble = True
        self._last_log = time.monotonic()
        log.error("outbox trouble: %s", text)
        fn = self._on_trouble
        if fn is None:
            self._trouble_waiting = text
            return
        try:
            fn(text)
        except Exception:  # noqa: BLE001 - a callback bug must not lose the event
            log.exception("outbox on_trouble callback failed")

    # ------------------------------------------------------------------ recovery
    def _reserve_path(self) -> str:
        return self.path + ".reserve"

    def _make_reserve(self) -> bool:
        if not self.reserve_bytes:
            return True
        p = self._reserve_path()
        try:
            if os.path.exists(p) and os.path.getsize(p) >= self.reserve_bytes:
                return True
            fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o640)
            try:
                os.posix_fallocate(fd, 0, self.reserve_bytes)
            finally:
                os.close(fd)
            return True
        except OSError as e:
            try:
                os.remove(p)
            except OSError:
                pass
            log.warning("outbox reserve %s not made: %s", p, e.strerror)
            return False

    def _drop_reserve(self) -> int:
        p = self._reserve_path()
        try:
            size = os.path.getsize(p)
            os.remove(p)
            return size
        except OSError:
            return 0

    def _recover(self) -> None:
        if self._db is None or self._broken:
            try:   # a fresh connection: the old one may sit on a damaged or vanished file
                db = self._connect()
                self._load_check(db)
            except (sqlite3.Error, OSError) as e:
                self.problem = f"cannot open {self.path}: {e}; events held in memory"
                return
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass
            self._db = db
            self._ident = self._stat_ident()
            self._side = sqlitefile.side_idents(self.path)
            self._broken = False
        if self.reserve_bytes:
            try:
                st = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
                free = st.f_bavail * st.f_frsize
            except OSError:
                free = 0
            if free < 2 * self.reserve_bytes or not self._make_reserve():
                self._tight = True
                self.problem = (f"disk still full at {self.path} ({free // 1024} KiB free); "
                                f"{self.in_memory} events held in memory")
                self._write_back(essential_only=True)
                return
        if not self._write_back(essential_only=False):
            return
        self._tight = False
        self._jumped = False
        self.healthy = True
        text = f"outbox {self.path} back on disk"
        self.problem = ""
        self._in_trouble = False
        self._guard.issue(self._next_seq - 1)
        log.warning("outbox: %s", text)
        if self.on_recover is not None:
            try:
                self.on_recover(text)
            except Exception:  # noqa: BLE001
                log.exception("outbox on_recover callback failed")

    # ------------------------------------------------------------------ a vanished file
    def _stat_ident(self) -> Optional[tuple[int, int]]:
        return sqlitefile.ident(self.path)

    def _check_file(self) -> None:
        """Is the open database still the file at ``path``? A file deleted or replaced while
        open keeps taking writes (SQLite writes to the unlinked inode) that the next start
        would not find. Checked every CHECK_S; the seq guard file too."""
        guard_gone = self._guard.vanished() or not self._guard.is_open
        if guard_gone or (self._ident is not None and self._stat_ident() != self._ident):
            try:                          # the whole folder may have gone
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            except OSError as e:
                log.error("outbox: cannot make the folder of %s: %s", self.path, e.strerror)
        if guard_gone:
            if self._guard.reopen(self._next_seq - 1):
                log.error("outbox: seq guard %s vanished or was not open; written again at %d",
                          self._guard.path, self._next_seq - 1)
        if self._db is None or self._vanished or self._ident is None:
            return
        now = self._stat_ident()
        if now == self._ident:
            return
        self._vanished = True
        self._broken = True              # from now on new events are held in memory
        what = "deleted" if now is None else "replaced by another file"
        self._trouble(f"outbox {self.path} was {what} while open; its {self._count} pending "
                      "events are copied to a new file")
        self._start_move()

    # A vanished file is moved in three steps, none of which makes the owner's loop wait for
    # the copy: (1) a thread copies the old file through the connection that still has it
    # (events are still sent from it meanwhile, new ones held in memory); (2) maintain() takes
    # the old connection out of use (reads pause) and a thread closes it (closing
    # checkpoints: tens of ms), puts the copy in place and opens it; (3) maintain(), called
    # at once through ``on_wake``, starts using it: forgets what was acknowledged meanwhile,
    # writes back what was held, reports the recovery.
    def _start_move(self) -> None:
        """(owner's thread) Step 1 on the ``outbox-rescue`` thread: SQLite's backup API into
        ``<path>.rescue``, MOVE_PAGES pages a step (a read of the owner's thread waits at most
        one step; memory does not follow the backlog), then a checkpoint of the old WAL so
        that closing the old connection has little left to do."""
        if self._mover is not None and self._mover.is_alive():
            return
        db, rescue = self._db, self.path + ".rescue"
        self._fresh = [None, None]        # reads go to the database (or memory) again
        self._move_ready = False
        self._move_error = ""

        def work() -> None:
            try:
                sqlitefile.remove(rescue)
                out = sqlite3.connect(rescue)
                try:
                    db.backup(out, pages=MOVE_PAGES)
                finally:
                    out.close()
                with self._ck_lock:            # the fsync thread's connection: old file
                    self._close_ck()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass                       # closing the old connection does it then
                self._move_ready = True
            except (sqlite3.Error, OSError) as e:
                self._move_error = str(e)
            self._wake()

        self._run_mover(work)

    def _run_mover(self, work: Callable[[], None]) -> None:
        self._mover = threading.Thread(target=work, name="outbox-rescue", daemon=True)
        self._mover.start()

    def _wake(self) -> None:
        fn = self.on_wake
        if fn is not None:
            try:
                fn()
            except Exception:  # noqa: BLE001 - the next maintain() does it anyway
                log.debug("outbox on_wake failed", exc_info=True)

    def wait_move(self, timeout: Optional[float] = None) -> bool:
        """Wait until the thread moving a vanished file is done with its step (tests, tools);
        True if none runs. ``maintain()`` does the next step."""
        if self._mover is not None:
            self._mover.join(timeout)
            return not self._mover.is_alive()
        return True

    def _move_step(self, now: float) -> None:
        """(maintain) A vanished file: do the next step of the move, or retry a failed one
        every RETRY_S."""
        if self._mover is not None and self._mover.is_alive():
            return
        if self._move_db is not None:
            self._use_moved()
        elif self._move_ready:
            self._put_in_place()
        elif now >= self._next_retry:
            if self._move_error:
                self.problem = (f"outbox {self.path} vanished; moving it failed: "
                                f"{self._move_error}")
                log.error("outbox: %s", self.problem)
            self._next_retry = now + RETRY_S
            if self._db is not None:
                self._start_move()
            else:
                self._put_in_place()

    def _put_in_place(self) -> None:
        """(owner's thread) Step 2: the old connection leaves use here; on the thread it is
        closed, ``<path>.rescue`` is put at the path (a file someone put there is kept as
        ``<path>.replaced-<unix time>``) and opened."""
        with self._ck_lock:
            self._close_ck()
            old, self._db = self._db, None
        self._move_ready = False
        self._move_error = ""
        rescue, ours = self.path + ".rescue", self._side

        def work() -> None:
            try:
                if old is not None:
                    try:
                        old.close()
                    except sqlite3.Error:
                        pass
                if os.path.exists(rescue):
                    aside = sqlitefile.put_in_place(rescue, self.path, ours)
                    if aside:
                        log.error("outbox: the file found at %s is kept as %s", self.path,
                                  aside)
                self._move_db = self._connect()
            except (sqlite3.Error, OSError) as e:
                self._move_error = str(e)
            self._wake()

        self._run_mover(work)

    def _use_moved(self) -> None:
        """(owner's thread) Step 3: the moved file is the outbox's; numbering continues."""
        db, self._move_db = self._move_db, None
        try:
            if self._gone:
                db.executemany("DELETE FROM outbox WHERE seq = ?", [(x,) for x in self._gone])
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (self._next_seq,))
            db.commit()
            top = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
        except (sqlite3.Error, OSError) as e:
            try:
                db.close()
            except sqlite3.Error:
                pass
            self.problem = f"outbox {self.path} vanished; opening its copy failed: {e}"
            log.error("outbox: %s", self.problem)
            self._next_retry = time.monotonic() + RETRY_S
            return
        self._gone.clear()
        self._fresh = [None, None]
        self._db = db
        self._ident = self._stat_ident()
        self._side = sqlitefile.side_idents(self.path)
        self._written_seq = top
        self._durable_seq = 0
        self._vanished = False
        self._broken = False                 # write back what is held, report recovery
        self._wrote()
        log.warning("outbox: %s recreated with %d pending events, numbering continues at %d",
                    self.path, self._count, self._next_seq)
        self._next_retry = 0.0
        self._recover()

    def _load_check(self, db: sqlite3.Connection) -> None:
        db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        db.execute("UPDATE meta SET value = value WHERE key = 'next_seq'")
        db.commit()

    def _write_back(self, essential_only: bool) -> bool:
        """Move held events to the database; True when nothing is left held."""
        rows = [(s, b, lane, ess) for lane in (0, 1) for s, b, ess in self._mem[lane]
                if ess or not essential_only]
        if rows:
            rows.sort()
            try:
                self._db.executemany("INSERT OR IGNORE INTO outbox(seq, body, lane) "
                                     "VALUES (?, ?, ?)", [(s, b, ln) for s, b, ln, _ in rows])
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'",
                                 (self._next_seq,))
                self._db.commit()
                self._wrote()
            except (sqlite3.Error, OSError) as e:
                self._rollback()
                self.problem = f"write-back to {self.path} failed: {e}"
                if not _is_full(e):
                    self._broken = True
                return False
            moved = {r[0] for r in rows}
            if self._gone:
                try:
                    self._db.executemany("DELETE FROM outbox WHERE seq = ?",
                                         [(x,) for x in self._gone])
                    self._floor(self._db)
                    self._db.commit()
                    self._gone.clear()
                except (sqlite3.Error, OSError):
                    self._rollback()
            for lane in (0, 1):
                self._mem[lane][:] = [r for r in self._mem[lane] if r[0] not in moved]
        return not self.in_memory

    # ------------------------------------------------------------------ disk cap
    def _size(self) -> int:
        try:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            psize = self._db.execute("PRAGMA page_size").fetchone()[0]
        except sqlite3.Error:
            return 0
        return (pages - free) * psize

    def _cap(self) -> None:
        """Over max_bytes: shed the oldest non-essential lane 1 events (a tenth of them at
        least), replaced by one summary event."""
        if self._db is None or self._broken or self._size() <= self.max_bytes:
            return
        db = self._db
        try:
            n1 = db.execute("SELECT COUNT(*) FROM outbox WHERE lane = 1").fetchone()[0]
            rows = db.execute("SELECT seq, body FROM outbox WHERE lane = 1 ORDER BY seq "
                              "LIMIT ?", (max(1, n1 // 4),)).fetchall()
        except sqlite3.Error as e:
            self._failed(e)
            return
        victims = []
        for seq, body in rows:
            ev = json.loads(body)
            if ev.get("cid") not in ESSENTIAL_CIDS:
                victims.append(ev)
        if not victims:
            return
        try:
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(e["seq"],) for e in victims])
            self._floor(db)
            db.commit()
            self._wrote()
        except (sqlite3.Error, OSError) as e:
            self._rollback()
            self._failed(e)
            return
        self._count -= len(victims)
        self._summarise(victims, f"outbox over its cap of {self.max_bytes // 1024} KiB")

    def _summarise(self, victims: list[dict], why: str) -> None:
        """Append one event telling the platform which events were shed and what they were."""
        self.shed_total += len(victims)
        by: dict[str, int] = {}
        seqs = sorted(e["seq"] for e in victims)
        for e in victims:
            k = f"{e.get('zone', '')}:{e.get('kind', '')}:{e.get('cid', '')}"
            by[k] = by.get(k, 0) + 1
        ranges: list[list[int]] = []
        for s in seqs:
            if ranges and ranges[-1][1] == s - 1:
                ranges[-1][1] = s
            else:
                ranges.append([s, s])
        text = (f"{len(victims)} events shed ({why}): seq {seqs[0]}..{seqs[-1]}; "
                "alarm-class events are never shed")
        ev = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "kind": "shed",
              "cid": SHED_CID, "area": "", "zone": "", "incident": 0, "verified": False,
              "silent": False, "drill": False, "user": "system", "text": text,
              "shed": {"count": len(victims), "first": seqs[0], "last": seqs[-1],
                       "ranges": ranges[:500], "by": by}}
        log.warning("outbox: %s", text)
        stored = self.append_many([ev])[0]
        if self.on_event is not None:
            try:
                self.on_event(stored)
            except Exception:  # noqa: BLE001
                log.exception("outbox on_event callback failed")

    # ------------------------------------------------------------------ reading
    def _read(self, lane: int, after: int, limit: int) -> list[tuple[int, str]]:
        fresh = self._fresh[lane]
        if fresh is not None and fresh[0] <= after and self._fresh_at == self._writes \
                and not self._mem[lane] and not self._gone and not self._broken:
            # The cursor has read the lane up to the last append, which committed every row
            # (no commit since: nothing deleted, nothing written back): the rows after
            # ``after`` are that append's own. The new alarm is handed to paho without reading
            # back what was just written.
            return [r for r in fresh[1] if r[0] > after][:limit]
        rows: list[tuple[int, str]] = []
        if self._vanished and self._db is None:
            return rows      # the pending events are in the copy being put in place: wait
        if self._db is not None and self._top[lane] > after:
            try:
                rows = self._db.execute("SELECT seq, body FROM outbox WHERE lane = ? AND "
                                        "seq > ? ORDER BY seq LIMIT ?",
                                        (lane, after, limit)).fetchall()
            except sqlite3.Error as e:
                if not self._broken:
                    self._degrade(f"cannot read {self.path}: {e}")
                rows = []
            if self._gone:
                rows = [r for r in rows if r[0] not in self._gone]
        mem = self._mem[lane]
        if mem:
            i = bisect.bisect_right(mem, (after, "\uffff"))
            extra = [(s, b) for s, b, _ in mem[i:i + limit]]
            if extra:
                rows = sorted(rows + extra)[:limit]
        return rows

    # ------------------------------------------------------------------ the fsync thread
    def _fsync_once(self) -> None:
        self._guard.sync()
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
        """Group commit: fsync the WAL when something was written, then rest fsync_ms;
        checkpoint now and then, truncating a WAL that grew past WAL_MAX; give free pages back
        to the file system after a drain (``_compact``)."""
        last_ck = time.monotonic()
        ck_writes = 0
        again: Optional[float] = None
        while not self._stop.is_set():
            woke = self._dirty.wait(again)
            if self._stop.is_set():
                break
            self._dirty.clear()
            try:
                if woke:
                    self._fsync_once()
                now = time.monotonic()
                if woke and self._db is not None and (
                        self._writes - ck_writes >= CHECKPOINT_EVERY_ROWS
                        or now - last_ck >= CHECKPOINT_EVERY_S):
                    with self._ck_lock:       # _start_move() closes it when the file vanished
                        if self._db is not None and not self._vanished:
                            self._checkpoint()
                    ck_writes, last_ck = self._writes, now
            except sqlite3.Error as e:
                log.debug("outbox checkpoint: %s", e)
            except OSError as e:
                # Reported from this thread; the writer keeps going and finds out itself.
                log.error("outbox fsync failed: %s", e)
            with self._ck_lock:
                again = None
                if self._db is not None and not self._vanished and not self._broken:
                    again = self._compact()
            if self.fsync_ms and woke:
                self._stop.wait(self.fsync_ms / 1000.0)
        with self._ck_lock:
            self._close_ck()

    def _compact(self) -> Optional[float]:
        """(fsync thread, under _ck_lock) Give the free pages of a drained file back to the
        file system, COMPACT_PAGES at a time (``PRAGMA incremental_vacuum``, then a PASSIVE
        checkpoint truncates the file), each step once the writer has been quiet for
        COMPACT_QUIET_S: a step holds the write lock for a few ms, and an alarm's append waits
        for it only if it comes right then. A file made before auto_vacuum was set is
        converted (VACUUM) once it holds at most COMPACT_CONVERT_MAX. Returns when to come
        back (seconds), None when there is nothing to do."""
        try:
            ck = self._open_ck()
            free = ck.execute("PRAGMA freelist_count").fetchone()[0]
            psize = ck.execute("PRAGMA page_size").fetchone()[0]
            if not free or (not self.compacting and free * psize < COMPACT_MIN):
                if self.compacting and not free:
                    # done: the WAL file too (kept up to WAL_MAX by journal_size_limit)
                    ck.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                self.compacting = False
                return None
            now = time.monotonic()
            if not self.compacting:
                self.compacting = True
                self._compact_due = now
            quiet = now - self._last_write
            if quiet < COMPACT_QUIET_S and now - self._compact_due < COMPACT_WAIT_MAX_S:
                return COMPACT_QUIET_S - quiet
            t0 = time.perf_counter()
            if ck.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                ck.executescript(f"PRAGMA incremental_vacuum({COMPACT_PAGES});")
            else:
                pages = ck.execute("PRAGMA page_count").fetchone()[0]
                if (pages - free) * psize > COMPACT_CONVERT_MAX:
                    self.compacting = False     # later, when the backlog is gone
                    return None
                ck.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
            ms = (time.perf_counter() - t0) * 1000.0
            self.compact_steps += 1
            self.compact_max_ms = max(self.compact_max_ms, ms)
            ck.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self._compact_due = time.monotonic() + COMPACT_REST_S
        except sqlite3.Error as e:          # busy (the writer), full, the file went: later
            log.debug("outbox compaction: %s", e)
            return RETRY_S
        return COMPACT_REST_S

    def _open_ck(self) -> sqlite3.Connection:
        """(fsync thread) Its own connection, opened on an existing file only (a file deleted
        a moment ago must not be made again, empty, before the check finds it gone)."""
        if self._ck is None:
            self._ck = sqlitefile.open_existing(self.path)
        return self._ck

    def _checkpoint(self) -> None:
        """(fsync thread, under _ck_lock) one checkpoint on the thread's own connection."""
        self._open_ck()
        try:
            wal = os.path.getsize(self.path + "-wal")
        except OSError:
            wal = 0
        self.wal_max_seen = max(self.wal_max_seen, wal)
        # PASSIVE never blocks the writer. A WAL the writer keeps growing is never fully
        # backfilled, so a big one is TRUNCATEd (waits for the writer for at most the 0.2 s
        # busy timeout, then gives up until next time).
        mode = "TRUNCATE" if wal > WAL_MAX else "PASSIVE"
        self._ck.execute(f"PRAGMA wal_checkpoint({mode})")
        self.checkpoints += 1

    def _close_ck(self) -> None:
        sqlitefile.close_quietly(self._ck)
        self._ck = None
