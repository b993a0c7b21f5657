"""Charts drawn with matplotlib (Agg, no display): each becomes an inline SVG for the HTML page
(text drawn as paths, so no font is needed to view it) and a PNG for the PDF."""
from __future__ import annotations

import io
import math
import re

from .doc import Chart
from .fonts import font_for

LANE_ORDER = ("drill", "zone", "alarm", "platform", "ack", "siren", "reset", "trouble")
LANE_COLOR = {"drill": "#555555", "zone": "#1f77b4", "alarm": "#d62728", "platform": "#2ca02c",
              "ack": "#9467bd", "siren": "#ff7f0e", "reset": "#17becf", "trouble": "#8c564b"}
MARKER = {"drill": "s", "zone": "v", "alarm": "D", "platform": "o", "ack": "^", "siren": "|",
          "reset": "P", "trouble": "x"}


def _setup(lang: str):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    regular, bold, family = font_for(lang)
    for f in {regular, bold}:
        font_manager.fontManager.addfont(f)
    plt.rcParams.update({"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"],
                         "svg.fonttype": "path", "axes.unicode_minus": False,
                         "font.size": 9, "axes.titlesize": 10, "svg.hashsalt": "guardroom"})
    return plt


def _finish(plt, fig, title: str, w: float, h: float) -> Chart:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg"):]                      # drop the XML prologue and doctype
    svg = re.sub(r'width="[0-9.]+pt" height="[0-9.]+pt"',
                 'width="100%" preserveAspectRatio="xMinYMin meet"', svg, count=1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=160)
    plt.close(fig)
    return Chart(title, svg, buf.getvalue(), w, h)


def timeline(drill, t, lang: str) -> Chart:
    """Each step of a drill on its lane; the siren's sounding as a bar."""
    plt = _setup(lang)
    t0 = drill.t_start if drill.t_start is not None else min(s.t for s in drill.steps)
    lanes = [ln for ln in LANE_ORDER if any(s.lane == ln for s in drill.steps)]
    y = {ln: len(lanes) - 1 - i for i, ln in enumerate(lanes)}
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(lanes) + 1.1))
    on_at = None
    for s in drill.steps:
        x = s.t - t0
        if s.lane == "siren":
            if s.what == "step_siren_on":
                on_at = x
            elif on_at is not None:
                ax.broken_barh([(on_at, max(x - on_at, 0.05))], (y["siren"] - 0.25, 0.5),
                               color=LANE_COLOR["siren"], alpha=0.6)
                on_at = None
        ax.plot([x], [y[s.lane]], marker=MARKER[s.lane], color=LANE_COLOR[s.lane],
                markersize=8, linestyle="none")
    if on_at is not None:
        end = (drill.t_stop or drill.steps[-1].t) - t0
        ax.broken_barh([(on_at, max(end - on_at, 0.05))], (y["siren"] - 0.25, 0.5),
                       color=LANE_COLOR["siren"], alpha=0.6)
    ax.set_yticks([y[ln] for ln in lanes], [t(f"lane_{ln}") for ln in lanes])
    ax.set_xlabel(t("seconds_from_start"))
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(t("chart_timeline"))
    return _finish(plt, fig, t("chart_timeline"), 7.0, 0.45 * len(lanes) + 1.1)


def responses(resps, t, lang: str) -> Chart:
    """Per alarm: stimulus -> alarm, -> platform, -> ack, -> reset, in seconds (log scale)."""
    plt = _setup(lang)
    metrics = [("alarm", "to_alarm", "#d62728"), ("delivered", "to_delivered", "#2ca02c"),
               ("ack", "to_ack", "#9467bd"), ("reset", "to_reset", "#17becf")]
    n = len(resps)
    h = max(2.2, 0.75 * n + 1.5)
    fig, ax = plt.subplots(figsize=(7.0, h))
    bar_h = 0.8 / len(metrics)
    lo = 1e-3
    for i, r in enumerate(resps):
        for j, (key, label, color) in enumerate(metrics):
            ms = r.ms(key)
            if ms is None:
                continue
            v = max(ms / 1000.0, lo)
            ypos = n - 1 - i + 0.4 - (j + 0.5) * bar_h
            ax.barh(ypos, v - lo, height=bar_h * 0.9, color=color, left=lo,
                    label=t(label) if i == 0 else None)
            ax.text(v * 1.08, ypos, _fmt_s(ms / 1000.0), va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks(range(n), [f"{r.zone} #{r.incident}" for r in reversed(resps)])
    top = max([r.ms(k) or 0 for r in resps for k, _, _ in metrics] + [10000]) / 1000.0
    ax.set_xlim(lo, 10 ** math.ceil(math.log10(top * 3)))
    ax.axvline(10.0, color="#999999", linestyle="--", linewidth=1)
    ax.text(10.0, -0.45, " 10 s", color="#777777", fontsize=7, va="bottom")
    ax.set_xlabel("s")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=7, ncol=4,
              frameon=False)
    ax.set_title(t("chart_responses"))
    return _finish(plt, fig, t("chart_responses"), 7.0, h)


def uplink_days(days, t, lang: str) -> Chart:
    """Share of each day the uplink was up (days with no record left blank)."""
    plt = _setup(lang)
    fig, ax = plt.subplots(figsize=(7.0, 2.4))
    xs = list(range(len(days)))
    vals = [p if p is not None else 0 for _, p in days]
    colors = ["#2ca02c" if p is not None and p >= 99.9 else "#d62728" for _, p in days]
    ax.bar(xs, vals, color=colors, width=0.8)
    step = max(1, len(days) // 12)
    ax.set_xticks(xs[::step], [d[5:] for d, _ in days][::step])
    ax.set_xlim(-0.6, max(len(days), 14) - 0.4)     # a few days do not make fat bars
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(t("chart_uplink"))
    return _finish(plt, fig, t("chart_uplink"), 7.0, 2.4)


def coverage(rows, limit_days: float, t, lang: str) -> Chart:
    """Days since each zone's last test; never tested drawn to the edge, over the limit red."""
    plt = _setup(lang)
    n = len(rows)
    h = max(2.0, 0.22 * n + 1.0)
    fig, ax = plt.subplots(figsize=(7.0, h))
    edge = max([d for _, d in rows if d is not None] + [limit_days * 1.2])
    for i, (zone, d) in enumerate(rows):
        yv = n - 1 - i
        if d is None:
            ax.barh(yv, edge, color="#fde2e1", edgecolor="#d62728", linewidth=0.6)
            ax.text(edge * 0.02, yv, t("untested"), va="center", fontsize=7, color="#a40000")
        else:
            ax.barh(yv, max(d, edge * 0.005), color="#d62728" if d > limit_days else "#2ca02c")
            ax.text(max(d, 0) + edge * 0.01, yv, f"{d:.0f}", va="center", fontsize=7)
    ax.axvline(limit_days, color="#999999", linestyle="--", linewidth=1)
    ax.set_yticks(range(n), [z for z, _ in reversed(rows)])
    ax.set_xlim(0, edge * 1.08)
    ax.set_xlabel(t("days"))
    ax.set_title(t("chart_coverage"))
    return _finish(plt, fig, t("chart_coverage"), 7.0, h)


def _fmt_s(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 100:
        return f"{s:.1f} s"
    return f"{s:.0f} s"
