"""Config edits and codes over the real pty: a code equal to another slot or trivial is
refused (unless forced, for trivial ones), a mistyped area is refused with a suggestion, a
list typed in TOML/JSON is accepted, a strobe listed as a siren is refused."""
from __future__ import annotations

from .sitecfg import INSTALLER_CODE


def _code(t, cmd, code, level="installer"):
    t.line(cmd)
    t.expect("New code")
    t.line(code)
    t.expect("Again: ")
    t.line(code)
    return t.prompt(level).decode()


def test_codes_refused_when_trivial_or_already_used(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = _code(t, "config code alice", "1111")
    assert "too easy to guess (every digit the same)" in out and "staged" not in out
    out = _code(t, "config code alice", "3456")
    assert "too easy to guess (a straight run of digits)" in out
    # the installer's own code (9876, a run too, so forced) cannot become a guard's
    out = _code(t, "config code alice force", INSTALLER_CODE)
    assert "already user ian's code" in out and "staged" not in out
    out = _code(t, "config code alice", "4826")
    assert "staged: new code for alice" in out
    out = _code(t, "config code alice duress", "4826")
    assert "already this user's code" in out
    out = _code(t, "config code alice duress force", "2580")
    assert "staged: new duress code for alice" in out
    assert "4826" not in bytes(t.seen).decode()           # codes are never echoed
    assert "did you mean 'alice'" in t.cmd("config code alcie")


def test_mistyped_area_is_refused_with_a_suggestion(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = " ".join(t.cmd("config set areas.mian.exit_delay_s 10").split())
    assert "no areas.mian in the config; did you mean 'main'?" in out
    assert "config add areas.mian" in out
    assert "no staged edits" in t.cmd("config diff")
    assert "staged: new [areas.garage]" in t.cmd("config add areas.garage")
    assert "staged: areas.garage.exit_delay_s = 10" in \
        t.cmd("config set areas.garage.exit_delay_s 10")


def test_lists_in_toml_or_json_and_output_kinds_checked(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd('config set users.alice.areas ["main"]')
    assert 'staged: users.alice.areas = ["main"]' in out
    out = t.cmd('config set areas.main.sirens ["siren_main","strobe_main"]')
    assert "refused" in out and "output 'strobe_main' is a strobe, not a siren" in out
