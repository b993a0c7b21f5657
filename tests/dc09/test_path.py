"""The DC-09 path against the ARC emulator (pysiaalarm, the receiver Home Assistant uses) over
real loopback sockets: delivery plain and encrypted over TCP and UDP, a wrong key refused and
reported, NAK and DUH handling, a receiver down then back (nothing lost, order kept), a
restart with events waiting, the time stamp window, supervision and failover."""
import asyncio
import time

import pytest

from guardroom.emulators.arc import ArcEmulator
from guardroom.outbox import Outbox

from .conftest import (ACCOUNT, KEY128, KEY192, KEY256, Recorder, alarm, cfg, make_path, run,
                       until)


@pytest.mark.parametrize("key,protocol", [("", "tcp"), (KEY128, "tcp"), (KEY192, "tcp"),
                                          (KEY256, "tcp"), ("", "udp"), (KEY256, "udp")])
def test_alarm_reaches_the_arc(box_path, key, protocol):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=key, protocol=protocol).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=key, protocol=protocol), box_path, rec)
        await path.start()
        try:
            ev = path.offer(alarm(1, zone="z3", area="vault"))
            await path.wait_delivered(ev["seq"], 10)
            got = await arc.wait_for(lambda r: r["type"] == "ADM-CID", 5)
            assert got["cid"] == "1120" and got["code"] == "PA"
            assert got["area"] == "02" and got["zone"] == "003"   # config positions
            assert got["encrypted"] is bool(key)
            assert path.outbox.depth() == 0
            assert rec.delivered and rec.delivered[0][1] == "rcv0"
            assert rec.states[-1][0] is True
            assert arc.counts.get("crc") == 0 and arc.counts.get("timestamp") == 0
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_routing_sends_alarms_not_troubles(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT).start()
        path = make_path(cfg([arc.port]), box_path, Recorder())
        try:
            assert path.offer(alarm(1, kind="trouble", cid="1301")) is None
            assert path.offer(alarm(2, kind="restore", cid="3120")) is not None
            assert path.offer(alarm(3, kind="trouble", cid="1144")) is not None  # tamper
            assert path.offer(alarm(4, kind="area", cid="3401", zone="",
                                    user="pin:alice")) is None
            await path.start()
            await until(lambda: path.outbox.depth() == 0, 10, "delivery")
            cids = [r["cid"] for r in arc.received if r["type"] == "ADM-CID"]
            assert sorted(cids) == ["1144", "3120"]     # (the tamper may overtake the restore)
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_wrong_key_is_refused_and_reported_then_fixed(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=KEY256).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=KEY128), box_path, rec)
        await path.start()
        try:
            ev = path.offer(alarm(1))
            await until(lambda: any(not up for up, _ in rec.states), 10, "path down")
            why = [w for up, w in rec.states if not up][0]
            assert "NAK" in why
            assert path.outbox.is_pending(ev["seq"])      # kept, not lost
            assert not arc.received and path.counters["nak"] >= 2
            port = arc.port
            await arc.stop()
            arc = await ArcEmulator(port=port, account=ACCOUNT, key=KEY128).start()
            await path.wait_delivered(ev["seq"], 10)
            assert arc.received[0]["cid"] == "1120"
            assert rec.states[-1][0] is True
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_nak_counts_as_a_failed_attempt(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, mode="nak").start()
        rec = Recorder()
        path = make_path(cfg([arc.port]), box_path, rec)
        await path.start()
        try:
            ev = path.offer(alarm(1))
            await until(lambda: rec.states and rec.states[-1][0] is False, 10, "path down")
            assert path.outbox.is_pending(ev["seq"])
            arc.mode = "ack"
            await path.wait_delivered(ev["seq"], 10)
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_duh_tries_the_other_format(box_path):
    """An SIA code the receiver does not know (an installer's typo): pysiaalarm answers DUH,
    the event goes again as Contact ID and is acknowledged."""
    async def main():
        arc = await ArcEmulator(account=ACCOUNT).start()
        rec = Recorder()
        c = cfg([arc.port], format="sia-dcs", sia_codes={"1120": "QQ", "1130": "BA"})
        path = make_path(c, box_path, rec)
        await path.start()
        try:
            path.offer(alarm(1))
            last = path.offer(alarm(2, cid="1130"))
            await path.wait_delivered(last["seq"], 10)
            assert [(r["type"], r["answer"]) for r in arc.lines if r["type"] != "NULL"] == [
                ("SIA-DCS", "DUH"), ("ADM-CID", "ACK"), ("SIA-DCS", "ACK")]
            assert arc.received[-1]["code"] == "BA" and not rec.refused
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_duh_twice_refuses_the_event_and_reports_it(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, mode="duh").start()
        rec = Recorder()
        path = make_path(cfg([arc.port]), box_path, rec)
        await path.start()
        try:
            first = path.offer(alarm(1))
            await path.wait_delivered(first["seq"], 10)
            assert len(rec.refused) == 1 and "DUH" in rec.refused[0][1]
            assert rec.refused[0][0]["ref"] == "ctl-1-1"
            arc.mode = "ack"                    # the next event is not held behind it
            nxt = path.offer(alarm(2))
            await path.wait_delivered(nxt["seq"], 10)
            assert arc.received[-1]["cid"] == "1120" and len(rec.delivered) == 1
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_receiver_down_then_back_loses_nothing_and_keeps_order(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=KEY128).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=KEY128), box_path, rec)
        await path.start()
        try:
            path.offer(alarm(0))
            await until(lambda: path.outbox.depth() == 0, 10, "first delivery")
            port = arc.port
            await arc.stop()
            sent = [path.offer(alarm(i, cid="1130" if i % 2 else "3130"))
                    for i in range(1, 21)]
            await until(lambda: rec.states[-1][0] is False, 10, "path down")
            assert path.outbox.depth() == 20
            arc2 = await ArcEmulator(port=port, account=ACCOUNT, key=KEY128).start()
            try:
                await path.wait_delivered(sent[-1]["seq"], 20)
                got = [(int(r["seq"]), r["cid"], r["zone"]) for r in arc2.received
                       if r["type"] == "ADM-CID"]
                want = [(s["seq"], ("1130" if i % 2 else "3130"), f"{i % 5 + 1:03d}")
                        for i, s in enumerate(sent, 1)]
                assert sorted(got) == want                     # nothing lost
                for cid in ("1130", "3130"):                   # each class in order (alarms
                    one = [g for g in got if g[1] == cid]      # may overtake restores)
                    assert one == sorted(one)
                assert rec.states[-1][0] is True
            finally:
                await arc2.stop()
        finally:
            await path.stop()
    run(main())


