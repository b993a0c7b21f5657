"""A vanished event log: events.sqlite deleted or replaced while open. SQLite keeps writing to
the unlinked inode, so without a check every later row would be gone at the next start (or land
in someone else's file). check_file() (the committer thread calls it every CHECK_S) reports the
storage trouble, copies every row the old connection still holds to a new file at the path and
reports the recovery; row numbers and the hash chain continue."""
import glob
import os
import shutil
import sqlite3

from guardroom.eventlog import EventLog


def _rec(i: int) -> dict:
    return {"ts": "2024-05-01T10:00:00.000Z", "kind": "trouble", "cid": "1380", "zone": "z",
            "seq": i, "text": f"event {i}"}


def _watch(elog):
    got = {"trouble": [], "recover": []}
    elog.on_trouble = got["trouble"].append
    elog.on_recover = got["recover"].append
    return got


def _rows(path):
    elog = EventLog(path)
    try:
        ok, checked, bad = elog.verify()
        assert ok, f"chain broken at row {bad}"
        rows = [r["row"] for r in elog.tail(10 ** 6)]
        nxt = elog.append(_rec(-1))
        return rows, nxt
    finally:
        elog.close()


def test_deleted_while_open_is_noticed_and_every_row_kept(tmp_path):
    path = str(tmp_path / "events.sqlite")
    elog = EventLog(path, commit_ms=1)
    got = _watch(elog)
    elog.append_many([_rec(i) for i in range(4500)])     # more than one copy page
    elog.commit()
    os.unlink(path)                                      # the WAL stays: only the database
    elog.append_many([_rec(i) for i in range(4500, 4520)])   # to the deleted inode
    assert elog.check_file() is True
    assert len(got["trouble"]) == 1 and "deleted" in got["trouble"][0]
    assert len(got["recover"]) == 1
    assert os.path.exists(path) and len(elog) == 4520
    assert elog.append(_rec(4520)) == 4521               # row numbers continue
    assert elog.verify() == (True, 4521, None)
    assert elog.check_file() is True and len(got["trouble"]) == 1   # in place now: quiet
    elog.close()
    rows, nxt = _rows(path)
    assert rows == list(range(1, 4522)) and nxt == 4522
    assert not glob.glob(path + ".rescue*")


def test_rotated_log_keeps_its_anchor_and_counter(tmp_path):
    path = str(tmp_path / "events.sqlite")
    elog = EventLog(path, keep=100, rotate_chunk=10)
    _watch(elog)
    elog.append_many([_rec(i) for i in range(300)])      # rows 1..190 rotated out
    anchor = elog.anchor()
    assert anchor[0] > 0
    shutil.rmtree(tmp_path)                              # the whole folder
    assert elog.check_file() is True
    assert elog.anchor() == anchor and elog.verify()[0]
    assert elog.append(_rec(300)) == 301
    elog.close()
    rows, nxt = _rows(path)
    assert rows[-1] == 301 and nxt == 302


def test_replaced_while_open_keeps_the_other_file_aside(tmp_path):
    path = str(tmp_path / "events.sqlite")
    other = str(tmp_path / "backup.sqlite")
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE log (row INTEGER PRIMARY KEY, body TEXT, hash TEXT)")
    db.execute("INSERT INTO log VALUES (1, '{}', 'x')")
    db.commit()
    db.close()
    elog = EventLog(path)
    got = _watch(elog)
    elog.append_many([_rec(i) for i in range(50)])
    os.replace(other, path)                              # an old backup restored over it
    elog.append(_rec(50))
    assert elog.check_file() is True
    assert "replaced" in got["trouble"][0] and got["recover"]
    aside = [a for a in glob.glob(path + ".replaced-*") if not a.endswith(("-wal", "-shm"))]
    assert len(aside) == 1
    db = sqlite3.connect(aside[0])
    assert db.execute("SELECT body FROM log").fetchall() == [("{}",)]   # without our WAL
    db.close()
    elog.close()
    rows, nxt = _rows(path)
    assert rows == list(range(1, 52)) and nxt == 52


def test_a_file_in_place_is_left_alone(tmp_path):
    path = str(tmp_path / "events.sqlite")
    elog = EventLog(path)
    got = _watch(elog)
    elog.append(_rec(1))
    ino = os.stat(path).st_ino
    assert elog.check_file() is True
    assert not got["trouble"] and os.stat(path).st_ino == ino
    elog.close()
