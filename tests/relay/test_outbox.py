"""The durable outbox: seq assignment and persistence, ordering, degradation to memory."""
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

from guardroom.outbox import Outbox

from .conftest import event


def test_seq_gap_free_persisted_and_never_reused(tmp_path):
    path = str(tmp_path / "o.sqlite")
    box = Outbox(path, controller="ctl-1")
    evs = [box.append(event(i)) for i in range(5)]
    assert [e["seq"] for e in evs] == [1, 2, 3, 4, 5]
    assert evs[2]["id"] == "ctl-1-3"
    assert evs[2]["text"] == "Panic button 2" and evs[2]["verified"] is True
    box.remove_many([1, 2, 3, 4, 5])
    assert box.depth() == 0
    box.close()

    box = Outbox(path, controller="ctl-1")           # restart: everything removed
    assert box.next_seq == 6
    assert box.append(event(9))["seq"] == 6           # never reused
    box.close()


def test_pending_survives_restart_in_order(tmp_path):
    path = str(tmp_path / "o.sqlite")
    box = Outbox(path, controller="c")
    for i in range(10):
        box.append(event(i))
    box.remove(3)
    box.remove(7)
    box.close()
    box = Outbox(path, controller="c")
    pend = box.pending()
    assert [e["seq"] for e in pend] == [1, 2, 4, 5, 6, 8, 9, 10]
    assert pend[0] == {**event(0), "seq": 1, "id": "c-1"}
    assert json.loads(box.payload(4))["seq"] == 4
    box.close()


def test_fsync_thread_makes_appends_durable(tmp_path):
    box = Outbox(str(tmp_path / "o.sqlite"), fsync_ms=20, controller="c")
    for i in range(50):
        box.append(event(i))
    deadline = time.monotonic() + 10
    while box.durable_seq < 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert box.durable_seq == 50
    assert box.fsyncs >= 1
    box.close()


