"""The site config: strict schema, every problem named by its key path, cross-references,
and the shipped examples validate (as `guardroom check` does)."""
import glob
import os
import subprocess
import sys

import pytest

from guardroom import config
from guardroom.checker import check_config
from guardroom.errors import ConfigError
from minimal_config import MINIMAL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml")))


def problems(text):
    with pytest.raises(ConfigError) as exc:
        config.parse_text(text)
    return dict(exc.value.problems)


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_validate(path):
    summary = check_config(path)
    assert summary.startswith(path + ": OK")


def test_minimal_config_gets_defaults():
    cfg = config.parse_text(MINIMAL)
    assert cfg["areas"]["main"]["entry_delay_s"] == 30
    assert cfg["storage"]["fsync_ms"] == 50
    assert cfg["zones"][0]["silent"] is None
    assert cfg["lockout"]["attempts"] == 5


def test_unknown_key_is_named_with_a_hint():
    p = problems(MINIMAL.replace("[areas.main]", "[areas.main]\nentry_dealy_s = 10"))
    assert "areas.main.entry_dealy_s" in p
    assert "entry_delay_s" in p["areas.main.entry_dealy_s"]


def test_bounds_and_types_are_named():
    text = MINIMAL.replace("[areas.main]", "[areas.main]\nexit_delay_s = 999\nsirens = 3")
    p = problems(text)
    assert "above the maximum 255" in p["areas.main.exit_delay_s"]
    assert "must be a list" in p["areas.main.sirens"]


def test_dangling_references_are_refused():
    text = MINIMAL.replace('area = "main"', 'area = "nowhere"\ngroups = ["g"]\nprofile = "x"')
    p = problems(text)
    assert "no area named 'nowhere'" in p["zones[0].area"]
    assert "no group named 'g'" in p["zones[0].groups"]
    assert "no profile named 'x'" in p["zones[0].profile"]


def test_every_problem_is_reported_at_once():
    text = MINIMAL.replace('name = "s"', 'name = 5').replace('type = "panic"', 'type = "bell"')
    p = problems(text)
    assert "site.name" in p and "zones[0].type" in p


def test_zone_point_must_be_declared_by_a_driver(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text(MINIMAL.replace('point = "p1"\ntype', 'point = "p9"\ntype'))
    with pytest.raises(ConfigError) as exc:
        check_config(str(f))
    assert ("zones[0].point", "no driver declares a point named 'p9'") in exc.value.problems


def test_siren_must_be_a_siren_output(tmp_path):
    text = MINIMAL.replace("[areas.main]", '[areas.main]\nsirens = ["lamp"]') + """
[[drivers.gpio.output]]
name = "lamp"
pin = 22
kind = "strobe"
"""
    f = tmp_path / "site.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        check_config(str(f))
    assert ("areas.main.sirens", "output 'lamp' is a strobe, not a siren") in exc.value.problems


def test_invalid_toml_is_a_config_error():
    p = problems("[site\nname=")
    assert any("not valid TOML" in why for why in p.values())


def test_check_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('type = "panic"', 'type = "bell"'))
    r = subprocess.run([sys.executable, "-m", "guardroom", "check", "--config", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "zones[0].type" in r.stderr
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    r = subprocess.run([sys.executable, "-m", "guardroom", "check", "--config", str(good)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_secrets_are_known():
    paths = config.secret_paths()
    assert "mqtt.password" in paths
    assert "users.*.code_hash" in paths
    assert any(p.endswith("scbk") for p in paths)


def test_config_reference_doc_is_up_to_date():
    from guardroom.configdoc import render

    with open(os.path.join(ROOT, "docs", "installer", "config-reference.md"),
              encoding="utf-8") as fh:
        assert fh.read() == render(), \
            "regenerate: python -m guardroom.configdoc > docs/installer/config-reference.md"
