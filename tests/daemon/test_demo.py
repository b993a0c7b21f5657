"""The README's main job: `guardroom demo` plays the whole scenario and exits 0; Ctrl-C stops
everything it started."""
import re
import signal
import subprocess
import sys


def demo(*args):
    return subprocess.Popen([sys.executable, "-m", "guardroom", "demo", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def still_running(workdir):
    r = subprocess.run(["pgrep", "-f", workdir], capture_output=True, text=True)
    return r.stdout.split()


def test_demo_runs_the_scenario_and_exits_0():
    p = demo()
    out, _ = p.communicate(timeout=240)
    assert p.returncode == 0, out[-3000:]
    assert "Summary" in out and ", 0 sequence gaps" in out
    for row in ("silent panic -> platform", "beam pair -> verified", "door forced open",
                "panic during outage -> siren", "4 beams offline -> sabotage"):
        assert row in out, row
    assert re.search(r"beam pair -> verified\s+[\d.]+ ms\s+ON", out)
    assert re.search(r"silent panic -> platform\s+[\d.]+ ms\s+off", out)


def test_ctrl_c_stops_everything():
    p = demo()
    workdir = None
    for line in p.stdout:                      # wait for the site to be up
        m = re.search(r"work folder (\S+),", line)
        if m:
            workdir = m.group(1)
            break
    assert workdir, "the demo never said it was up"
    assert still_running(workdir)              # broker and daemon run from that folder
    p.send_signal(signal.SIGINT)
    out = p.communicate(timeout=60)[0]
    assert p.returncode == 130, out[-2000:]
    assert "Interrupted: stopping everything." in out
    assert still_running(workdir) == []
