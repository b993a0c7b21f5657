"""The console's share of "no one in, nothing silenced": outputs switched by hand return to
the alarm logic's order when the installer leaves, the wrong-code lockout survives a restart,
and a duress login raises a covert duress alarm (no trace on the site's screens)."""
from __future__ import annotations

from .conftest import Rig
from .sitecfg import INSTALLER_CODE, SIREN_PIN, STROBE_PIN
from .term import BOUND


def test_hand_switched_outputs_return_at_logout(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    t.cmd("output siren_main on")
    t.cmd("output strobe_main on")
    assert rig.gpio.wait(SIREN_PIN, 1, int(BOUND * 1000))
    assert rig.gpio.wait(STROBE_PIN, 1, int(BOUND * 1000))
    t.line("logout")
    t.expect("siren_main: back to the alarm logic's order.")
    assert rig.gpio.wait(SIREN_PIN, 0, int(BOUND * 1000)), "siren left on after logout"
    assert rig.gpio.wait(STROBE_PIN, 0, int(BOUND * 1000)), "strobe left on after logout"
    assert rig.call(rig.daemon.outputs)["siren_main"]["on"] is False


def test_hand_switched_output_returns_at_idle_logout(rig_factory):
    rig = rig_factory(idle_s=2)
    rig.login(INSTALLER_CODE, "installer")
    rig.term.cmd("output siren_main on")
    assert rig.gpio.wait(SIREN_PIN, 1, int(BOUND * 1000))
    rig.term.expect(r"Logged out ian after 2 s idle\.", timeout=BOUND)
    assert rig.gpio.wait(SIREN_PIN, 0, int(BOUND * 1000)), "siren left on after idle logout"


def test_console_lockout_survives_a_restart(tmp_path, console_broker):
    rig = Rig(tmp_path, console_broker)
    try:
        rig.term.prompt("anyone")
        for _ in range(5):
            rig.login("0000", "anyone")
    finally:
        rig.close()
    rig = Rig(tmp_path, console_broker, write=False)
    try:
        rig.term.prompt("anyone")
        out = rig.login(INSTALLER_CODE, "anyone")
        assert "console locked" in out and "Logged in" not in out
    finally:
        rig.close()


YARD = '''
[areas.yard]
exit_delay_s = 0
'''


def test_duress_login_without_areas_on_a_multi_area_site_is_covert(rig_factory):
    """alice has no `areas` and the site has two: her duress code still logs her in like her
    code and raises the silent duress alarm, with no word of it on the screen, in `status`
    or in `log`."""
    from .sitecfg import DURESS_CODE

    rig = rig_factory(more_toml=YARD)
    t = rig.term
    out = rig.login(DURESS_CODE, "user")
    assert "Logged in as alice (user)" in out
    rec = rig.wait_log(lambda r: r["cid"] == "1121")
    assert rec["silent"] is True and rec["area"] == "main"
    status = t.cmd("status")
    assert "incident" not in status.lower(), status
    shown = t.cmd("log")
    assert "1121" not in shown and "uress" not in shown, shown
    screen = bytes(t.seen).decode(errors="replace").lower()
    assert "which area" not in screen and "duress" not in screen
    assert all(v["incident"] == 0 for v in rig.call(rig.daemon.state)["areas"].values())
