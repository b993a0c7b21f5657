"""A drained outbox gives its space back. A long outage leaves a file of tens of MiB (63 MiB
after a 200k backlog) that SQLite would keep for ever; the fsync thread gives the free pages
back to the file system after a drain (incremental auto_vacuum, a few hundred pages a step,
each step once the writer is quiet), and converts a file made before auto_vacuum was set once
it is nearly empty. What is still pending stays, in order."""
import json
import os
import sqlite3

from guardroom.outbox import Outbox

from .conftest import event, run, until

BODY = "x" * 400


def _size(path: str) -> int:
    return os.stat(path).st_size


def test_file_shrinks_after_a_drain_and_keeps_what_is_pending(tmp_path):
    path = str(tmp_path / "outbox.sqlite")
    box = Outbox(path, controller="c", fsync_ms=5)
    for i in range(20):
        box.append_many([event(j, kind="trouble", cid="1380", incident=0, text=BODY)
                         for j in range(1000)])
    box.append(event(1, kind="alarm", cid="1120"))   # still waiting for its PUBACK
    box.flush()
    full = _size(path) + os.stat(path + "-wal").st_size
    assert full > 8 * 1024 * 1024
    box.remove_many(range(1, 20_001))                # the drain: every trouble acknowledged

    async def shrunk():
        await until(lambda: _size(path) < 1024 * 1024 and not box.compacting, 60,
                    "the outbox file to shrink below 1 MiB")
    run(shrunk())
    assert box.compact_steps > 0
    assert os.stat(path + "-wal").st_size < 1024 * 1024      # the WAL file given back too
    assert [e["seq"] for e in box.pending()] == [20_001]
    assert box.append(event(2))["seq"] == 20_002
    box.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2      # incremental
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_file_made_before_auto_vacuum_is_converted_when_nearly_empty(tmp_path):
    path = str(tmp_path / "outbox.sqlite")
    db = sqlite3.connect(path)                       # as earlier versions made it
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, "
                     "lane INTEGER NOT NULL DEFAULT 1);"
                     "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                     "CREATE INDEX outbox_lane ON outbox(lane, seq);")
    db.executemany("INSERT INTO outbox VALUES (?, ?, 1)",
                   [(s, json.dumps({"seq": s, "kind": "trouble", "cid": "1380", "text": BODY}))
                    for s in range(1, 15_001)])
    db.execute("INSERT INTO meta VALUES ('next_seq', 15001)")
    db.execute("DELETE FROM outbox WHERE seq < 14990")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db.close()
    big = _size(path)
    assert big > 4 * 1024 * 1024
    box = Outbox(path, controller="c", fsync_ms=5)
    box.remove(14_990)                               # a write wakes the fsync thread

    async def shrunk():
        await until(lambda: _size(path) < big // 4 and not box.compacting, 60,
                    "the old outbox file to be converted and shrink")
    run(shrunk())
    assert [e["seq"] for e in box.pending()] == list(range(14_991, 15_001))
    box.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    db.close()
