"""Loading the builds, the site validation and the Cython shim."""
import os
import subprocess
import sys

import pytest

import guardroom.core as core
from engine_rig import engine_module, make_site, ns
from guardroom.core import Decision, SiteError, load_engine, loader

PANIC = {"name": "Reception", "point": 1, "type": "panic"}


def test_public_names():
    assert core.BUILD in ("compiled", "interpreted")
    assert core.Engine is load_engine(core.BUILD).Engine
    assert isinstance(core.Engine(make_site([PANIC])).feed(1, 1, 1)[0], Decision)


def test_load_engine_builds_report_themselves():
    assert load_engine("interpreted").BUILD == "interpreted"
    assert engine_module("compiled").BUILD == "compiled"
    with pytest.raises(ValueError):
        load_engine("turbo")


def test_compiled_raises_import_error_when_not_built(monkeypatch):
    monkeypatch.setattr(loader, "compiled_path", lambda: None)
    monkeypatch.setattr(loader, "_loaded", {})
    monkeypatch.delitem(sys.modules, loader.COMPILED_NAME, raising=False)
    with pytest.raises(ImportError):
        load_engine("compiled")


def test_guardroom_pure_forces_the_interpreted_build():
    env = dict(os.environ, GUARDROOM_PURE="1")
    out = subprocess.run([sys.executable, "-c", "import guardroom.core as c; print(c.BUILD)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "interpreted"


def test_interpreted_engine_runs_on_the_shim_without_cython():
    mod = loader.load_source("guardroom.core._engine_shimmed", force_shim=True)
    assert mod.cython.__name__ == "guardroom.core._cython_shim"
    ref = load_engine("interpreted")
    site = make_site([PANIC, {"name": "North A", "point": 4, "type": "perimeter",
                              "profile": "std"}])
    decisions = []
    for m in (mod, ref):
        e = m.Engine(site)
        ds = e.feed(ns(1), 1, 1) + e.command(ns(2), "arm_away") + e.advance(ns(100))
        ds += e.feed(ns(200), 4, 1) + e.advance(ns(300))
        decisions.append([d.as_dict() for d in ds])
    assert decisions[0] == decisions[1] and len(decisions[0]) > 5


@pytest.mark.parametrize("mutate, key", [
    (lambda s: s["zones"][0].update(area="Nowhere"), "zones[0] (Reception).area"),
    (lambda s: s["zones"][0].update(profile="nope"), "zones[0] (Reception).profile"),
    (lambda s: s["zones"][0].update(groups=["ghost"]), "zones[0] (Reception).groups"),
    (lambda s: s["zones"][0].update(type="laser"), "zones[0] (Reception).type"),
    (lambda s: s["zones"].append(dict(s["zones"][0], name="Dup")), "zones[1] (Dup).point"),
    (lambda s: s["areas"]["Main"].update(sirens=["horn"]), "areas.Main.sirens"),
    (lambda s: s["profiles"]["std"].update(pulses=0), "profiles.std.pulses"),
    (lambda s: s["zones"][0].pop("point"), "zones[0] (Reception).point"),
])
def test_site_errors_name_the_key(eng, mutate, key):
    site = make_site([PANIC])
    mutate(site)
    with pytest.raises(SiteError, match=key.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        eng.Engine(site)


def test_decision_equality_repr_and_dict():
    a = Decision("alarm", 5, area="Main", cid=120, q=1, report=True)
    b = Decision("alarm", 5, area="Main", cid=120, q=1, report=True)
    assert a == b and a != Decision("alarm", 6, area="Main", cid=120, q=1, report=True)
    assert a.as_dict()["cid"] == 120 and "cid=120" in repr(a)


def test_decision_pickles_copies_and_is_unhashable():
    import copy
    import pickle
    d = Decision("output", 7, area="Main", output="siren", on=True, state="fire", incident=3)
    assert pickle.loads(pickle.dumps(d)) == d and copy.copy(d) == d
    assert not (d != copy.copy(d))
    with pytest.raises(TypeError):
        hash(d)
    assert d.as_dict() == {"kind": "output", "t_ns": 7, "area": "Main", "zone": "",
                           "incident": 3, "cid": 0, "q": 0, "verified": False,
                           "silent": False, "drill": False, "user": "", "text": "",
                           "output": "siren", "on": True, "state": "fire", "report": False}


def test_both_builds_return_the_one_decision_type(eng):
    """The compiled engine fills the extension type directly; the interpreted one builds the
    same class: decisions of both builds are the same type and compare equal."""
    d = eng.Engine(make_site([PANIC])).feed(1, 1, 1)[0]
    assert type(d) is Decision
    assert d == Decision(**d.as_dict()) and repr(d) == repr(Decision(**d.as_dict()))


def test_decision_is_a_compiled_type_outside_the_garbage_collector_when_built():
    import gc
    import guardroom.core.decisions as dmod
    if loader.compiled_path() is None:
        pytest.skip("the extensions are not built")
    assert not dmod.__file__.endswith(".py")
    assert not gc.is_tracked(Decision("zone", 1, zone="Door", text="x"))


def test_decision_runs_as_plain_python_from_its_source():
    import importlib.util
    spec = importlib.util.spec_from_file_location("guardroom.core._decisions_src",
                                                  loader.HERE / "decisions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a = mod.Decision("alarm", 5, area="Main", cid=120, q=1, report=True)
    assert a == mod.Decision(**a.as_dict()) and "cid=120" in repr(a)
    assert mod.Decision.__slots__ == mod.FIELDS


def test_constants_pxd_repeats_constants_py():
    """core/constants.pxd (C enum constants of the compiled modules) and core/constants.py
    (the interpreted build's names) define the same integers."""
    import re
    from guardroom.core import constants
    text = (loader.HERE / "constants.pxd").read_text()
    declared = dict(re.findall(r"^    ([A-Z][A-Z0-9_]*) = (-?\d+)$", text, re.M))
    assert len(declared) > 40
    for name, value in declared.items():
        assert getattr(constants, name) == int(value), name
    ints = {k for k, v in vars(constants).items() if k.isupper() and type(v) is int}
    assert ints - set(declared) == {"INF", "TMAX", "MAX_TEST_S"}
    assert f"#define GUARDROOM_INF {constants.INF}LL" in text
    assert f"#define GUARDROOM_TMAX {constants.TMAX}LL" in text


def test_the_interpreted_engine_runs_its_cold_modules_from_source():
    mod = load_engine("interpreted")
    for part in (mod.areas, mod.incidents, mod.sirens, mod.snapshots):
        assert part.__file__.endswith(".py") and not part.cython.compiled
