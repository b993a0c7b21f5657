"""Reasons made in plain English elsewhere reach people in Chinese: every refusal wording of
the engine (core/ stays English) is matched by refusals.py, and config problems (schema,
cross-references, drivers) come out of `guardroom check` in the reader's language."""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

from guardroom import refusals
from guardroom.checker import check_text
from guardroom.checkmsg import localize
from guardroom.errors import ConfigError
from guardroom.i18n import Msg, translator

ROOT = Path(__file__).resolve().parents[2]
ZH, EN = translator("zh-CN"), translator("en")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _samples(node) -> list[str]:
    """The texts an f-string can make, each field a plain word (both branches of a
    conditional made of literals)."""
    if isinstance(node, ast.Constant):
        return [str(node.value)]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                inner = v.value
                if isinstance(inner, ast.IfExp) and all(
                        isinstance(x, ast.Constant) for x in (inner.body, inner.orelse)):
                    parts.append([inner.body.value, inner.orelse.value])
                else:
                    parts.append(["x_1"])
            else:
                parts.append([v.value])
        return ["".join(p) for p in itertools.product(*parts)]
    if isinstance(node, ast.BinOp):                 # "a" + ", ".join(...)
        return [a + b for a in _samples(node.left) for b in _samples(node.right)]
    return ["x_1"]


# the engine modules that refuse (core/engine.py and its cold domains)
ENGINE_SOURCES = ("engine", "areas", "incidents", "sirens", "snapshot")


def _engine_refusals() -> list[str]:
    out = []
    for name in ENGINE_SOURCES:
        tree = ast.parse((ROOT / f"core/{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_refuse":
                out += _samples(node.args[2])
    return out


def test_every_engine_refusal_has_a_chinese_wording():
    found = _engine_refusals()
    assert len(found) >= 15, found
    missing = [s for s in found if refusals.reason(s, ZH) == s]
    assert not missing, f"the engine (core/) refuses with a wording refusals.py does not know: " \
                        f"{missing} (add its shape and a catalog template)"
    for s in found:                                  # English stays byte for byte
        assert refusals.reason(s, EN) == s


def test_an_arming_refusal_names_zones_and_states():
    why = "cannot arm 'school': zones not ready: door (active), gate_2 (tamper); " \
          "prevention of setting: mains"
    zh = refusals.reason(why, ZH)
    assert zh == "分区“school”无法布防：防区未就绪：door（触发），gate_2（防拆）；禁止布防：mains", zh


BAD_SITE = """
[site]
name = "s"
controller = "c"
colour = "red"
[mqtt]
host = "127.0.0.1"
[areas.main]
sirens = ["nowhere"]
[[zones]]
name = "z1"
point = "p1"
type = "panic"
area = "mian"
offline_grace_s = 600
[[zones]]
name = "z1"
point = "p1"
type = "perimeter"
area = "main"
[[drivers.gpio.input]]
point = "p1"
pin = 17
[[drivers.gpio.input]]
point = "p2"
pin = 17
"""


def test_check_problems_read_in_chinese_and_stay_english():
    try:
        check_text(BAD_SITE)
    except ConfigError as e:
        problems = e.problems
    else:
        raise AssertionError("the bad site passed the check")
    assert len(problems) >= 5, problems
    for key, why in problems:
        zh = localize(why, ZH)
        assert CJK.search(zh), f"{key}: {why!r} stays English in Chinese"
        assert localize(why, EN) == str(why)
    assert any(isinstance(why, Msg) for _, why in problems)
    assert any(key == "site.colour" and localize(why, ZH).startswith("未知的键")
               for key, why in problems), problems
