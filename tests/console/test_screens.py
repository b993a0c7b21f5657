"""Screens over the real pty: the pager (space/Enter/q) for output longer than the terminal,
no line holding a code kept in the history, a lone ESC."""
from __future__ import annotations

import re

from .sitecfg import INSTALLER_CODE, USER_CODE
from .term import MORE


def test_long_output_waits_at_more_and_q_skips_the_rest(rig):
    t = rig.term
    t.line("help")
    t.expect(re.escape(MORE))
    shown = bytes(t.seen).decode().split("help\r\n")[-1].split(MORE.decode())[0]
    assert shown.count("\r\n") == 23 - 1       # a 24-line terminal: the command line + 22
    t.send(b"\r")                               # Enter: one more line, then --More-- again
    t.expect(rb"\r +\r[^\r\n]+\r\n" + re.escape(MORE))
    t.send(b"q")
    out = t.prompt("anyone").decode()
    assert re.search(r"\(\d+ more line\(s\) not shown\)", out)
    # space pages on to the end
    t.line("help")
    t.expect(re.escape(MORE))
    t.send(b" ")
    out = t.prompt("anyone").decode()
    assert "'help COMMAND' explains one" in out


def test_ctrl_c_at_more_ends_the_output(rig):
    t = rig.term
    t.line("help")
    t.expect(re.escape(MORE))
    t.send(b"\x03")
    assert "not shown" in t.prompt("anyone").decode()


def test_rows_zero_never_pages(rig_factory):
    rig = rig_factory(console_extra="rows = 0")
    t = rig.term
    t.line("help")
    out = t.prompt("anyone").decode()
    assert MORE.decode() not in out and "'help COMMAND' explains one" in out


def test_a_line_holding_a_code_is_never_recalled(rig):
    t = rig.term
    out = t.cmd("login 7777")
    assert "type 'login' alone" in out
    out = t.cmd("7777")
    assert "looks like a code" in out and "'7777'" not in out
    t.cmd("status")
    assert rig.call(lambda: list(rig.daemon.console.editor.history)) == ["status"]
    t.send(b"\x1b[A\x1b[A\r")                  # up twice: only 'status' comes back
    assert "platform uplink" in t.prompt("anyone").decode()


def test_lone_escape_and_cursor_keys_on_the_wire(rig):
    t = rig.term
    t.send(b"\x1bhelp logout\r")               # ESC alone, then the command
    assert "usage: logout" in t.prompt("anyone").decode()
    t.send(b"hepl loguot\x1b[D\x1b[D\x1b[D\x1b[3~\x1b[Cu\x1b[H\x1b[C\x1b[C\x1b[3~\x1b[Cp\r")
    assert "usage: logout" in t.prompt("anyone").decode()


def test_zone_monitor_redraws_in_place_and_q_quits(rig):
    t = rig.term
    rig.login(USER_CODE, "user")
    t.line("monitor")
    t.expect(r"\x1b\[2J")                      # the screen is cleared once
    t.expect(r"0 of 4 zone\(s\) not at rest\.  q: quit")
    rig.gpio.press(23)                          # a beam breaks: the frame is redrawn
    t.expect(rb"1 of 4 zone\(s\) not at rest")
    frame = bytes(t.seen).decode().split("\x1b[H")[-1]     # the last frame drawn
    rows = [r for r in frame.split("\r\n") if r.strip()]
    assert rows[3].startswith("beam_north") and "active" in rows[3]   # not at rest: on top
    assert all(len(r.replace("\x1b[K", "")) <= 79 for r in rows)
    assert len(frame.split("\r\n")) <= 24
    t.send(b"q")
    out = t.prompt("user").decode()
    assert "Zone monitor closed." in out
    rig.gpio.release(23)


def test_version_shows_build_config_hash_and_uptime(rig):
    import hashlib

    rig.login(USER_CODE, "user")
    out = rig.term.cmd("version")
    assert re.search(r"version\s+guardroom \d+\.\d+", out)
    assert re.search(r"engine\s+(compiled|interpreted) build", out)
    want = hashlib.sha256(open(rig.config_path, "rb").read()).hexdigest()[:16]
    assert f"sha256 {want}" in out
    assert re.search(r"uptime\s+\d+ s", out)
