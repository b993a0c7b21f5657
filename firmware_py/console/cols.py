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


def wrap(text: str, cols: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    """Words wrapped to ``cols`` columns; a word wider than a line (Chinese has no spaces)
    breaks between characters. Runs of spaces collapse, as textwrap does."""
    subsequent = indent if subsequent is None else subsequent
    out: list[str] = []
    line, lead = "", indent
    for word in text.split():
        while word:
            room = cols - width(lead) - width(line) - (1 if line else 0)
            if width(word) <= room:
                line = f"{line} {word}" if line else word
                word = ""
            elif line and width(word) <= cols - width(subsequent):
                out.append(lead + line)
                line, lead = "", subsequent
            else:
                head, word = cut(word, max(1, room if not line else room))
                if line and width(head) > room:
                    out.append(lead + line)
                    line, lead = "", subsequent
                    word = head + word
                    continue
                line = f"{line} {head}" if line else head
                out.append(lead + line)
                line, lead = "", subsequent
    if line:
        out.append(lead + line)
    return out
