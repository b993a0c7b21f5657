"""`guardroom demo --lang zh`: the narration comes from the catalog and the emulated site
speaks zh-CN (the full demo run is `make demo ARGS="--lang zh"`)."""
from __future__ import annotations

import io

from guardroom.emulators.demo import Narrator, _chinese


def test_narration_in_chinese():
    out = io.StringIO()
    n = Narrator(out=out, lang="zh")
    n.title("A door forced open")
    n.say("Door forced: alarm, siren {on}.", on="ON")
    text = out.getvalue()
    assert "门被强行打开" in text and "门被强行打开：报警，警号 开。" in text


def test_english_narration_unchanged():
    out = io.StringIO()
    Narrator(out=out).say("Door forced: alarm, siren {on}.", on="off")
    assert "Door forced: alarm, siren off." in out.getvalue()


def test_the_chinese_demo_site_is_zh_cn():
    doc = {"site": {}}
    _chinese(lambda d: d.setdefault("seen", True))(doc)
    assert doc == {"site": {"language": "zh-CN"}, "seen": True}
