"""docs/zh/ stays in step with the English pages: each Chinese page names the English page it
translates and that page's SHA-256 on its first line; an English page changed since (and its
Chinese page not updated) fails here, naming both files and the new hash to record once the
translation is brought up to date."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"<!-- translates: (\S+) sha256: ([0-9a-f]{64}) -->")
PAIRS = {"docs/zh/installer/console.md": "docs/installer/console.md",
         "docs/zh/operator/mqtt.md": "docs/operator/mqtt.md"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_chinese_page_records_its_english_page():
    pages = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs/zh").rglob("*.md"))
    assert pages == sorted(PAIRS), "a docs/zh page without an entry here (or one missing)"
    for zh, en in PAIRS.items():
        first = (ROOT / zh).read_text(encoding="utf-8").splitlines()[0]
        m = HEADER.fullmatch(first)
        assert m, f"{zh}: first line must be <!-- translates: {en} sha256: <hash> -->"
        assert m[1] == en


def test_no_english_page_changed_without_its_translation():
    stale = []
    for zh, en in PAIRS.items():
        recorded = HEADER.fullmatch(
            (ROOT / zh).read_text(encoding="utf-8").splitlines()[0])[2]
        now = _sha(ROOT / en)
        if recorded != now:
            stale.append(f"{en} changed since {zh} was translated: update the Chinese page, "
                         f"then record sha256: {now}")
    assert not stale, "\n".join(stale)


def test_english_pages_link_to_their_translation():
    for zh, en in PAIRS.items():
        text = (ROOT / en).read_text(encoding="utf-8")
        assert "/zh/" in text, f"{en} does not link to its Chinese page {zh}"
