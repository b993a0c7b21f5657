"""The console in Chinese over the real pty: ``lang zh`` per session, tables within 80
display columns (a Chinese character takes two), the English fallback when the terminal is not
UTF-8, and a site whose language is zh-CN starting in Chinese."""
from __future__ import annotations

import unicodedata


def wcswidth(text: str) -> int:
    """Display columns measured independently of the code under test (Unicode East Asian
    Width: wide and fullwidth characters take two columns)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)

from .sitecfg import INSTALLER_CODE, USER_CODE


def _widths(out: str) -> list[int]:
    return [wcswidth(line) for line in out.split("\n")]


def test_lang_zh_session_tables_stay_within_80_columns(rig):
    t = rig.term
    out = t.cmd("lang zh", "anyone")
    assert "语言：zh-CN" in out
    assert "已登录：alice" in rig.login(USER_CODE, "user")
    out = t.cmd("zones", "user")
    assert "防区" in out and "类型" in out and "正常" in out
    assert max(_widths(out)) <= 80, out
    out = t.cmd("status", "user")
    assert "分区" in out and "报警中心链路" in out
    assert max(_widths(out)) <= 80, out
    out = t.cmd("help", "user")
    assert "列出命令" in out
    assert max(_widths(out)) <= 80, out
    # the columns line up: the header's second column starts where each row's does
    lines = t.cmd("zones", "user").split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() and set(line) <= {"-", " "})
    head, rule, row = lines[at - 1], lines[at], lines[at + 1]
    starts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")]
    for line in (head, row):
        cells = line.split()
        assert [wcswidth(line[:line.index(c)]) for c in cells[:3]] == starts[:3], (head, row)
    out = t.cmd("arm", "user")
    assert "分区：退出延时，分区“main”，操作人：alice" in out, out
    t.cmd("disarm", "user")
    out = t.cmd("lang en", "user")
    assert "language: en" in out
    assert "ZONE" in t.cmd("zones", "user")


def test_an_ascii_terminal_stays_in_english(rig_factory):
    rig = rig_factory(console_extra="utf8 = false")
    out = rig.term.cmd("lang zh", "anyone")
    assert "staying in" in out and "utf8 = false" in out
    assert out.isascii()
    assert "AREA" in rig.term.cmd("status", "anyone")


def test_a_chinese_site_starts_the_console_in_chinese(rig_factory):
    rig = rig_factory(language="zh-CN")
    out = rig.term.cmd("", "anyone")
    assert "调试终端" in out
    rig.login(INSTALLER_CODE, "installer")
    assert "防区" in rig.term.cmd("zones", "installer")
