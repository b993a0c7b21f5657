"""The report as plain blocks, rendered twice (HTML and PDF) so both say the same thing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str
    style: str = ""          # "", "note", "warn", "ok"


@dataclass
class KeyValues:
    rows: list[tuple[str, str]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    highlight: set = field(default_factory=set)   # row indexes shown as a warning
    widths: Optional[list[float]] = None          # relative column widths


@dataclass
class Chart:
    title: str
    svg: str                 # inline SVG (text as paths: no font needed to view it)
    png: bytes               # the same figure for the PDF
    width_in: float = 7.0
    height_in: float = 3.0


@dataclass
class Signature:
    labels: list[str]


@dataclass
class Document:
    lang: str
    title: str
    meta: list[tuple[str, str]]
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> "Document":
        self.blocks.extend(blocks)
        return self
