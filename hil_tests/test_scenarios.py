"""Every scenario file in hil_tests/scenarios/ runs once on the rig (emulated by default)."""
from __future__ import annotations

import os

import pytest

from guardroom.errors import ConfigError

from . import scenario

FILES = scenario.all_files()


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f)[:-5] for f in FILES])
def test_scenario(path, start_rig):
    sc = scenario.load(path)
    rig = start_rig(overrides=sc["config"], auto_ack=sc["platform_ack"])
    lacking = scenario.missing(rig, sc)
    if lacking:
        pytest.skip(f"the {rig.kind} rig cannot: {', '.join(lacking)}")
    scenario.run(rig, sc)
    assert not rig.platform.gaps, f"seq gaps: {rig.platform.gaps}"
    assert rig.platform.duplicates == 0 or not rig.platform.out_of_order


def test_every_scenario_file_is_valid():
    assert len(FILES) >= 10
    for path in FILES:
        sc = scenario.load(path)
        assert sc["expect"] or sc["expect_none"] or sc["output"] or sc["forbid"], path


def test_a_mistake_in_a_scenario_names_the_file_and_the_key(tmp_path):
    bad = tmp_path / "typo.toml"
    bad.write_text('name = "x"\n[[step]]\npresss = "panic_reception"\n'
                   '[[expect]]\ncid = "120"\n')
    with pytest.raises(ConfigError) as e:
        scenario.load(str(bad))
    text = str(e.value)
    assert "typo.toml: step[0].presss" in text and "did you mean 'press'" in text
    assert "typo.toml: expect[0].cid" in text
