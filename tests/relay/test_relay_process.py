"""A controller process killed with SIGKILL: the broker publishes its last will, and on restart
the outbox replays what was never acknowledged. Nothing is lost, nothing is renumbered."""
import os
import signal
import subprocess

from .conftest import PY, RELAY_SCRIPT


def spawn(broker, outbox, controller, count=0, interval=0.0):
    return subprocess.Popen([PY, RELAY_SCRIPT, "--port", str(broker.port), "--outbox", outbox,
                             "--controller", controller, "--count", str(count),
                             "--interval", str(interval)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(proc, prefix, timeout=20.0):
    """Lines from the process until one starts with prefix (the child prints as it goes).

    A reader thread owns the pipe: a selector on a buffered text pipe misses lines that were
    read ahead into Python's buffer in the same chunk (the fd is then not readable any more)."""
    import queue
    import threading
    import time

    q = getattr(proc, "_lines", None)
    if q is None:
        q = proc._lines = queue.Queue()

        def pump():
            for line in proc.stdout:
                q.put(line)
            q.put(None)
        threading.Thread(target=pump, daemon=True).start()
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            q.put(None)
            break
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} from the relay process; got {lines[-5:]}: "
                         f"{proc.stderr.read() if proc.poll() is not None else ''}")


def test_sigkill_publishes_last_will(broker, platform, tmp_path):
    p = spawn(broker, str(tmp_path / "o.sqlite"), "willy")
    try:
        read_until(p, "uplink True")
        platform.wait_status("willy", "online", 10)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        platform.wait_status("willy", "offline", 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_clean_stop_publishes_offline(broker, platform, tmp_path):
    p = spawn(broker, str(tmp_path / "o.sqlite"), "clean")
    try:
        read_until(p, "uplink True")
        platform.wait_status("clean", "online", 10)
        p.send_signal(signal.SIGTERM)
        read_until(p, "stopped")
        assert p.wait(10) == 0
        platform.wait_status("clean", "offline", 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigkill_mid_stream_then_restart_loses_nothing(broker, platform, tmp_path):
    outbox = str(tmp_path / "o.sqlite")
    broker.stop()                       # no broker: everything piles up in the outbox
    try:
        p = spawn(broker, outbox, "phoenix", count=300)
        lines = read_until(p, "published")
        assert lines[-2] == "seq 300"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        broker.start()
    platform.connected.wait(10)
    # Second life: 50 more; the 300 from the first life go first, in order.
    p = spawn(broker, outbox, "phoenix", count=50)
    try:
        lines = read_until(p, "published")
        assert lines[0] == "start next_seq=301 pending=300"
        evs = platform.wait_count(350, 30, controller="phoenix")
        assert [e["seq"] for e in evs] == list(range(1, 351))
        assert evs[0]["text"] == "Beam 0" and evs[300]["text"] == "Beam 0"
        assert evs[299]["id"] == "phoenix-300"
        assert not [g for g in platform.gaps if g[0] == "phoenix"]
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)


def test_sigkill_while_connected_and_streaming(broker, platform, tmp_path):
    """Killed while events are in flight: the unacknowledged ones come again after restart
    (the platform deduplicates by id); the platform ends with every seq exactly once."""
    outbox = str(tmp_path / "o.sqlite")
    p = spawn(broker, outbox, "streamer", count=400, interval=0.002)
    read_until(p, "seq 200")
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    p = spawn(broker, outbox, "streamer", count=0)
    try:
        first = read_until(p, "start")[-1]
        n = int(first.split("next_seq=")[1].split()[0]) - 1
        assert n >= 200
        evs = platform.wait_count(n, 30, controller="streamer")
        platform.wait_until(lambda: len(platform.events_of("streamer")) == n, 30)
        # first arrivals: every seq once, in order (replayed duplicates were dropped by id)
        assert [e["seq"] for e in platform.events_of("streamer")] == list(range(1, n + 1))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
