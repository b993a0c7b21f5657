"""`guardroom demo --interactive` offers the commissioning console on a pty whose path it
prints; `guardroom emulate --help` explains the emulators and exits 0."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from .term import BOUND, Term


def test_interactive_demo_prints_a_console_path_that_answers():
    p = subprocess.Popen([sys.executable, "-m", "guardroom", "demo", "--interactive"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    fd = -1
    try:
        path = None
        for line in p.stdout:
            m = re.search(r"commissioning console is on (\S+):", line)
            if m:
                path = m[1]
                break
        assert path and os.path.exists(path), "the demo printed no console path"
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        t = Term(fd)
        t.expect(r"guardroom commissioning console", timeout=BOUND * 2)   # at link up
        t.prompt("anyone")
        t.line("")                             # Enter: the banner again
        assert "controller ctl-1" in t.prompt("anyone").decode()
        t.line("login")
        t.expect("Code: ")
        t.line("7777")
        t.prompt("installer")
        out = t.cmd("zones")
        assert "beam_" in out
        t.cmd("logout")
    finally:
        if fd >= 0:
            os.close(fd)
        try:
            p.stdin.write("quit\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass
        try:
            p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 0


def test_emulate_help_exits_0_and_lists_the_emulators():
    r = subprocess.run([sys.executable, "-m", "guardroom", "emulate", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    from guardroom.cli import EMULATORS
    for name in EMULATORS:
        assert re.search(rf"^\s+{name}\s+\w", r.stdout, re.M), name