def test_events_waiting_survive_a_restart(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT).start()
        port = arc.port
        await arc.stop()
        rec = Recorder()
        path = make_path(cfg([port]), box_path, rec)
        await path.start()
        for i in range(1, 6):
            path.offer(alarm(i))
        await path.stop()
        path.outbox.close()                         # the process ends with 5 undelivered
        arc = await ArcEmulator(port=port, account=ACCOUNT).start()
        path = make_path(cfg([port]), box_path, Recorder())
        assert path.outbox.depth() == 5
        await path.start()
        try:
            await until(lambda: path.outbox.depth() == 0, 10, "replay")
            got = [r["zone"] for r in arc.received if r["type"] == "ADM-CID"]
            assert got == [f"{i % 5 + 1:03d}" for i in range(1, 6)]
        finally:
            await path.stop()
            path.outbox.close()
            await arc.stop()
    run(main())


@pytest.mark.parametrize("key", ["", KEY128])
def test_time_stamp_outside_the_window_is_corrected_from_the_nak(box_path, key):
    """Our clock 2 minutes late: pysiaalarm NAKs (window -40/+20 s) with its time; the path
    learns the offset and the same message goes again with a stamp the receiver accepts."""
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=key).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=key), box_path, rec,
                         wall=lambda: time.time() - 120)
        await path.start()
        try:
            ev = path.offer(alarm(1))
            await path.wait_delivered(ev["seq"], 10)
            answers = [r["answer"] for r in arc.lines]
            assert answers[:2] == ["NAK", "ACK"]
            assert path.counters["clock_fixes"] == 1
            assert abs(path.clock_offset_s - 120) < 5
            assert arc.counts.get("timestamp") == 1
            assert not [s for s in rec.states if s[0] is False]
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_supervision_polls_when_idle_and_detects_loss_and_return(box_path):
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=KEY128).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=KEY128, poll_s=2), box_path, rec)
        await path.start()
        try:
            for n in (1, 2, 3):
                await arc.wait_for(lambda r, n=n: sum(x["type"] == "NULL"
                                                     for x in arc.received) >= n, 10)
            nulls = [r["t_ns"] for r in arc.received if r["type"] == "NULL"]
            gaps = [(b - a) / 1e9 for a, b in zip(nulls, nulls[1:])]
            assert all(g >= 1.9 for g in gaps), gaps     # never more often than poll_s
            port = arc.port
            await arc.stop()
            t_down = time.monotonic()
            await until(lambda: rec.states[-1][0] is False, 15, "loss detected")
            # the loss is found by the next poll: at most poll_s + the retries later
            assert time.monotonic() - t_down < 2 + 2 * (1.0 + 0.2) + 2
            arc = await ArcEmulator(port=port, account=ACCOUNT, key=KEY128).start()
            await until(lambda: rec.states[-1][0] is True, 10, "return detected")
            assert [s[0] for s in rec.states] == [True, False, True]
        finally:
            await path.stop()
            await arc.stop()
    run(main())


