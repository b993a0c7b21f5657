"""What both reports share: time formatting (the controller's local time), the header rows,
and writing the HTML page and the PDF side by side."""
from __future__ import annotations

import os
from datetime import datetime
from typing import Optional

from .. import __version__
from .doc import Document
from .source import SiteData


def fmt_time(t: Optional[float], ms: bool = True) -> str:
    if t is None:
        return "-"
    d = datetime.fromtimestamp(t).astimezone()
    return d.strftime("%Y-%m-%d %H:%M:%S") + (f".{d.microsecond // 1000:03d}" if ms else "")


def fmt_dur(s: Optional[float], t) -> str:
    if s is None:
        return t("never")
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def zone_label() -> str:
    off = datetime.now().astimezone().strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}"


def header(data: SiteData, t, period: str) -> list[tuple[str, str]]:
    site = data.config["site"]
    name = site["name"] + (f" ({site['description']})" if site.get("description") else "")
    return [(t("site"), name), (t("controller"), f"{site['controller']}  guardroom {__version__}"),
            (t("period"), period),
            (t("generated"), f"{fmt_time(data.now, ms=False)}  ({t('time_zone')} {zone_label()})")]


def write(doc: Document, out_dir: str, base: str) -> tuple[str, str]:
    """Write ``base``.html and ``base``.pdf into ``out_dir``; returns both paths."""
    from . import html, pdf

    os.makedirs(out_dir, exist_ok=True)
    hp, pp = os.path.join(out_dir, base + ".html"), os.path.join(out_dir, base + ".pdf")
    with open(hp, "w", encoding="utf-8") as fh:
        fh.write(html.render(doc))
    with open(pp, "wb") as fh:
        fh.write(pdf.render(doc))
    return hp, pp
