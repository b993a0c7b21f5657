"""`guardroom check` follows LANG/LC_MESSAGES like a Unix tool: Chinese header and common
reasons under zh_CN, the English wording unchanged otherwise; key paths never translated."""
from __future__ import annotations

import os
import subprocess
import sys

BAD = '[site]\nname = "x"\ncontroler = "a"\nlanguage = "fr"\n'


def _check(tmp_path, **env):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    return subprocess.run([sys.executable, "-m", "guardroom", "check", "-c", str(path)],
                          capture_output=True, text=True, env={**clean, **env}, timeout=60)


def test_check_in_chinese(tmp_path):
    r = _check(tmp_path, LANG="zh_CN.UTF-8")
    assert r.returncode == 2
    assert "配置有" in r.stderr
    assert "site.controler: 未知的键（是否应为 'controller'？）" in r.stderr
    assert "site.language: 'fr' 不是以下取值之一" in r.stderr


def test_check_in_english_is_unchanged(tmp_path):
    for env in ({"LANG": "C.UTF-8"}, {"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "C"}):
        r = _check(tmp_path, **env)
        assert r.returncode == 2
        assert "config problems:" in r.stderr
        assert "site.controler: unknown key (did you mean 'controller'?)" in r.stderr
