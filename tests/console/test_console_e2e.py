"""The console end to end: the installer's terminal on a pty, the real Daemon behind it (GPIO
mock factory driven through its control channel, a real Mosquitto for the uplink).
Timeouts are failure bounds only; every wait is on something the terminal or a pin shows."""
from __future__ import annotations

import os
import re

from guardroom.emulators.platform import Platform

from .sitecfg import DURESS_CODE, INSTALLER_CODE, SIREN_PIN, STROBE_PIN, USER_CODE
from .term import BOUND


def log_rows(rig, n=50):
    return rig.call(rig.daemon.eventlog.tail, n)


def test_banner_help_and_levels(rig):
    t = rig.term
    banner = t.cmd("")                        # Enter before login shows who this is
    assert "controller ctrl-01   site school   version" in banner
    assert "Test school" in banner and "access level: anyone" in banner
    out = t.cmd("help")
    assert "login" in out and "walktest" in out and "needs 'login'" in out
    out = t.cmd("help walktest")
    assert "usage: walktest start [AREA]" in out and "level: user" in out
    assert "607" in out
    out = t.cmd("zones")
    assert "needs the user level" in out
    out = t.cmd("bogus")
    assert "unknown command 'bogus'" in out
    # every line the console sends fits 79 columns and ends in CRLF
    from guardroom.console.commands import REGISTRY
    for name in REGISTRY:
        assert "usage:" in t.cmd(f"help {name}")
    text = bytes(t.seen).decode()
    assert "\n" not in text.replace("\r\n", "")
    assert max(len(x.split("\r")[-1]) for x in text.split("\r\n")) <= 79


def test_line_editing_backspace_delete_and_line_ends(rig):
    t = rig.term
    # BS and DEL erase; the echo erases on screen too
    t.send(b"hlx\x08\x7felp\r")
    t.expect(rb"hlx\x08 \x08\x08 \x08elp\r\n")
    out = t.prompt().decode()
    assert "Anyone:" in out
    # CRLF: one command, not a second empty one; LF alone works too
    t.send(b"help login\r\n")
    out = t.prompt().decode()
    assert "usage: login" in out
    t.send(b"help logout\n")
    assert "usage: logout" in t.prompt().decode()
    # arrow keys never land in the line; up-arrow recalls the last command
    t.send(b"\x1b[A\r")
    assert "usage: logout" in t.prompt().decode()
    t.send(b"he\x1b[D\x1b[Clp\r")
    assert "Anyone:" in t.prompt().decode()
    # Ctrl-C drops a half-typed line
    t.send(b"logi\x03")
    t.expect(rb"\^C\r\n")
    t.prompt("anyone")
    t.line("status")
    assert "platform uplink" in t.prompt().decode()


def test_login_lockout_reports_461_and_refuses_right_code(rig):
    t = rig.term
    for i in range(4):
        out = rig.login("0000", "anyone")
        assert "Wrong code." in out
        assert "0000" not in out            # the code is never echoed
    out = rig.login("0001", "anyone")
    assert "console locked for 30 s" in out
    rows = [r for r in log_rows(rig) if r["cid"] == "1461"]
    assert len(rows) == 1 and "locked" in rows[0]["text"]
    # the right code is refused while locked, and asked without echo all the same
    t.line("login")
    t.expect("Code: ")
    t.line(INSTALLER_CODE)
    t.expect(r"\*{4}\r\n")
    out = t.prompt("anyone").decode()
    assert "console locked" in out and INSTALLER_CODE not in out
    assert "needs the installer level" in t.cmd("config show")


def test_user_and_installer_login_report_program_mode(rig):
    t = rig.term
    out = rig.login(USER_CODE, "user")
    assert "Logged in as alice (user)" in out
    assert "needs the installer level" in t.cmd("walktest start")
    assert "not at rest" in t.cmd("zones")
    out = rig.login(INSTALLER_CODE, "installer")
    assert "Logged in as ian (installer)" in out
    t.send(b"\x04")                          # Ctrl-D logs out
    assert "Logged out." in t.prompt("anyone").decode()
    cids = [r["cid"] for r in log_rows(rig)]
    assert "1627" in cids and "1628" in cids
    assert cids.index("1628") > cids.index("1627")


def test_duress_code_logs_in_and_raises_silent_duress(rig):
    t = rig.term
    out = rig.login(DURESS_CODE, "user")
    assert "Logged in as alice (user)" in out
    assert "duress" not in out.lower()
    # the duress alarm reaches the event log without a word on the screen
    rec = rig.wait_log(lambda r: r["cid"] == "1121")
    assert rec["silent"] is True
    assert "duress" not in t.cmd("help").lower()
    assert "duress" not in bytes(t.seen).decode().lower()


