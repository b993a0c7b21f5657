"""The walk test over the real pty: one scope for the console's count, its report and the
platform's end-of-test event; it ends with the installer's session (logout, idle, Ctrl-D) and
a guard (user level) may end it."""
from __future__ import annotations

import logging
import re
import threading
import time

from .sitecfg import INSTALLER_CODE, USER_CODE
from .term import BOUND


def rows(rig, n=200):
    return rig.call(rig.daemon.eventlog.tail, n)


def _not_tripped(text: str) -> list[str]:
    m = re.search(r"not tripped: (.*)$", text)
    assert m, text
    return [] if m[1] == "none" else m[1].split(", ")


def test_scope_agrees_between_count_report_and_platform(rig_factory):
    rig = rig_factory(extra=True)            # + a tamper and a technical zone
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.line("walktest start main")
    m = t.expect(r"Walk test started in main: (\d+) zones to test\.")
    total = int(m[1])
    t.expect(r"Ctrl-C leaves the live view\.")
    rig.gpio.press(23)
    t.expect(rf"beam_north\s+perimeter\s+main\s+tested\s+1/{total} tested")
    rig.gpio.release(23)
    t.send(b"\x03")
    t.prompt("installer")
    out = t.cmd("walktest report")
    listed = re.search(r"Not yet tripped \((\d+)\): ((?:.|\n)*?)(?=\n\S|\Z)", out)
    assert int(listed[1]) == total - 1
    console_left = [n for n in re.split(r",\s*", listed[2].strip()) if n]   # may wrap
    end, found = rig.watch_log(lambda r: r["cid"] == "3607")
    out = t.cmd("walktest stop")
    assert end.wait(BOUND)
    platform_left = _not_tripped(found[0]["text"])
    assert sorted(platform_left) == sorted(console_left)
    assert f"1/{total} tested" in out and out.count("NOT TESTED") == total - 1
    # status no longer lists the walk-test trips once the test has ended
    assert "tripped" not in t.cmd("status")


