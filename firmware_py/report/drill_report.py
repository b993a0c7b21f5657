"""The drill report: for each drill in the period, its timeline, the response figures of every
alarm (stimulus -> alarm -> platform PUBACK -> ack -> reset), the panic buttons exercised and
not, and the trouble seen meanwhile; with a timeline chart and a response-time chart."""
from __future__ import annotations

from typing import Optional

from . import charts
from .common import fmt_dur, fmt_time, header
from .doc import Document, Heading, KeyValues, Para, Signature, Table
from .drills import Drill, find_drills
from .source import SiteData
from .strings import tr


def build(data: SiteData, lang: str = "zh", since: Optional[float] = None,
          until: Optional[float] = None) -> tuple[Document, list[Drill]]:
    t = tr(lang)
    drills = find_drills(data, since, until)
    first = since if since is not None else (data.events[0]["t"] if data.events else None)
    period = f"{fmt_time(first, ms=False) if first else '...'} - " \
             f"{fmt_time(until, ms=False) if until else fmt_time(data.now, ms=False)}"
    doc = Document(lang, t("drill_title"), header(data, t, period))
    if not drills:
        doc.add(Para(t("no_drills"), "warn"))
    else:
        doc.add(Para(t("drills_found", n=len(drills))))
    if drills and not data.sent:
        doc.add(Para(t("delivery_missing"), "warn"))
    for i, d in enumerate(drills, 1):
        _drill(doc, d, i, t, lang)
    doc.add(Signature([t("signature"), t("date")]))
    return doc, drills


def _drill(doc: Document, d: Drill, n: int, t, lang: str) -> None:
    doc.add(Heading(t("drill_n", n=n, area=d.area), 2))
    doc.add(KeyValues([
        (t("started"), f"{fmt_time(d.t_start)}  {t('by')}: {d.started_by or '-'}"),
        (t("ended"), f"{fmt_time(d.t_stop)}  {t('by')}: {d.stopped_by or '-'}"
         if d.t_stop is not None else t("not_ended")),
        (t("duration"), fmt_dur(d.duration_s, t)),
    ]))
    if d.steps:
        doc.add(charts.timeline(d, t, lang))
    doc.add(Heading(t("timeline"), 3))
    doc.add(Table([t("time"), t("what"), t("detail")],
                  [[fmt_time(s.t), t(s.what), s.detail] for s in d.steps],
                  highlight={i for i, s in enumerate(d.steps) if s.lane == "trouble"},
                  widths=[27, 38, 35]))
    doc.add(Heading(t("responses"), 3))
    if not d.responses:
        doc.add(Para(t("no_alarms"), "warn"))
    else:
        rows, slow = [], set()
        for i, r in enumerate(d.responses):
            rows.append([f"{r.zone} #{r.incident}", r.zone_type, fmt_time(r.t_stimulus),
                         _ms(r.ms("alarm"), t), _ms(r.ms("delivered"), t), _ms(r.ms("ack"), t),
                         _ms(r.ms("reset"), t), r.ack_by or "-"])
            dl = r.ms("delivered")
            if dl is None or dl > 10_000:
                slow.add(i)
        doc.add(Table([t("zone"), t("type"), t("time"), t("to_alarm"), t("to_delivered"),
                       t("to_ack"), t("to_reset"), t("ack_by")], rows, highlight=slow,
                      widths=[16, 8, 21, 9, 10, 10, 9, 17]))
        doc.add(Para(t("responses_note"), "note"))
        doc.add(charts.responses(d.responses, t, lang))
    doc.add(Heading(t("coverage"), 3))
    doc.add(KeyValues([
        (t("panic_tested"), ", ".join(d.panic_exercised) or t("none")),
        (t("panic_untested"), ", ".join(d.panic_not_exercised) or t("none")),
        (t("zones_tested"), ", ".join(d.zones_exercised) or t("none")),
    ]))
    if d.panic_not_exercised:
        doc.add(Para(f"{t('panic_untested')}: {', '.join(d.panic_not_exercised)}", "warn"))
    doc.add(Heading(t("troubles"), 3))
    if not d.troubles and not d.outages:
        doc.add(Para(t("no_troubles"), "ok"))
    for e in d.troubles:
        doc.add(Para(f"{fmt_time(e['t'])}  {e.get('cid', '')}  {e.get('text', '')}", "warn"))
    for a, b in d.outages:
        doc.add(Para(t("outage", t0=fmt_time(a), t1=fmt_time(b), s=fmt_dur(b - a, t)), "warn"))


def _ms(v: Optional[float], t) -> str:
    if v is None:
        return t("never")
    return f"{v:.0f} ms" if v < 1000 else f"{v / 1000:.2f} s"