def test_failover_to_the_backup_and_back_to_the_primary(box_path):
    async def main():
        primary = await ArcEmulator(account=ACCOUNT, name="primary").start()
        backup = await ArcEmulator(account=ACCOUNT, name="backup").start()
        rec = Recorder()
        path = make_path(cfg([primary.port, backup.port], attempts=2, poll_s=2), box_path, rec)
        await path.start()
        try:
            ev = path.offer(alarm(1))
            await path.wait_delivered(ev["seq"], 10)
            assert rec.delivered[-1][1] == "rcv0"
            primary.mode = "silent"                 # up but mute: every attempt times out
            ev = path.offer(alarm(2))
            await path.wait_delivered(ev["seq"], 15)
            assert rec.delivered[-1][1] == "rcv1"
            assert [r["cid"] for r in backup.received if r["type"] == "ADM-CID"] == ["1120"]
            assert path.counters["failovers"] == 1 and len(path.failover_s) == 1
            assert all(up for up, _ in rec.states)   # the path never went down
            primary.mode = "ack"
            await until(lambda: path.active == 0, 10, "back on the primary")
            ev = path.offer(alarm(3))
            await path.wait_delivered(ev["seq"], 10)
            assert rec.delivered[-1][1] == "rcv0"
        finally:
            await path.stop()
            await primary.stop()
            await backup.stop()
    run(main())


def test_a_receiver_closing_the_connection_costs_no_attempt(box_path):
    """Receivers often close the TCP connection after each answer (or when idle): the next
    message finds it closed and goes again at once on a new connection, no failed attempt."""
    async def main():
        arc = await ArcEmulator(account=ACCOUNT, key=KEY128, close_after=True).start()
        rec = Recorder()
        path = make_path(cfg([arc.port], key=KEY128), box_path, rec)
        await path.start()
        try:
            for i in range(1, 6):
                ev = path.offer(alarm(i))
                await path.wait_delivered(ev["seq"], 10)
                await asyncio.sleep(0.05)           # the receiver's close arrives meanwhile
            assert path.counters["attempts_failed"] == 0 and path.counters["timeouts"] == 0
            assert len([r for r in arc.received if r["type"] == "ADM-CID"]) == 5
        finally:
            await path.stop()
            await arc.stop()
    run(main())
