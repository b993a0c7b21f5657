"""The delivery record on its own: the first PUBACK of a seq is the delivery (a replay after a
reconnect is a duplicate), a re-sent seq keeps it, acks/uplink/starts are kept in order, an old
file without `alive` is migrated, and a report source reads it back read-only."""
import sqlite3
import time

from guardroom.deliveries import DeliveryRecord, event_key


def rows(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_first_puback_counts_and_everything_is_kept(tmp_path):
    path = str(tmp_path / "d.sqlite")
    rec = DeliveryRecord(path)
    rec.started("ab" * 32, "0.1.0")
    rec.sent(1, "k1")
    rec.puback(1, wall=100.0)
    rec.sent(1, "k1")               # sent again after a reconnect
    rec.puback(1, wall=200.0)       # the duplicate's PUBACK
    rec.sent(2, "k2")
    rec.ack(7, "op1")
    rec.uplink(True)
    rec.uplink(False)
    rec.alive()
    rec.stopped()
    rec.close()
    assert rows(path, "SELECT seq, key, puback FROM sent ORDER BY seq") == \
        [(1, "k1", 100.0), (2, "k2", None)]
    assert rows(path, "SELECT incident, user FROM acks") == [(7, "op1")]
    assert [r[0] for r in rows(path, "SELECT state FROM uplink ORDER BY id")] == \
        ["start", "up", "down", "stop"]
    [(sha, alive)] = rows(path, "SELECT config_sha256, alive FROM starts")
    assert sha == "ab" * 32 and alive is not None and alive <= time.time()


def test_old_file_without_alive_is_migrated(tmp_path):
    path = str(tmp_path / "d.sqlite")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE starts (id INTEGER PRIMARY KEY AUTOINCREMENT, t REAL NOT NULL, "
               "config_sha256 TEXT NOT NULL, version TEXT NOT NULL)")
    db.commit()
    db.close()
    rec = DeliveryRecord(path)
    rec.started("cd" * 32, "0.1.0")
    rec.alive()
    rec.close()
    assert rows(path, "SELECT config_sha256, alive IS NOT NULL FROM starts") == [("cd" * 32, 1)]


def test_event_key_ignores_what_the_outbox_adds():
    ev = {"ts": "2026-12-01T00:00:00.000Z", "kind": "alarm", "cid": "1120", "zone": "p"}
    assert event_key(ev) == event_key(dict(ev, seq=5, id="ctl-1-5"))
    assert event_key(ev) != event_key(dict(ev, zone="q"))
