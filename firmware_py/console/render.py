"""Text for an 80-column terminal: tables that shrink to fit, key/value blocks, wrapping, and
optional ANSI colour (off unless ``[console] colour = true``). Output lines never carry CR;
the console turns every line end into CRLF on the wire. Widths are display columns (cols.py):
a Chinese character takes two.
"""
from __future__ import annotations

import textwrap
from typing import Iterable, Sequence

from . import cols
from .cols import width as dw
from ..i18n import N_

WIDTH = 79   # not 80: some terminals wrap when the 80th column is written
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "bold": "1",
            "dim": "2"}


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, a ``~`` marking the cut."""
    return cols.clip(str(text), width)


def table(headers: Sequence[str], rows: Iterable[Sequence], width: int = WIDTH,
          gap: int = 2) -> list[str]:
    """Left-aligned columns fitting ``width``. When the natural widths do not fit, the gap
    narrows to one space, then the widest columns give way, and a cell longer than its column
    wraps onto the next line(s) under itself: nothing is cut while there is room."""
    rows = [[_cell(c) for c in r] for r in rows]
    n = len(headers)
    rows = [r + [""] * (n - len(r)) for r in rows]
    widths = [dw(h) for h in headers]
    for r in rows:
        for i in range(n):
            widths[i] = max(widths[i], dw(r[i]))
    if sum(widths) + gap * (n - 1) > width:
        gap = 1
    budget = width - gap * (n - 1)
    # Long free-text columns give way first (down to 10), short structured ones (a time, a
    # state) only after them; a header may wrap too.
    # The first column that is not a number names the row: it gives way last.
    name = next((i for i in range(n) if not all(r[i].isdigit() for r in rows)), 0)
    phase1 = [w if w <= 14 or i == name else 10 for i, w in enumerate(widths)]
    phase2 = [min(w, 16 if i == name else max(4, min(dw(h), 8)))
              for i, (w, h) in enumerate(zip(widths, headers))]
    for floor in (phase1, phase2):
        while sum(widths) > budget:
            i = max(range(n), key=lambda k: (widths[k] > floor[k], widths[k]))
            if widths[i] <= floor[i]:
                break
            widths[i] -= 1
    sep = " " * gap

    def lines(cells) -> list[str]:
        parts = [_wrap_cell(c, w) for c, w in zip(cells, widths)]
        depth = max(len(p) for p in parts)
        out = []
        for k in range(depth):
            out.append(sep.join(cols.ljust(p[k] if k < len(p) else "", w)
                                for p, w in zip(parts, widths)).rstrip())
        return out

    out = lines(headers) + [sep.join("-" * w for w in widths)]
    for r in rows:
        out += lines(r)
    return out


def _wrap_cell(text: str, width: int) -> list[str]:
    if dw(text) <= width:
        return [text]
    if not text.isascii():
        return cols.wrap(text, width) or [""]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def kv(pairs: Iterable[tuple[str, object]], width: int = WIDTH) -> list[str]:
    """``key  value`` lines, values wrapped under themselves."""
    pairs = [(str(k), _cell(v)) for k, v in pairs]
    kw = min(24, max((dw(k) for k, _ in pairs), default=0))
    out = []
    for k, v in pairs:
        room = max(20, width - kw - 3)
        chunks = (textwrap.wrap(v, room) if v.isascii() else cols.wrap(v, room)) or [""]
        out.append(f"{cols.ljust(clip(k, kw), kw)}  {chunks[0]}".rstrip())
        out += [" " * (kw + 2) + c for c in chunks[1:]]
    return out


def wrap(text: str, width: int = WIDTH, indent: str = "") -> list[str]:
    """Paragraphs (split at newlines) wrapped to ``width``."""
    out = []
    for para in str(text).split("\n"):
        if para.isascii():
            out += textwrap.wrap(para, width, initial_indent=indent,
                                 subsequent_indent=indent) or [""]
        else:
            out += cols.wrap(para, width, indent) or [""]
    return out


USAGE = N_("usage:")


def usage(text: str, t=None, width: int = WIDTH) -> list[str]:
    """``usage: a | b | c`` wrapped at the ``|`` choices, continuation lines indented; the
    word "usage" through the translator ``t`` (the syntax itself is what one types: English)."""
    head = (t or (lambda m: m))(USAGE) + " "
    out, line = [], head
    for i, part in enumerate(text.split(" | ")):
        piece = part if i == 0 else " | " + part
        if dw(line) + dw(piece) > width - 1 and line != head:
            out.append(line.rstrip())
            line = " " * (dw(head) - 1) + "| " + part
        else:
            line += piece
    out.append(line)
    return out


def fit(line: str, width: int = WIDTH) -> list[str]:
    """A line too long for the terminal, wrapped with its continuation indented."""
    if dw(line) <= width:
        return [line]
    lead = len(line) - len(line.lstrip(" "))
    if not line.isascii():
        return cols.wrap(line, width, " " * lead, " " * (lead + 2)) or [line]
    return textwrap.wrap(line, width, initial_indent="", subsequent_indent=" " * (lead + 2),
                         break_on_hyphens=False) or [line[:width]]


def paint(text: str, colour: str, enabled: bool) -> str:
    if not enabled or colour not in _COLOURS:
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple, set)):
        return ",".join(str(x) for x in v) or "-"
    return str(v).replace("\r", " ").replace("\n", " ")
