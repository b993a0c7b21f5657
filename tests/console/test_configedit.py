"""Staged config edits on a real site file, validated by the real config parser."""
from __future__ import annotations

import os

import pytest

from guardroom.config import parse_text, secret_paths
from guardroom.console.configedit import ConfigEditError, ConfigEditor, convert, split_path
from guardroom.errors import ConfigError

from .sitecfg import site_toml


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(site_toml(str(tmp_path / "store"), "/dev/null", str(tmp_path / "ctl")))
    os.chmod(path, 0o640)
    return str(path)


@pytest.fixture
def ed(site):
    return ConfigEditor(site, parse_text, secret_paths())


def test_paths_and_conversion():
    assert split_path("zones[3].profile") == ["zones", "3", "profile"]
    assert split_path("areas.main.entry_delay_s") == ["areas", "main", "entry_delay_s"]
    with pytest.raises(ConfigEditError):
        split_path("a b")
    assert convert("45", 30) == 45 and convert("abc", 30) == "abc"
    assert convert("yes", False) is True and convert("off", True) is False
    assert convert("45", "old") == "45"                   # a string stays a string
    assert convert("a, b", ["x"]) == ["a", "b"] and convert('["a"]', []) == ["a"]
    assert convert("true", None) is True and convert("slow", None) == "slow"


def test_set_keeps_comments_and_refuses_bad_values_naming_the_key(ed):
    with pytest.raises(ConfigError) as e:
        ed.set("areas.main.entry_delay_s", "300")
    assert e.value.problems == [("areas.main.entry_delay_s", "300 is above the maximum 255")]
    with pytest.raises(ConfigError) as e:
        ed.set("zones.beam_north.area", "upstairs")
    assert e.value.problems[0][0] == "zones[2].area"
    assert not ed.staged
    ed.set("areas.main.entry_delay_s", "45")
    ed.set("zones.beam_north.profile", "pir")
    ed.set("zones[3].silent", "true")
    text = ed.text()
    assert "entry_delay_s = 45   # the installer's comment, kept by config edits" in text
    cfg = parse_text(text)
    assert cfg["areas"]["main"]["entry_delay_s"] == 45
    assert cfg["zones"][2]["profile"] == "pir" and cfg["zones"][3]["silent"] is True
    assert [k for k, _, _ in ed.edits] == ["areas.main.entry_delay_s",
                                           "zones.beam_north.profile", "zones[3].silent"]
    with pytest.raises(ConfigEditError, match="no item 'nosuch' in zones"):
        ed.set("zones.nosuch.profile", "pir")


def test_secrets_hidden_everywhere(ed):
    shown = ed.show()
    assert "s3cret-mqtt" not in shown and 'password = "<hidden>"' in shown
    assert "pbkdf2_sha256" not in shown
    ed.set("mqtt.password", "n3w-secret")
    assert ed.edits[-1] == ("mqtt.password", "<hidden>", "<hidden>")
    assert "n3w-secret" not in "\n".join(ed.diff())
    assert ed.show("mqtt.password") == 'mqtt.password = "<hidden>"'
    assert ed.show("areas").startswith("[areas.main]")
    door = ed.show("zones.door_main")
    assert door.startswith("[[zones]]") and 'point = "door_main"' in door
    assert 'name = "alice"' in ed.show("users.alice") and "<hidden>" in ed.show("users.alice")
    assert "pbkdf2" not in ed.show("users.alice")


def test_save_is_atomic_keeps_backup_and_mode(ed, site):
    before = open(site).read()
    with pytest.raises(ConfigEditError, match="nothing staged"):
        ed.save()
    ed.set("areas.main.exit_delay_s", "60")
    ed.save()
    assert open(site + ".bak").read() == before
    assert "exit_delay_s = 60" in open(site).read()
    assert os.stat(site).st_mode & 0o777 == 0o640
    assert not [f for f in os.listdir(os.path.dirname(site)) if ".tmp" in f]
    # the backup swaps back, and the replaced file becomes the backup
    ed.restore_backup()
    assert open(site).read() == before
    assert "exit_delay_s = 60" in open(site + ".bak").read()


def test_save_refuses_when_file_changed_underneath(ed, site):
    ed.set("areas.main.exit_delay_s", "60")
    with open(site, "a") as fh:
        fh.write("\n# edited by hand meanwhile\n")
    with pytest.raises(ConfigEditError, match="changed by someone else"):
        ed.save()
    assert ed.revert() == 1 and not ed.staged


def test_unset_restores_the_default(ed):
    ed.unset("areas.main.exit_delay_s")
    assert parse_text(ed.text())["areas"]["main"]["exit_delay_s"] == 30
    with pytest.raises(ConfigEditError):
        ed.unset("areas.main.exit_delay_s")
