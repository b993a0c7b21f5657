"""The engine state's slot files: the newest valid record wins, a torn write (a SIGKILL or a
power cut in the middle of a save) leaves the previous state readable, and a save never
overwrites the last state written nor the newest one known to be on disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from guardroom.statefile import StateFile, decode, encode


def _state(n: int, pad: int = 0) -> dict:
    return {"engine": {"n": n, "pad": "x" * pad}, "saved_at": f"t{n}"}


def _slots(base) -> dict:
    out = {}
    for s in "abc":
        p = f"{base}.{s}"
        if os.path.exists(p):
            with open(p, "rb") as fh:
                rec = decode(fh.read())
            out[s] = rec[0] if rec else None
    return out


def test_newest_valid_record_wins_across_restarts(tmp_path):
    base = str(tmp_path / "state")
    sf = StateFile(base)
    assert sf.load() is None
    for n in range(1, 8):
        sf.save(_state(n), sync=(n % 2 == 0))
    sf.close()
    again = StateFile(base)
    assert again.load()["engine"]["n"] == 7
    again.save(_state(8), sync=False)      # numbering goes on from what was read
    again.close()
    assert StateFile(base).load()["engine"]["n"] == 8


def test_a_save_never_overwrites_the_last_one_nor_the_newest_on_disk(tmp_path):
    base = str(tmp_path / "state")
    sf = StateFile(base)
    sf.save(_state(1))                     # fsynced: the one a power cut must find
    durable = sf._durable
    seen = set()
    for n in range(2, 12):                 # saves without fsync (the alarm path)
        last = sf._last
        sf.save(_state(n), sync=False)
        assert sf._last != last, "overwrote the previous state"
        assert sf._last != durable, "overwrote the only state on disk"
        seen.add(sf._last)
    assert len(seen) == 2                  # alternates between the two other slots
    sf.sync()
    assert sf._durable == sf._last
    sf.close()


def test_fsync_overtaken_by_a_save_does_not_count_as_durable(tmp_path, monkeypatch):
    """The worker's fsync of record 2 runs while the loop saves 3 and 4 (4 into record 2's
    slot): that slot may be half old, half new on disk, so it is not taken as the on-disk
    copy; the slot of record 1 stays protected until a later fsync covers a whole record."""
    sf = StateFile(str(tmp_path / "state"))
    sf.save(_state(1))
    first = sf._durable
    sf.save(_state(2), sync=False)
    slot2 = sf._last
    real = os.fsync
    hooked = []

    def fsync_during_saves(fd):
        if not hooked:
            hooked.append(fd)
            sf.save(_state(3), sync=False)
            sf.save(_state(4), sync=False)
            assert sf._last == slot2            # record 4 went into record 2's slot
        real(fd)
    monkeypatch.setattr(os, "fsync", fsync_during_saves)
    sf.sync()
    assert hooked and sf._durable == first
    sf.save(_state(5), sync=False)
    assert sf._last != first                    # still never written over
    sf.sync()
    assert sf._durable == sf._last
    sf.close()


@pytest.mark.parametrize("cut", [0, 1, 10, 23, 24, 100, -1])
def test_a_torn_write_leaves_the_previous_state(tmp_path, cut):
    """The slot a save writes into holds only the first ``cut`` bytes of the new record over
    whatever it held before (a write cut short): the load finds the previous state."""
    base = str(tmp_path / "state")
    sf = StateFile(base)
    for n in range(1, 5):
        sf.save(_state(n, pad=300), sync=False)
    target = sf._target()
    sf.close()
    rec = encode(99, json.dumps(_state(5, pad=300)).encode())
    part = rec[:cut] if cut >= 0 else rec[:-1]
    fd = os.open(f"{base}.{'abc'[target]}", os.O_WRONLY)
    os.pwrite(fd, part, 0)
    os.close(fd)
    assert StateFile(base).load()["engine"]["n"] == 4


def test_both_other_copies_torn_still_leaves_the_oldest(tmp_path):
    base = str(tmp_path / "state")
    sf = StateFile(base)
    for n in range(1, 4):
        sf.save(_state(n))
    sf.close()
    seqs = _slots(base)
    order = sorted(seqs, key=seqs.get)     # oldest first
    for s in order[1:]:                    # the two newest copies get garbage in the middle
        with open(f"{base}.{s}", "r+b") as fh:
            fh.seek(30)
            fh.write(b"\xff" * 8)
    assert StateFile(base).load()["engine"]["n"] == 1


def test_every_copy_unreadable_is_kept_aside_and_the_daemon_starts_empty(tmp_path):
    base = str(tmp_path / "state")
    for s in "abc":
        (tmp_path / f"state.{s}").write_bytes(b"GRSTATE1 garbage")
    assert StateFile(base).load() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "state.a.corrupt", "state.b.corrupt", "state.c.corrupt"]


def test_legacy_state_json_is_read_then_replaced(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps(_state(41)))
    sf = StateFile(str(tmp_path / "state"))
    assert sf.load()["engine"]["n"] == 41
    sf.save(_state(42))
    assert not (tmp_path / "state.json").exists()
    sf.close()
    assert StateFile(str(tmp_path / "state")).load()["engine"]["n"] == 42


def test_a_slot_record_wins_over_a_leftover_legacy_file(tmp_path):
    sf = StateFile(str(tmp_path / "state"))
    sf.save(_state(2), sync=False)
    sf.close()
    (tmp_path / "state.json").write_text(json.dumps(_state(1)))
    assert StateFile(str(tmp_path / "state")).load()["engine"]["n"] == 2


_WRITER = r"""
import sys
from guardroom.statefile import StateFile
sf = StateFile(sys.argv[1])
rec = sf.load()
n = rec["engine"]["n"] if rec else 0
print(n, flush=True)
while True:
    n += 1
    sf.save({"engine": {"n": n, "pad": "y" * (200000 + n % 5000)}}, sync=n % 50 == 0)
    with open(sys.argv[1] + ".told", "w") as fh:   # "the platform was told" after the save
        fh.write(str(n))
"""


def test_sigkill_during_saves_always_leaves_a_state_at_least_as_new_as_told(tmp_path):
    """A real writer process saving 200 KB records (so a SIGKILL often lands inside a write)
    is killed again and again: every restart reads a whole record, never older than the last
    one the writer reported as saved."""
    base = str(tmp_path / "state")
    last = 0
    for i in range(12):
        p = subprocess.Popen([sys.executable, "-c", _WRITER, base], stdout=subprocess.PIPE,
                             text=True)
        start = int(p.stdout.readline())
        assert start >= last, f"run {i}: restart read {start}, but {last} had been told"
        time.sleep(0.05 + 0.013 * i)   # let it save for a while; the kill lands anywhere
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        p.stdout.close()
        told = tmp_path / "state.told"
        last = int(told.read_text() or 0) if told.exists() else 0
    rec = StateFile(base).load()
    assert rec is not None and rec["engine"]["n"] >= last
