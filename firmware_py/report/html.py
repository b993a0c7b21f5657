"""A report as one self-contained HTML page: inline CSS, charts as inline SVG, no scripts, no
outside files. Prints on A4."""
from __future__ import annotations

from html import escape

from .doc import Chart, Document, Heading, KeyValues, Para, Signature, Table

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",
 "DejaVu Sans",Arial,sans-serif;font-size:14px;color:#222;max-width:960px;margin:24px auto;
 padding:0 16px;line-height:1.45}
h1{font-size:24px;border-bottom:3px solid #234;padding-bottom:6px}
h2{font-size:19px;margin-top:28px;border-bottom:1px solid #bbb}
h3{font-size:16px;margin-top:20px}
table{border-collapse:collapse;width:100%;margin:8px 0 14px}
th,td{border:1px solid #bbb;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#e8edf3}
tr.hl td{background:#fde2e1}
table.kv th{width:28%}
p.note{color:#555;font-size:12.5px}
p.warn{color:#a40000;font-weight:bold}
p.ok{color:#1f6f1f}
figure{margin:10px 0 18px}
figcaption{font-size:12.5px;color:#555}
.sig{display:flex;gap:48px;margin-top:40px}
.sig div{flex:1;border-top:1px solid #444;padding-top:4px;font-size:12.5px}
@media print{body{margin:0;max-width:none}figure,table{page-break-inside:avoid}}
"""


def render(doc: Document) -> str:
    out = [f'<!DOCTYPE html>\n<html lang="{"zh-CN" if doc.lang == "zh" else "en"}">',
           '<head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{escape(doc.title)}</h1>", _kv(doc.meta)]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = f' class="{b.style}"' if b.style else ""
            out.append(f"<p{cls}>{escape(b.text)}</p>")
        elif isinstance(b, KeyValues):
            out.append(_kv(b.rows))
        elif isinstance(b, Table):
            out.append(_table(b))
        elif isinstance(b, Chart):
            out.append(f'<figure role="img" aria-label="{escape(b.title)}">{b.svg}</figure>')
        elif isinstance(b, Signature):
            out.append('<div class="sig">' + "".join(f"<div>{escape(s)}</div>"
                                                     for s in b.labels) + "</div>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _kv(rows) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    rows = []
    for i, r in enumerate(t.rows):
        cls = ' class="hl"' if i in t.highlight else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
