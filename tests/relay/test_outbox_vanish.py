"""A vanished outbox: the database file deleted or replaced while the daemon has it open.
SQLite keeps writing to the unlinked inode, so without a check the events stored after it
would be gone at the next start. maintain() finds it, reports the storage trouble, and moves
everything pending to a new file at the path, keeping the numbering (seq never reused)."""
import glob
import os
import shutil
import sqlite3

from guardroom.outbox import Outbox

from .conftest import event


def _troubles(box):
    got = {"trouble": [], "recover": []}
    box.on_trouble = got["trouble"].append
    box.on_recover = got["recover"].append
    return got


def _fill(box, n, start=0):
    return box.append_many([event(i, kind="trouble", cid="1380", incident=0)
                            for i in range(start, start + n)])


def _maintain(box):
    """The check finds the file gone and starts the copy (a thread); each maintain() after a
    step of the move is done does the next (the relay calls it at once: ``on_wake``)."""
    box.maintain()
    for _ in range(2):
        assert box.wait_move(30)
        box.maintain()


def _reopened_seqs(path):
    box = Outbox(path, controller="c")
    try:
        return [e["seq"] for e in box.pending()], box.next_seq
    finally:
        box.close()


def test_deleted_while_open_is_found_and_nothing_pending_is_lost(tmp_path):
    path = str(tmp_path / "outbox.sqlite")
    box = Outbox(path, controller="c")
    got = _troubles(box)
    _fill(box, 300)
    panic = box.append(event(1, kind="alarm", cid="1120"))
    box.remove_many(range(1, 51))                    # acknowledged before the delete
    os.unlink(path)                                  # only the main file: the WAL stays
    _fill(box, 40, start=300)                        # written to the deleted inode
    _maintain(box)
    assert len(got["trouble"]) == 1 and "deleted" in got["trouble"][0]
    assert len(got["recover"]) == 1 and box.healthy
    assert os.path.exists(path) and box.depth() == 291
    assert box.cursor().take(1)[0][0] == panic["seq"]    # alarms first, still
    box.remove_many(range(51, 61))                   # acknowledged after the move
    last = _fill(box, 5, start=340)[-1]["seq"]
    assert last == 346
    box.close()
    seqs, nxt = _reopened_seqs(path)
    assert seqs == list(range(61, 347))              # everything pending, nothing acked
    assert nxt == 347                                # numbering continues: no reuse
    assert not glob.glob(path + ".rescue*")


def test_whole_directory_contents_deleted_keeps_the_numbering(tmp_path):
    var = tmp_path / "var"
    path = str(var / "outbox.sqlite")
    box = Outbox(path, controller="c")
    got = _troubles(box)
    _fill(box, 100)
    box.remove_many(range(1, 101))
    shutil.rmtree(var)                               # database, WAL, shm, seq guard, reserve
    _fill(box, 10, start=100)                        # 101..110, to the deleted files
    _maintain(box)
    assert got["trouble"] and got["recover"]
    assert os.path.exists(path + ".seq")             # the seq guard written again
    box.close()
    seqs, nxt = _reopened_seqs(path)
    assert seqs == list(range(101, 111)) and nxt == 111


def test_replaced_while_open_keeps_the_other_file_aside(tmp_path):
    path = str(tmp_path / "outbox.sqlite")
    other = str(tmp_path / "old-backup.sqlite")
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT, lane INTEGER)")
    db.execute("INSERT INTO outbox VALUES (1, '{}', 1)")
    db.commit()
    db.close()
    box = Outbox(path, controller="c")
    got = _troubles(box)
    _fill(box, 20)
    os.replace(other, path)                          # e.g. an old backup restored over it
    _fill(box, 5, start=20)
    _maintain(box)
    assert "replaced" in got["trouble"][0] and got["recover"]
    aside = glob.glob(path + ".replaced-*")
    assert [a for a in aside if not a.endswith(("-wal", "-shm"))], aside
    box.close()
    seqs, nxt = _reopened_seqs(path)
    assert seqs == list(range(1, 26)) and nxt == 26


def test_a_file_in_place_is_left_alone(tmp_path):
    path = str(tmp_path / "outbox.sqlite")
    box = Outbox(path, controller="c")
    got = _troubles(box)
    _fill(box, 10)
    ino = os.stat(path).st_ino
    box.maintain()
    assert not got["trouble"] and os.stat(path).st_ino == ino and box.depth() == 10
    box.close()


def test_replaced_file_set_aside_without_our_wal(tmp_path):
    """Closing a connection whose file was replaced leaves its WAL at the path (SQLite sees
    the move); set aside with the other file, it would be read into that file."""
    path = str(tmp_path / "outbox.sqlite")
    other = str(tmp_path / "old-backup.sqlite")
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT, lane INTEGER)")
    db.execute("INSERT INTO outbox VALUES (1, 'theirs', 1)")
    db.commit()
    db.close()
    box = Outbox(path, controller="c")
    _troubles(box)
    _fill(box, 20)
    os.replace(other, path)
    _maintain(box)
    aside = [a for a in glob.glob(path + ".replaced-*") if not a.endswith(("-wal", "-shm"))]
    db = sqlite3.connect(aside[0])
    assert db.execute("SELECT seq, body FROM outbox").fetchall() == [(1, "theirs")]
    db.close()
    box.close()


def test_events_made_and_acknowledged_during_the_move(tmp_path):
    """The copy runs on a thread: meanwhile events are still read from the old file, new ones
    are held in memory (an alarm first), acknowledgements are remembered; after the move the
    new file holds exactly what is pending, and ``on_wake`` was called for each step."""
    path = str(tmp_path / "outbox.sqlite")
    box = Outbox(path, controller="c")
    got = _troubles(box)
    woke = []
    box.on_wake = lambda: woke.append(1)
    _fill(box, 300)
    os.unlink(path)
    box.maintain()                                   # found: the copy starts
    assert got["trouble"] and box._vanished
    panic = box.append(event(9, kind="alarm", cid="1120"))     # held in memory
    late = _fill(box, 5, start=300)
    box.remove_many(range(1, 101))                   # PUBACKs meanwhile
    cur = box.cursor()
    assert [s for s, _ in cur.take(3)] == [panic["seq"], 101, 102]
    for _ in range(2):
        assert box.wait_move(30)
        box.maintain()
    assert box.healthy and got["recover"] and len(woke) == 2
    assert not box.in_memory and box.depth() == 200 + 1 + 5
    assert [s for s, _ in cur.take(2)] == [103, 104]     # the same cursor reads on
    box.close()
    seqs, nxt = _reopened_seqs(path)
    assert seqs == list(range(101, 301)) + [panic["seq"]] + [e["seq"] for e in late]
    assert nxt == late[-1]["seq"] + 1
