"""User management at the console (staged config edits) and engineer access authorised by a
user while an area is armed (EN 50131 grade 3, an option)."""
from __future__ import annotations

import re

from guardroom.config import load

from .sitecfg import INSTALLER_CODE, USER_CODE


def test_add_disable_areas_delete_and_save(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd("user list")
    assert re.search(r"alice\s+user\s+enabled\s+all\s+code, duress", out)
    assert re.search(r"ian\s+installer\s+enabled\s+all\s+code", out)
    t.line("user add bob areas main")
    t.expect("staged: new user bob for main")
    t.expect("New code")
    t.line("5173")
    t.expect("Again: ")
    t.line("5173")
    assert "staged: new code for bob" in t.prompt("installer").decode()
    assert "did you mean 'main'" in t.cmd("user areas bob mian")
    assert "staged: alice disabled" in t.cmd("user disable alice")
    assert "cannot disable yourself" in t.cmd("user disable ian")
    assert "cannot delete yourself" in t.cmd("user delete ian")
    t.line("user delete alice")
    t.expect(r"\[y/N\] ")
    t.line("y")
    assert "staged: user alice deleted" in t.prompt("installer").decode()
    out = t.cmd("user list")
    assert "bob" in out and "alice" not in out
    t.line("config save")
    t.expect("Saved site.toml")
    assert rig.stopped()
    users = {u["name"]: u for u in load(rig.config_path)["users"]}
    assert set(users) == {"ian", "bob"} and users["bob"]["areas"] == ["main"]
    assert users["bob"]["code_hash"].startswith("pbkdf2_sha256$")


def test_installer_needs_a_users_authorisation_while_armed(rig_factory):
    rig = rig_factory(console_extra="installer_needs_authorisation = true")
    t = rig.term
    rig.login(USER_CODE, "user")
    t.cmd("arm main")
    t.line("login")
    t.expect("Code: ")
    t.line(INSTALLER_CODE)
    out = t.prompt("user").decode()
    assert "installer login refused: main is armed" in out and "'authorise'" in out
    assert "authorised installer access" not in out
    out = t.cmd("authorise")
    assert "Installer access authorised for 30 min." in out
    assert "Logged in as ian" in rig.login(INSTALLER_CODE, "installer")
    rig.wait_log(lambda r: "authorised installer access" in r.get("text", ""))
    t.cmd("disarm main")