def test_killed_process_loses_nothing(tmp_path):
    """SIGKILL right after append returns: the rows are in the page cache, not lost."""
    path = str(tmp_path / "o.sqlite")
    code = textwrap.dedent(f"""
        import os, signal, sys
        from guardroom.outbox import Outbox
        box = Outbox({path!r}, fsync_ms=1000, controller="k")
        for i in range(200):
            box.append({{"kind": "alarm", "text": str(i)}})
        sys.stdout.write("done\\n"); sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.stdout == b"done\n" and r.returncode == -9
    box = Outbox(path, controller="k")
    assert [e["seq"] for e in box.pending()] == list(range(1, 201))
    assert box.next_seq == 201
    box.close()


def test_corrupt_file_is_kept_aside_with_one_trouble_and_numbering_jumps(tmp_path):
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"this is not a database, it was overwritten by something" * 100)
    troubles = []
    box = Outbox(str(path), controller="c", on_trouble=troubles.append)
    assert not box.healthy
    assert "corrupt" in box.problem and "new file" in box.problem
    assert len(troubles) == 1
    aside = [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
    assert aside and (tmp_path / aside[0]).read_bytes().startswith(b"this is not")
    a = box.append(event(1))
    b = box.append(event(2))
    assert b["seq"] == a["seq"] + 1
    assert a["seq"] > int(time.time() * 1000) - 60_000   # numbering jumps, never reuses
    assert [e["seq"] for e in box.pending()] == [a["seq"], b["seq"]]
    assert box.remove(a["seq"]) and box.depth() == 1
    box.append(event(3))
    assert len(troubles) == 1                              # once
    box.close()
    box = Outbox(str(path), controller="c")                # the new file holds them
    assert box.healthy and [e["seq"] for e in box.pending()] == [b["seq"], b["seq"] + 1]
    box.close()


def test_trouble_found_before_callback_is_set_is_delivered_later(tmp_path):
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"\x00garbage" * 512)
    box = Outbox(str(path))
    got = []
    box.on_trouble = got.append           # how the daemon wires it
    assert len(got) == 1 and "corrupt" in got[0]
    box.close()


def test_corruption_while_running_holds_new_events_then_goes_back_to_disk(tmp_path):
    path = str(tmp_path / "o.sqlite")
    troubles, recovered = [], []
    box = Outbox(path, controller="c", on_trouble=troubles.append)
    box.on_recover = recovered.append
    for i in range(3):
        box.append(event(i))
    # Someone drops the table under the running daemon (a failing card does worse): the rows
    # in it are gone, the new ones are held in memory, numbering goes on.
    other = sqlite3.connect(path)
    other.execute("DROP TABLE outbox")
    other.commit()
    other.close()
    for i in range(3, 6):
        box.append(event(i))
    assert not box.healthy and len(troubles) == 1 and box.in_memory == 3
    assert [e["seq"] for e in box.pending()] == [4, 5, 6]
    box._next_retry = 0                                    # do not wait RETRY_S
    box.maintain()
    assert box.healthy and box.in_memory == 0 and len(recovered) == 1
    assert box.append(event(7))["seq"] == 7
    box.close()
    box = Outbox(path, controller="c")
    assert [e["seq"] for e in box.pending()] == [4, 5, 6, 7]
    box.close()


def test_disk_full_degrades_to_memory(tmp_path):
    """A real write failure: the process' file size limit (RLIMIT_FSIZE) stands in for a full
    card. Appends keep working in memory, seq stays gap-free, one trouble is reported."""
    path = str(tmp_path / "o.sqlite")
    Outbox(path).close()                                   # create it while there is room
    code = textwrap.dedent(f"""
        import json, resource, signal
        from guardroom.outbox import Outbox
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # get EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        troubles = []
        box = Outbox({path!r}, controller="c", on_trouble=troubles.append)
        seqs = [box.append({{"text": "x" * 500, "i": i}})["seq"] for i in range(400)]
        print(json.dumps({{"healthy": box.healthy, "troubles": troubles, "seqs": seqs,
                           "pending": [e["seq"] for e in box.pending()]}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    assert out["healthy"] is False
    assert len(out["troubles"]) == 1
    assert "full" in out["troubles"][0].lower(), out["troubles"]
    assert out["seqs"] == list(range(1, 401))
    assert out["pending"] == out["seqs"]


def test_unwritable_directory_is_a_trouble_not_a_crash(tmp_path):
    # A path below a regular file can never be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    got = []
    box = Outbox(str(blocker / "sub" / "o.sqlite"), on_trouble=got.append)
    assert not box.healthy and len(got) == 1
    assert box.append({"k": 1})["seq"] >= 1
    box.close()


def test_seq_never_reused_after_memory_mode_and_sigkill(tmp_path):
    """The issue-9 case: the disk fills, events are numbered in memory, the process is
    killed; at the restart (disk fine again) numbering goes on above them, never reusing."""
    path = str(tmp_path / "o.sqlite")
    Outbox(path).close()
    code = textwrap.dedent(f"""
        import os, resource, signal, sys
        from guardroom.outbox import Outbox
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        box = Outbox({path!r}, controller="c", reserve_bytes=0)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        seqs = [box.append({{"text": "x" * 500, "i": i}})["seq"] for i in range(400)]
        assert not box.healthy and box.in_memory > 0, (box.healthy, box.in_memory)
        sys.stdout.write(str(seqs[-1]) + "\\n"); sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == -9, r.stderr.decode()
    last = int(r.stdout)
    assert last == 400
    box = Outbox(path, controller="c")
    assert box.next_seq == last + 1                 # the guard file: no reuse, no gap
    assert box.append({"k": 1})["seq"] == last + 1
    box.close()


def test_alarm_class_events_come_first_in_a_cursor_each_class_in_seq_order(tmp_path):
    box = Outbox(str(tmp_path / "o.sqlite"), controller="c")
    for i in range(600):                              # a backlog of troubles (> one page)
        box.append(event(i, kind="trouble", cid="1300", incident=0))
    cur = box.cursor()
    first = cur.take(10)
    assert [s for s, _ in first] == list(range(1, 11))
    panic = box.append(event(0, kind="alarm", cid="1120"))
    nxt = cur.take(5)
    assert nxt[0][0] == panic["seq"]                  # overtakes the backlog
    assert [s for s, _ in nxt[1:]] == [11, 12, 13, 14]
    rest = [s for s, _ in cur.take(10_000)]
    assert rest == list(range(15, 601))
    box.close()


def test_the_database_alone_keeps_numbering_after_its_top_rows_are_deleted(tmp_path):
    """Appends do not write meta (the rows record their seq); a delete moves meta's floor in
    its transaction. With the seq guard file lost, the database alone still never reissues a
    seq: neither after the top rows were acknowledged nor with rows still pending."""
    path = str(tmp_path / "o.sqlite")
    box = Outbox(path, controller="c")
    box.append_many([event(i) for i in range(5)])
    box.remove_many([4, 5])                           # the two newest: MAX(seq) falls to 3
    box.append(event(6))                              # seq 6, then acknowledged too
    box.remove(6)
    box.close()
    os.remove(path + ".seq")
    box = Outbox(path, controller="c")
    assert box.next_seq == 7
    assert [e["seq"] for e in box.pending()] == [1, 2, 3]
    box.append_many([event(i) for i in range(3)])     # 7, 8, 9 pending, nothing deleted
    box.close()
    os.remove(path + ".seq")
    box = Outbox(path, controller="c")
    assert box.next_seq == 10
    box.close()


def test_a_cursor_gets_the_new_alarm_as_the_database_has_it(tmp_path):
    """A cursor that has read everything gets the next append's rows without reading them back
    (the alarm path); whatever the commits in between (an acknowledgement, a write-back), what
    it is given is what the database holds, in send order."""
    box = Outbox(str(tmp_path / "o.sqlite"), controller="c")
    cur = box.cursor()
    assert cur.take(40) == []
    a = box.append_many([event(0, kind="trouble", cid="1300"), event(1, cid="1120"),
                         event(2, kind="trouble", cid="1300")])
    got = cur.take(40)
    assert [s for s, _ in got] == [2, 1, 3]          # alarm-class first
    assert [json.loads(b) for _, b in got] == [a[1], a[0], a[2]]
    assert cur.take(40) == []
    box.remove_many([1, 2, 3])
    panic = box.append(event(3, cid="1120"))
    assert cur.take(40) == [(panic["seq"], box.payload(panic["seq"]))]
    box.remove(panic["seq"])                          # acknowledged: a new cursor (a
    again = box.cursor()                              # reconnect) must not send it again
    assert again.take(40) == []
    more = box.append_many([event(4, cid="1120"), event(5, cid="1120")])
    assert [s for s, _ in cur.take(1)] == [more[0]["seq"]]
    assert [s for s, _ in cur.take(40)] == [more[1]["seq"]]
    late = box.cursor()
    assert [s for s, _ in late.take(40)] == [more[0]["seq"], more[1]["seq"]]
    last = box.append_many([event(6, cid="1120"), event(7, cid="1120")])
    box.remove(last[0]["seq"])                        # acknowledged (sent by another cursor)
    assert [s for s, _ in late.take(40)] == [last[1]["seq"]]
    box.close()


def test_pending_events_are_not_mirrored_in_memory(tmp_path):
    box = Outbox(str(tmp_path / "o.sqlite"), controller="c")
    box.append_many(event(i, kind="trouble", cid="1300") for i in range(5000))
    assert box.depth() == 5000 and box.in_memory == 0
    assert not hasattr(box, "_pending")
    cur = box.cursor()
    assert len(cur.take(40)) == 40 and len(cur._buf[1]) <= 256   # paged
    box.close()


def test_disk_cap_sheds_oldest_non_alarm_events_and_tells_what(tmp_path):
    logged = []
    box = Outbox(str(tmp_path / "o.sqlite"), controller="c", max_bytes=256 * 1024)
    box.on_event = logged.append
    alarms = []
    for i in range(3000):
        if i % 500 == 0:
            alarms.append(box.append(event(i, kind="alarm", cid="1120"))["seq"])
        box.append(event(i, kind="trouble", cid="1380", zone="fence", text="x" * 200))
    pend = box.pending()
    seqs = {e["seq"] for e in pend}
    assert set(alarms) <= seqs                         # alarms are never shed
    sheds = [e for e in pend if e["kind"] == "shed"]
    assert sheds and sheds == [e for e in logged if e["kind"] == "shed"]
    assert box.shed_total == sum(e["shed"]["count"] for e in sheds)
    listed = {s for e in sheds for a, b in e["shed"]["ranges"] for s in range(a, b + 1)}
    assert len(listed) == box.shed_total
    assert not listed & seqs and not listed & set(alarms)
    allseqs = set(range(1, box.next_seq))
    assert allseqs == seqs | listed                    # every number delivered or listed
    assert box._size() <= 256 * 1024 * 1.3
    box.close()


def test_quiet_block_wakes_the_fsync_thread_only_at_its_end(tmp_path):
    """The daemon stores, saves the state and sends inside ``quiet()``: a commit there must not
    wake the fsync thread (it would take the GIL from the send); the WAL is synced once the
    block ends, and a commit outside a block wakes it at once as before."""
    box = Outbox(str(tmp_path / "q.sqlite"), fsync_ms=0)
    try:
        n0 = box.fsyncs
        with box.quiet():
            with box.quiet():                        # nested: the outer end wakes it
                box.append(event(1))
            box.append(event(2))
            assert not box._dirty.is_set()
            time.sleep(0.05)                         # a woken thread would have synced
            assert box.fsyncs == n0 and box.durable_seq < 2
        deadline = time.monotonic() + 5
        while box.durable_seq < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert box.durable_seq == 2 and box.fsyncs > n0
        box.append(event(3))
        deadline = time.monotonic() + 5
        while box.durable_seq < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert box.durable_seq == 3
    finally:
        box.close()
