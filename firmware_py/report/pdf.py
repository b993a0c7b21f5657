"""A report as a PDF (fpdf2): the same blocks as the HTML page, A4, the font of the report's
language embedded (a CJK font for Chinese), charts as PNG, page numbers in the footer."""
from __future__ import annotations

import io

from .doc import Chart, Document, Heading, KeyValues, Para, Signature, Table
from .fonts import font_for

HL = (253, 226, 225)
HEAD = (232, 237, 243)


def render(doc: Document) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold, _ = font_for(doc.lang)
    title = doc.title

    class _Pdf(FPDF):
        def footer(self):
            self.set_y(-12)
            self.set_font("R", size=8)
            self.set_text_color(110)
            self.cell(0, 8, f"{title}  -  {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0)

    pdf = _Pdf(format="A4", unit="mm")
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("R", "", regular)
    pdf.add_font("R", "B", bold)
    pdf.set_title(title)
    pdf.set_creator("guardroom")
    pdf.set_lang("zh-CN" if doc.lang == "zh" else "en")
    pdf.add_page()
    w = pdf.epw
    pdf.set_font("R", "B", 17)
    pdf.multi_cell(w, 9, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(34, 51, 68)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + w, pdf.get_y() + 1)
    pdf.ln(4)
    pdf.set_line_width(0.2)
    pdf.set_draw_color(170)
    _kv(pdf, doc.meta, FontFace)
    for b in doc.blocks:
        if isinstance(b, Heading):
            size = {1: 16, 2: 13.5, 3: 11.5}.get(b.level, 11)
            if pdf.will_page_break(30):
                pdf.add_page()
            pdf.ln(3 if b.level > 2 else 5)
            pdf.set_font("R", "B", size)
            pdf.multi_cell(w, size * 0.55, b.text, align="L", new_x="LMARGIN", new_y="NEXT")
            if b.level <= 2:
                pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + w, pdf.get_y() + 0.5)
            pdf.ln(2)
        elif isinstance(b, Para):
            color = {"warn": (164, 0, 0), "ok": (31, 111, 31), "note": (85, 85, 85)}
            pdf.set_text_color(*color.get(b.style, (0, 0, 0)))
            pdf.set_font("R", "B" if b.style == "warn" else "", 8.5 if b.style == "note" else 10)
            pdf.multi_cell(w, 5, b.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0)
            pdf.ln(1.5)
        elif isinstance(b, KeyValues):
            _kv(pdf, b.rows, FontFace)
        elif isinstance(b, Table):
            _table(pdf, b, FontFace)
        elif isinstance(b, Chart):
            h = w * b.height_in / b.width_in
            if pdf.will_page_break(h + 2):
                pdf.add_page()
            pdf.image(io.BytesIO(b.png), x=pdf.l_margin, w=w, h=h)
            pdf.ln(3)
        elif isinstance(b, Signature):
            if pdf.will_page_break(30):
                pdf.add_page()
            pdf.ln(16)
            col = w / len(b.labels)
            y = pdf.get_y()
            pdf.set_font("R", "", 9)
            for i, s in enumerate(b.labels):
                x = pdf.l_margin + i * col
                pdf.line(x, y, x + col - 10, y)
                pdf.set_xy(x, y + 1)
                pdf.cell(col - 10, 5, s)
            pdf.ln(8)
    return bytes(pdf.output())


def _kv(pdf, rows, FontFace) -> None:
    pdf.set_font("R", "", 9.5)
    with pdf.table(col_widths=(30, 70), text_align="LEFT", first_row_as_headings=False,
                   line_height=5.2, padding=1.2) as table:
        for k, v in rows:
            r = table.row()
            r.cell(k, style=FontFace(emphasis="BOLD", fill_color=HEAD))
            r.cell(v)
    pdf.ln(2)


def _table(pdf, t: Table, FontFace) -> None:
    pdf.set_font("R", "", 8.5)
    widths = tuple(t.widths) if t.widths else None
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6, padding=1.0,
                   headings_style=FontFace(emphasis="BOLD", fill_color=HEAD),
                   repeat_headings=1) as table:
        h = table.row()
        for c in t.header:
            h.cell(c)
        for i, row in enumerate(t.rows):
            r = table.row()
            style = FontFace(fill_color=HL) if i in t.highlight else None
            for c in row:
                r.cell(str(c), style=style)
    pdf.ln(2)
