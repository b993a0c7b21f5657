"""The rig layer itself: rig files, overrides, and (on a real rig) the wiring loops."""
from __future__ import annotations

import os

import pytest
import tomlkit

from guardroom.errors import ConfigError

from .rig import EmulatedRig, RealRig, apply_overrides, load_rig_file

HERE = os.path.dirname(os.path.abspath(__file__))


def test_example_rig_file_is_valid():
    rig = load_rig_file(os.path.join(HERE, "rig.example.toml"))
    assert os.path.exists(rig["rig"]["site"])
    real = RealRig(rig)
    assert real.can_drive("panic_reception") and real.can_drive("beam_south_b")
    assert real.can_sense("siren") and not real.can_drive("front_door")
    assert real.can("broker") and real.can("daemon") and not real.can("reader")


def test_rig_file_mistakes_name_their_key(tmp_path):
    p = tmp_path / "rig.toml"
    p.write_text('[rig]\nsite = "x.toml"\n[drive.panic]\nrelay_board = "nope"\ncoil = 1\n'
                 '[sense.siren]\ngpio = 3\nrelay_board = "r"\n[drive.beam]\ngpoi = 4\n')
    with pytest.raises(ConfigError) as e:
        load_rig_file(str(p))
    text = str(e.value)
    assert "drive.beam.gpoi" in text and "sense.siren" in text


def test_overrides_reach_tables_and_named_array_entries():
    doc = tomlkit.parse('[areas.a]\nfallback_s = 30\n[[zones]]\nname = "z1"\ntype = "panic"\n'
                        '[[drivers.modbus.bus]]\nname = "b"\n[[drivers.modbus.bus.device]]\n'
                        'name = "d"\noffline_after = 3\n')
    apply_overrides(doc, {"areas.a.fallback_s": 1, "zones.z1.offline_grace_s": 2,
                          "drivers.modbus.bus.b.device.d.offline_after": 2,
                          "profiles.fast": {"active_ms": 0, "restore_ms": 0},
                          "areas": {"a": {"exit_delay_s": 0}}})
    assert doc["areas"]["a"]["fallback_s"] == 1 and doc["areas"]["a"]["exit_delay_s"] == 0
    assert doc["zones"][0]["offline_grace_s"] == 2
    assert doc["drivers"]["modbus"]["bus"][0]["device"][0]["offline_after"] == 2
    assert doc["profiles"]["fast"]["active_ms"] == 0


def test_emulated_rig_reaches_every_point_of_the_site():
    rig = EmulatedRig()
    assert {"broker", "daemon", "reader", "burst", "wire_faults"} <= rig.capabilities


@pytest.mark.real_rig
def test_every_wired_point_reaches_the_daemon(start_rig):
    """Each [drive.X] loop, pressed and released, shows in the daemon's state."""
    rig = start_rig()
    if not isinstance(rig, RealRig):
        pytest.skip("real rig only")
    key = f"{rig.site}/{rig.controller}"
    zone_of = {z["point"]: z["name"] for z in rig.config["zones"]}
    for point in rig.rig["drive"]:
        zone = zone_of.get(point)
        if zone is None:
            continue
        rig.press(point)
        rig.platform.wait_until(lambda: rig.platform.states[key]["zones"][zone]["state"]
                                != "normal", 10)
        rig.release(point)
        if not rig.platform.states[key]["zones"][zone].get("latched"):
            rig.platform.wait_until(lambda: rig.platform.states[key]["zones"][zone]["state"]
                                    == "normal", 10)


def _pc_site(tmp_path) -> str:
    """A one-zone site the daemon can run on any PC (GPIO mock factory, no field buses),
    with the guard of examples/school.toml (code 1234)."""
    school = tomlkit.parse(open(os.path.join(HERE, "..", "examples", "school.toml")).read())
    guard = school["users"][0]
    site = tmp_path / "pc-site.toml"
    site.write_text(f"""
[site]
name = "bench"
controller = "ctl-pc"
[mqtt]
host = "127.0.0.1"
heartbeat_s = 5
[[users]]
name = "guard"
level = "user"
code_hash = "{guard['code_hash']}"
[areas.building]
sirens = ["siren"]
[[zones]]
name = "panic"
point = "panic"
type = "panic"
area = "building"
[drivers.gpio]
factory = "mock"
[[drivers.gpio.input]]
point = "panic"
pin = 17
pull = "up"
[[drivers.gpio.output]]
name = "siren"
pin = 22
kind = "siren"
""")
    return str(site)


def test_real_rig_runs_broker_daemon_and_platform_on_a_pc(tmp_path):
    """RealRig without hardware: no point wired back, but it starts its broker and the
    daemon, commands it, survives a SIGKILL and a restart with seq continuing."""
    rig_file = tmp_path / "rig.toml"
    rig_file.write_text(f'[rig]\nsite = "{_pc_site(tmp_path)}"\npin_factory = "mock"\n')
    with RealRig(load_rig_file(str(rig_file))) as rig:
        assert not rig.can_drive("panic") and not rig.can_sense("siren")
        assert rig.cmd("drill_start", area="building", code="1234")["ok"]
        assert rig.cmd("drill_start", area="building", code="9999")["ok"] is False
        first = rig.wait_event(lambda e: e["kind"] == "drill", 10)
        pid = rig.daemon_pid
        rig.kill_daemon()
        rig.start_daemon()
        assert rig.daemon_pid not in (0, pid)
        assert rig.cmd("drill_stop", area="building", code="1234")["ok"]
        stop = rig.wait_event(lambda e: e["kind"] == "drill", 10, after_seq=first["seq"])
        assert stop["seq"] > first["seq"]
        assert not rig.platform.gaps