def test_installer_logout_ends_the_walk_test_and_guard_can_arm(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.line("walktest start")
    t.expect(r"Ctrl-C leaves the live view\.")
    t.send(b"\x03")
    t.prompt("installer")
    assert "WALK TEST" in t.cmd("status")
    end, found = rig.watch_log(lambda r: r["cid"] == "3607")
    out = t.cmd("logout", "anyone")
    assert "The walk test ends with the installer's session." in out
    assert end.wait(BOUND)
    rig.wait_log(lambda r: "ended: installer ian logged out (logout)" in r["text"])
    rig.login(USER_CODE, "user")
    assert "WALK TEST" not in t.cmd("status")
    out = t.cmd("arm main")
    assert "walk test" not in out and "refused" not in out
    t.cmd("disarm main")


def test_idle_logout_ends_the_walk_test(rig_factory):
    rig = rig_factory(idle_s=2)
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    end, found = rig.watch_log(lambda r: r["cid"] == "3607")
    t.line("walktest start main")
    t.expect(r"Logged out ian after 2 s idle\.", timeout=BOUND)
    assert end.wait(BOUND)
    assert not rig.call(lambda: rig.daemon.areas()["main"]["walktest"])


def test_a_guard_stops_a_walk_test_left_running(rig):
    t = rig.term
    # started outside any console session (a restart restored it, say)
    rig.run(rig.daemon.command("walktest_start", area="main", user="ian"))
    rig.login(USER_CODE, "user")
    out = t.cmd("arm main")
    assert "walk test running" in out and "walktest stop" in out
    assert "needs the installer level" in t.cmd("walktest start")
    out = t.cmd("walktest stop")
    assert "Walk test stopped." in out
    assert not rig.call(lambda: rig.daemon.areas()["main"]["walktest"])
    assert "refused" not in t.cmd("arm main")


def test_status_shows_each_device_in_words(rig_factory):
    rig = rig_factory(modbus=(1,))
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    deadline = time.monotonic() + BOUND
    while not rig.call(lambda: rig.daemon.driver_status()["modbus"]["buses"][0]["devices"][0]
                       .get("online")):
        assert time.monotonic() < deadline, "the Modbus module never answered"
        time.sleep(0.05)   # the first poll has no event of its own to await
    out = t.cmd("status")
    assert re.search(r"modbus io1 \(lan, address 1\): online since \d\d:\d\d:\d\d", out)
    assert re.search(r"gpio \(mock pins\): running, 4 inputs, 2 outputs", out)
    assert "True" not in out and "items" not in out
    off = threading.Event()

    class Seen(logging.Handler):
        def emit(self, record):
            if "io1: offline" in record.getMessage():
                off.set()
    seen = Seen()
    logging.getLogger("guardroom.drivers.modbus").addHandler(seen)
    try:
        rig.run(rig.modbus.stop())           # the module loses power
        assert off.wait(BOUND)
    finally:
        logging.getLogger("guardroom.drivers.modbus").removeHandler(seen)
    out = t.cmd("status")
    assert re.search(r"modbus io1 \(lan, address 1\): OFFLINE since \d\d:\d\d:\d\d \(\d+ s\):"
                     r" \w+", out), out


def test_health_gives_line_quality_per_device(rig_factory):
    rig = rig_factory(modbus=(1,), fence=True)
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    deadline = time.monotonic() + BOUND
    while not rig.call(lambda: rig.daemon.driver_status()["modbus"]["buses"][0]["devices"][0]
                       .get("polls")):
        assert time.monotonic() < deadline
        time.sleep(0.05)   # the first poll has no event of its own to await
    while not rig.call(lambda: rig.daemon.driver_status()["modbus"]["buses"][0]["devices"][1]
                       .get("readings")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = t.cmd("health")
    assert re.search(r"io1 \(lan/1\)\s+online\s+\d+\s+0\.0%", out), out
    assert re.search(r"fence1 readings .*: fence1_voltage 8000", " ".join(out.split())), out
    out = t.cmd("modbus stats")
    assert re.search(r"io1\s+1\s+yes\s+\d+\s+0\s+0\.0%", out), out


def test_live_view_reports_a_walk_test_ended_by_the_controller(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.line("walktest start main")
    t.expect(r"Ctrl-C leaves the live view\.")
    # the engine ends it (its timeout, or another path): the live view says so and reports
    rig.run(rig.daemon.command("walktest_stop", area="main", user="timeout"))
    t.expect(r"Walk test ended in 'main'; not tripped: ")
    t.expect(r"The walk test has ended\.")
    out = t.prompt("installer").decode()
    assert "NOT TESTED" in out
    assert "already ended" in t.cmd("walktest report")


def test_status_and_health_show_the_osdp_reader(rig_factory):
    rig = rig_factory(osdp=True)
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    deadline = time.monotonic() + BOUND
    while not rig.call(lambda: rig.daemon.driver_status()["osdp"]["readers"]["front"]
                       .get("online")):
        assert time.monotonic() < deadline, "the reader never came online"
        time.sleep(0.05)   # libosdp's handshake has no event the test can await
    out = " ".join(t.cmd("status").split())
    assert re.search(r"osdp reader front \(doors, address 101\): online since "
                     r"\d\d:\d\d:\d\d \(\d+ s\), secure channel on", out), out
    out = t.cmd("health")
    assert re.search(r"front \(doors/101\)\s+online since", out), out
    rig.reader.set_offline(True)                # the reader loses power
    while rig.call(lambda: rig.daemon.driver_status()["osdp"]["readers"]["front"]
                   .get("online")):
        assert time.monotonic() < deadline + BOUND, "the reader never went offline"
        time.sleep(0.05)
    out = " ".join(t.cmd("status").split())
    assert re.search(r"osdp reader front \(doors, address 101\): OFFLINE since "
                     r"\d\d:\d\d:\d\d \(\d+ s\)", out), out
