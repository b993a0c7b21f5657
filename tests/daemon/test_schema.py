"""The schema library: strict sections, defaults, named problems."""
import pytest

from guardroom.errors import ConfigError
from guardroom.schema import Bool, Choice, Int, ListOf, MapOf, Name, Section, Str, describe

S = Section({
    "port": Int(default=1883, min=1, max=65535, doc="port"),
    "host": Str(),
    "mode": Choice(["a", "b"], default="a"),
    "flags": ListOf(Bool(), default=list),
    "items": MapOf(Section({"n": Int(default=1)}), default=dict),
    "who": Name(default="x"),
})


def test_defaults_filled_and_values_kept():
    out = S.validate({"host": "h", "items": {"one": {}}})
    assert out == {"port": 1883, "host": "h", "mode": "a", "flags": [], "items": {"one": {"n": 1}},
                   "who": "x"}


def test_all_problems_with_paths():
    with pytest.raises(ConfigError) as exc:
        S.validate({"prot": 1, "port": True, "mode": "c", "flags": [1], "items": {"bad name": {}},
                    "who": "no spaces"}, "mqtt")
    p = dict(exc.value.problems)
    assert set(p) >= {"mqtt.prot", "mqtt.port", "mqtt.host", "mqtt.mode", "mqtt.flags[0]",
                      "mqtt.items.bad name", "mqtt.who"}
    assert "did you mean 'port'" in p["mqtt.prot"]
    assert "is required" in p["mqtt.host"]


def test_describe_lists_every_key():
    rows = {r[0]: r for r in describe(S)}
    assert rows["port"][2] == "1883"
    assert rows["host"][2] == "required"
    assert "items.<name>.n" in rows
