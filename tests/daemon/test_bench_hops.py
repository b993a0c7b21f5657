"""`guardroom bench hops`: every hop of the alarm path is timed with the real parts and the
figures come out as JSON (a small run; the figures themselves live in docs/performance.md)."""
import json
import subprocess
import sys


def test_hops_bench_prints_every_hop():
    r = subprocess.run([sys.executable, "-m", "guardroom", "bench", "hops", "--n", "5",
                        "--no-site", "--json"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    for hop in ("wake_threadsafe", "timer_lateness", "timer_lateness_spin", "eventlog_append",
                "statefile_save", "outbox_append", "relay_to_platform", "paho_to_platform"):
        assert res[hop]["n"] == 5 and res[hop]["median"] >= 0, hop
