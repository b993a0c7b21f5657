"""Event texts in the site's language: built from the machine fields, the English kept in
``text_en``, the machine fields never translated; English sites unchanged."""
from __future__ import annotations

import pytest

from guardroom import events
from guardroom.eventtext import localize, render


@pytest.fixture
def zh_site():
    events.set_language("zh-CN")
    yield
    events.set_language("en")


def test_chinese_site_event_keeps_fields_and_english(zh_site):
    ev = events.make("alarm", 120, 1, "Panic key pressed in 'school'", area="school",
                     zone="office-panic")
    assert ev["text"] == "报警：紧急报警，防区“office-panic”"
    assert ev["text_en"] == "Panic key pressed in 'school'"
    assert (ev["kind"], ev["cid"], ev["zone"], ev["area"]) == ("alarm", "1120",
                                                               "office-panic", "school")


def test_english_site_has_no_text_en():
    ev = events.make("alarm", 120, 1, "Panic key pressed", area="school")
    assert ev["text"] == "Panic key pressed" and "text_en" not in ev


@pytest.mark.parametrize("ev,zh", [
    ({"kind": "area", "cid": "3401", "area": "school", "user": "alice"},
     "布防，分区“school”，操作人：alice"),
    ({"kind": "area", "cid": "1401", "area": "school", "user": "alice"},
     "撤防，分区“school”，操作人：alice"),
    ({"kind": "restore", "cid": "3131", "zone": "beam_n", "area": "yard"},
     "恢复：周界报警，防区“beam_n”"),
    ({"kind": "trouble", "cid": "1144", "zone": "door", "user": "system"},
     "故障：探测器防拆，防区“door”"),
    ({"kind": "alarm", "cid": "1121", "area": "bank"}, "报警：胁迫报警，分区“bank”"),
    ({"kind": "bypass", "cid": "1570", "zone": "pir1", "user": "ian"},
     "防区已旁路，防区“pir1”，操作人：ian"),
    ({"kind": "walktest", "cid": "1607", "zone": "pir1"}, "步测，防区“pir1”"),
    ({"kind": "something_new", "cid": "1999"}, "事件：1999"),
    ({"kind": "system", "cid": "0000", "text": "guardroom 0.1.0 started"},
     "系统（英文原文：guardroom 0.1.0 started）"),
])
def test_templates(ev, zh):
    assert render(ev, "zh-CN") == zh


def test_localize_english_is_identity():
    ev = {"kind": "alarm", "cid": "1120", "text": "x"}
    assert localize(dict(ev), "en") == ev
