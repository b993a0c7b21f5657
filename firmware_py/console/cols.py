"""Display columns of text on a terminal: East Asian wide characters (汉字) take two columns,
combining marks none (per character, with the wcwidth library). Used by the tables, wrapping
and clipping so the 80-column screens stay aligned with Chinese text."""
from __future__ import annotations

try:
    from wcwidth import wcwidth
except ImportError:  # an environment set up before wcwidth became a dependency (pip install .)
    import unicodedata

    def wcwidth(ch: str) -> int:
        if unicodedata.combining(ch):
            return 0
        if ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0:
            return -1
        return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def char_width(ch: str) -> int:
    w = wcwidth(ch)
    return 0 if w < 0 else w          # control characters: nothing on screen


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


def ljust(text: str, cols: int) -> str:
    """``text`` padded with spaces to ``cols`` display columns."""
    return text + " " * max(0, cols - width(text))


def cut(text: str, cols: int) -> tuple[str, str]:
    """``text`` split where the head fills at most ``cols`` columns (at least one character
    goes to the head, so a loop over ``cut`` always ends)."""
    used = 0
    for i, c in enumerate(text):
        w = char_width(c)
        if used + w > cols and i > 0:
            return text[:i], text[i:]
        used += w
    return text, ""


def clip(text: str, cols: int) -> str:
    """``text`` cut to ``cols`` columns, a ``~`` marking the cut."""
    if width(text) <= cols:
        return text
    if cols <= 0:
        return ""
    head, _ = cut(text, cols - 1)
    while width(head) > cols - 1 and head:
        head = head[:-1]
    return head + "~"


def _units(word: str) -> list[str]:
    """``word`` (no spaces) as the pieces a line may break between: each wide (Chinese)
    character alone, each run of narrow ones (an English word, a number) whole."""
    out: list[str] = []
    for ch in word:
        if char_width(ch) == 2 or not out or char_width(out[-1][-1]) == 2:
            out.append(ch)
        else:
            out[-1] += ch
    return out


def wrap(text: str, cols: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    """Words wrapped to ``cols`` columns. Chinese has no spaces: a line may also break
    between two Chinese characters, or between a Chinese character and an English word, never
    inside the English word (unless it alone is wider than a line). Runs of spaces collapse,
    as textwrap does."""
    subsequent = indent if subsequent is None else subsequent
    out: list[str] = []
    line, lead = "", indent
    for word in text.split():
        for i, unit in enumerate(_units(word)):
            gap = " " if (i == 0 and line) else ""
            while unit:
                room = cols - width(lead) - width(line) - len(gap)
                if width(unit) <= room:
                    line, unit = line + gap + unit, ""
                elif line:
                    out.append(lead + line)
                    line, lead, gap = "", subsequent, ""
                else:                           # wider than a whole line: cut it
                    head, unit = cut(unit, max(1, room))
                    out.append(lead + head)
                    lead = subsequent
    if line:
        out.append(lead + line)
    return out
