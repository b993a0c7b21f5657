"""The zh-CN catalog is complete and current: every string the code marks for translation (as
Babel extracts it with the project's babel.cfg and keywords) has a non-empty zh-CN translation
with the same {fields}, and the shipped .mo is the compiled .po."""
from __future__ import annotations

import gettext
import re
import string
from pathlib import Path

import pytest

pytest.importorskip("babel", reason="Babel is in the test extra (pip install -e '.[test]')")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from guardroom import i18n

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "firmware_py/locale/zh_CN/LC_MESSAGES/guardroom.po"
#: the keywords of `make i18n` (its -k options), so this test extracts what the Makefile does
KEYWORDS = {"_": None, **{k.split(":")[0]: (tuple(int(x) for x in k.split(":")[1].split(","))
                                           if ":" in k else None)
                          for k in re.findall(r"-k (\S+)", (ROOT / "Makefile").read_text())}}


def _method_map():
    """babel.cfg's sections as extract_from_dir's method map (ignore first)."""
    out = []
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        m = re.fullmatch(r"\[(\w+):\s*(.+)\]", line.strip())
        if m:
            out.append((m[2], m[1]))
    return out


def _extracted() -> set[str]:
    ids = set()
    for _f, _l, msg, _c, _x in extract_from_dir(str(ROOT), _method_map(), keywords=KEYWORDS):
        ids.add(msg if isinstance(msg, str) else msg[0])
    return ids


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_marked_string_has_a_chinese_translation():
    catalog = read_po(PO.open("rb"))
    have = {m.id: m.string for m in catalog if m.id}
    extracted = _extracted()
    assert len(extracted) > 150, "extraction found too little: is babel.cfg right?"
    missing = sorted(m for m in extracted if not have.get(m))
    assert not missing, f"not translated in {PO.name} (run make i18n, then translate): {missing}"
    for msgid in extracted:
        assert _fields(have[msgid]) == _fields(msgid), f"fields differ: {msgid!r}"


def test_the_shipped_mo_is_the_compiled_po():
    catalog = read_po(PO.open("rb"))
    mo = gettext.GNUTranslations((PO.with_suffix(".mo")).open("rb"))
    for m in catalog:
        if m.id and m.string:
            assert mo.gettext(m.id) == m.string, f"stale .mo (make i18n): {m.id!r}"


def test_the_catalog_is_found_where_the_package_is_installed():
    assert i18n.has_catalog("zh-CN")
    assert i18n.translator("zh-CN")("Panic") == "紧急报警"
    assert i18n.translator("en")("Panic") == "Panic"


def test_language_names_and_the_environment():
    assert i18n.normalize("zh") == i18n.normalize("zh_CN.UTF-8") == "zh-CN"
    assert i18n.normalize("en_GB.UTF-8") == i18n.normalize("") == "en"
    assert i18n.from_env({"LANG": "zh_CN.UTF-8"}) == "zh-CN"
    assert i18n.from_env({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "C"}) == "en"
    assert i18n.from_env({"LANGUAGE": "zh_CN:en", "LANG": "C"}) == "zh-CN"
    assert i18n.from_env({}) == "en"