def test_walk_test_shows_trips_live(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.line("walktest start main")
    t.expect(r"Walk test started in main: 4 zones to test\.")
    t.expect(r"Ctrl-C leaves the live view\.")
    rig.gpio.press(22)                       # the main door contact
    t.expect(r"door_main\s+entry_exit\s+main\s+tested\s+1/4 tested")
    rig.gpio.release(22)
    rig.gpio.press(23)                       # a beam
    t.expect(r"beam_north\s+perimeter\s+main\s+tested\s+2/4 tested")
    rig.gpio.release(23)
    t.send(b"\x03")                          # Ctrl-C leaves the view, not the test
    t.expect("The walk test is still running")
    t.prompt("installer")
    out = t.cmd("walktest report")
    assert "2/4 tested" in out
    assert re.search(r"Not yet tripped \(2\): panic_reception, beam_south", out)
    # back into the live view: a trip while away shows up, then the next one live
    rig.gpio.press(24)
    t.line("walktest show")
    t.expect(r"beam_south\s+perimeter\s+main\s+tested\s+3/4 tested")
    t.send(b"\x03")
    t.prompt("installer")
    rows = log_rows(rig)
    assert [r["zone"] for r in rows if r["cid"] == "1607" and r["zone"]] == \
        ["door_main", "beam_north", "beam_south"]
    assert not [r for r in rows if r["kind"] == "alarm"]
    out = t.cmd("walktest stop")
    assert "Walk test stopped." in out and "NOT TESTED" in out and "3/4 tested" in out
    assert any(r["cid"] == "3607" for r in log_rows(rig))   # the end, with the untested
    out = t.cmd("walktest report")
    assert "already ended" in out and "3/4 tested" in out
    assert "no walk test running" in t.cmd("walktest stop")


def test_siren_test_reaches_the_output(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    assert rig.gpio.read(SIREN_PIN) == 0
    t.line("siren test 2")
    assert rig.gpio.wait(SIREN_PIN, 1, int(BOUND * 1000))
    out = t.prompt("installer").decode()
    assert "Siren test ended" in out              # the console says so
    assert rig.gpio.wait(SIREN_PIN, 0, int(BOUND * 1000))   # and it stops by itself
    out = t.cmd("output siren_main pulse 5")
    assert "outside 10-60000 ms (did you mean 5000 ms = 5 s?)" in out and "usage" not in out
    assert "MS is the pulse length in milliseconds" in t.cmd("output siren_main pulse")
    # with nothing to reset or silence, one line, not a refusal per area
    out = t.cmd("reset")
    assert "nothing to reset" in out and "refused" not in out
    assert "nothing to silence" in t.cmd("silence")
    # direct output control for wiring checks
    t.cmd("output strobe_main on")
    assert rig.gpio.wait(STROBE_PIN, 1, int(BOUND * 1000))
    t.cmd("output strobe_main off")
    assert rig.gpio.wait(STROBE_PIN, 0, int(BOUND * 1000))
    assert "no output 'nope'" in t.cmd("output nope on")


def test_idle_logout(rig_factory):
    rig = rig_factory(idle_s=2)
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.expect(r"Logged out ian after 2 s idle\.", timeout=BOUND)
    t.prompt("anyone")
    assert "needs the installer level" in t.cmd("config show")
    assert "1628" in [r["cid"] for r in log_rows(rig)]


def test_config_set_save_revert_round_trip(rig_factory, console_broker, tmp_path):
    from .conftest import Rig

    rig = rig_factory()
    t = rig.term
    path = rig.config_path
    original = open(path).read()
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd("config set areas.main.entry_delay_s 999")
    assert "refused" in out and "areas.main.entry_delay_s: 999 is above the maximum 255" in out
    out = t.cmd("config set zones.door_main.profile nosuch")
    assert "refused" in out and "zones[1].profile" in out and "nosuch" in out
    out = t.cmd("config set areas.main.entry_delay_s 45")
    assert "staged: areas.main.entry_delay_s = 45" in out
    assert "-entry_delay_s = 30" in t.cmd("config diff")
    assert "dropped 1 staged edit" in t.cmd("config revert")
    assert "no staged edits" in t.cmd("config diff")
    assert open(path).read() == original
    # secrets never shown
    out = t.cmd("config show mqtt")
    assert "<hidden>" in out and "s3cret" not in out
    # stage again and save: written atomically, previous kept, restart requested
    t.cmd("config set areas.main.entry_delay_s 45")
    t.cmd("config set zones.door_main.profile beam")
    t.line("config save")
    t.expect(r"Saved site\.toml \(the previous version is kept as site\.toml\.bak\)")
    t.expect("Restarting to apply the new config")
    assert rig.stopped(), "the daemon did not restart after config save"
    saved = open(path).read()
    assert "entry_delay_s = 45   # the installer's comment, kept by config edits" in saved
    assert open(path + ".bak").read() == original
    # the restarted controller runs the new file; 'config revert backup' restores the old one
    rig2 = Rig(tmp_path, console_broker, write=False)
    try:
        rig2.term.prompt("anyone")
        rig2.login(INSTALLER_CODE, "installer")
        assert "entry_delay_s = 45" in rig2.term.cmd("config show areas.main")
        rig2.term.line("config revert backup")
        rig2.term.expect(r"\[y/N\] ")
        rig2.term.line("y")
        rig2.term.expect(r"Restored the config from the backup")
        assert rig2.stopped()
        restored = open(path).read()
        assert "entry_delay_s = 30" in restored and "profile = \"beam\"" not in restored
    finally:
        rig2.close()


def test_status_summary_before_login_names_no_zone(rig):
    beam = rig.watch(lambda d: d["kind"] == "zone" and d["zone"] == "beam_north"
                     and d["state"] == "active")
    rig.gpio.press(23)
    assert beam.wait(BOUND)
    out = rig.term.cmd("status")
    assert re.search(r"main\s+disarmed", out)
    assert "platform uplink: connected" in out
    assert "zones not at rest: 1" in out and "beam_north" not in out
    rig.login(USER_CODE, "user")
    out = rig.term.cmd("status")
    assert re.search(r"beam_north\s+main\s+active", out)


def test_arm_refused_by_open_door_then_forced_and_disarmed(rig):
    t = rig.term
    door = rig.watch(lambda d: d["kind"] == "zone" and d["zone"] == "door_main"
                     and d["state"] == "active")
    rig.gpio.press(22)
    rig.login(USER_CODE, "user")
    assert door.wait(BOUND)
    out = t.cmd("arm")
    assert "refused:" in out and "door_main" in out
    out = t.cmd("arm main force")
    assert "refused" not in out
    assert re.search(r"bypass.*door_main", out, re.I), out     # the forced zone is named
    assert re.search(r"main\s+exit delay", t.cmd("status"))
    out = t.cmd("disarm main")
    assert "refused" not in out
    assert re.search(r"main\s+disarmed", t.cmd("status"))
    assert "no zone 'nosuch'" in t.cmd("bypass nosuch")
    assert "needs the installer level" in t.cmd("drill start main")
    # bypass shows in the zone list and is undone; a hold-up zone cannot be bypassed
    t.cmd("bypass beam_n")                    # a unique start of the name is enough
    assert re.search(r"beam_north\s+perimeter\s+main\s+\w+\s+bypassed", t.cmd("zones"))
    t.cmd("unbypass beam_north")
    assert not re.search(r"beam_north.*bypassed", t.cmd("zones"))
    assert "refused:" in t.cmd("bypass panic_reception")
    # the next person at the console cannot recall our commands
    t.send(b"\x04")
    t.prompt("anyone")
    t.send(b"\x1b[A\r")
    assert "unknown command" not in t.prompt("anyone").decode()
    assert not rig.call(lambda: rig.daemon.console.editor.history)


def test_panic_alarm_reset_drill_and_restart(rig):
    t = rig.term
    alarm = rig.watch(lambda d: d["kind"] == "alarm" and d["zone"] == "panic_reception")
    back = rig.watch(lambda d: d["kind"] == "zone" and d["zone"] == "panic_reception"
                     and d["state"] == "normal")
    rig.gpio.pulse(17, 300)                   # a hold-up button pressed and let go
    assert alarm.wait(BOUND) and back.wait(BOUND)
    rig.login(USER_CODE, "user")
    assert re.search(r"main\s+disarmed\s+incident \d+", t.cmd("status"))
    assert re.search(r"panic_reception\s+panic\s+main\s+\w+\s+latched", t.cmd("zones"))
    t.cmd("reset")
    assert "incident" not in t.cmd("status")
    rig.login(INSTALLER_CODE, "installer")
    t.cmd("drill start main")
    assert re.search(r"main\s+disarmed\s+DRILL", t.cmd("status"))
    t.cmd("drill stop")
    assert "DRILL" not in t.cmd("status")
    t.line("restart")
    t.expect(r"Restart the controller now\? \[y/N\] ")
    t.line("n")
    assert "not restarted" in t.prompt("installer").decode()
    left, rows = rig.watch_log(lambda r: r["cid"] == "1628")
    t.line("restart")
    t.expect(r"\[y/N\] ")
    t.line("y")
    t.expect("Restarting.")
    assert rig.stopped()
    assert left.wait(BOUND) and "shutdown" in rows[0]["text"]


def test_log_follow_shows_new_events_until_ctrl_c(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.line("log follow")
    t.expect(r"\(following; Ctrl-C stops\)")
    t.line("ignored while following")        # typing during a live view is not a command
    rig.gpio.press(24)
    t.expect(r"main/beam_south: ")
    t.send(b"\x03")
    out = t.prompt("installer").decode()
    assert "ignored" not in out
    out = t.cmd("log verify")
    assert re.search(r"log intact: \d+ rows checked", out)
    out = t.cmd("log 5")
    assert out.count("\n") >= 3 and "CID" in out


def test_mqtt_status_and_test_through_real_broker(rig, console_broker):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    # nobody subscribes to the events: the broker's PUBACK says "No matching subscribers"
    t.line("mqtt test")
    t.expect(r"test event seq \d+ reached the broker in [\d.]+ ms, but no platform subscribed")
    t.prompt("installer")
    assert any(r["cid"] == "1601" for r in rig.call(rig.daemon.eventlog.tail, 50))
    plat = Platform("127.0.0.1", console_broker, out=None, auto_ack=False)   # subscribed
    try:
        t.line("mqtt test")
        t.expect(r"test event seq \d+ acknowledged in [\d.]+ ms")
        t.prompt("installer")
        plat.wait_for(lambda e: e["cid"] == "1601", BOUND)
    finally:
        plat.close()
    out = t.cmd("mqtt status")
    assert re.search(r"state\s+connected", out) and "True" not in out and "False" not in out
    assert "s3cret" not in out


def test_time_set_refused_clearly_on_a_pc(rig):
    t = rig.term
    rig.login(USER_CODE, "user")
    assert "NTP" in t.cmd("time")
    assert "needs the installer level" in t.cmd("time set 2026-01-01 10:00")
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd("time set 2026-01-01 10:00")
    assert re.search(r"refused|cannot set the clock here", out)
    assert "YYYY-MM-DD" in t.cmd("time set tomorrow")
    # a date or time that does not exist never reaches timedatectl
    out = t.cmd("time set 2026-13-45 25:00")
    assert "month 13 does not exist" in out and "cannot set the clock" not in out
    assert "is not a time of day" in t.cmd("time set 2026-11-27 25:00")
    assert "2026-02 has no day 30" in t.cmd("time set 2026-02-30 10:00")
    out = t.cmd("time")
    assert re.search(r"UTC\s+20\d\d-", out) and re.search(r"local\s+20\d\d-.*\(UTC[+-]", out)


def test_pulled_cable_logs_the_installer_out(rig):
    rig.login(INSTALLER_CODE, "installer")
    os.close(rig.master)                      # the laptop end goes away
    rec = rig.wait_log(lambda r: r["cid"] == "1628")
    assert "link lost" in rec["text"]


def test_console_on_its_own_pty_link(rig_factory):
    rig = rig_factory(wire="pty-link")
    assert "Logged in as ian" in rig.login(INSTALLER_CODE, "installer")
    assert "siren_main" in rig.term.cmd("output")


def test_console_over_a_socket_url(rig_factory):
    rig = rig_factory(wire="socket")
    assert "Anyone:" in rig.term.cmd("help")
    assert "Logged in as alice" in rig.login(USER_CODE, "user")


def test_modbus_scan_stats_and_ctrl_c_cancels_a_long_scan(rig_factory):
    rig = rig_factory(modbus=(1, 5))
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd("modbus scan lan 1-8")
    assert "answering: 1, 5" in out
    assert "no Modbus bus named 'nope'" in t.cmd("modbus scan nope")
    assert "FROM-TO" in t.cmd("modbus scan lan 9-3")
    out = t.cmd("modbus stats")
    assert re.search(r"bus lan: tcp 127.0.0.1:\d+, connected", out)
    assert re.search(r"io1\s+1\s+yes", out)
    # a full scan waits a timeout per silent address: Ctrl-C stops it
    t.line("modbus scan lan")
    t.expect(r"Scanning bus lan addresses 1-247 \(Ctrl-C stops\)\.\.\.")
    t.expect(r"address 5 answers")
    t.send(b"\x03")
    out = t.prompt("installer").decode()
    assert "^C (cancelled)" in out and "answering so far: 1, 5" in out
    out = t.cmd("modbus scan nosuchbus")
    assert "Scanning" not in out and "no Modbus bus named 'nosuchbus'" in out
    assert "answering: 1, 5" in t.cmd("modbus scan lan 1-6")     # the bus still works
