"""The drill report from a scripted drill on the emulated site (the daemon as a process, a real
Mosquitto, the platform emulator acknowledging): its figures are checked against the events
the platform received, and the CLI writes a self-contained HTML page and a PDF in both
languages."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("fpdf")

from guardroom.emulators.site import EmulatedSite  # noqa: E402
from guardroom.report import source  # noqa: E402
from guardroom.report.drills import find_drills  # noqa: E402

from .scenario import fast, play_drill  # noqa: E402


def ts(ev):
    return source.epoch(ev["ts"])


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    """The scripted drill of scenario.play_drill, the daemon stopped afterwards."""
    work = str(tmp_path_factory.mktemp("drill-site"))
    with EmulatedSite(workdir=work, patch=fast) as site:
        p = site.platform
        play_drill(site)
        site.stop_daemon()                     # everything flushed to disk
        yield site, list(p.events), list(p.acks_sent), dict(p.rx)


def test_figures_match_the_events(drill):
    site, evs, acks, rx = drill
    data = source.load(site.config_path)
    ds = find_drills(data)
    assert len(ds) == 1
    d = ds[0]
    starts = [e for e in evs if e["kind"] == "drill"]
    assert d.area == "building"
    assert d.t_start == pytest.approx(ts(starts[0]), abs=1e-3)
    assert d.t_stop == pytest.approx(ts(starts[1]), abs=1e-3)
    alarms = [e for e in evs if e["kind"] == "alarm"]
    resets = [e for e in evs if e["kind"] == "reset"]
    assert [(r.zone, r.incident) for r in d.responses] == \
        [(a["zone"], a["incident"]) for a in alarms]
    first, second = d.responses
    for r, a, rs in zip(d.responses, alarms, resets):
        assert r.t_alarm == pytest.approx(ts(a), abs=1e-3)
        # the PUBACK recorded is the one of the event the platform received
        assert r.seq == a["seq"]
        assert ts(a) <= r.t_delivered <= ts(a) + 2.0
        assert r.t_reset == pytest.approx(ts(rs), abs=1e-3)
        assert r.t_stimulus <= r.t_alarm
    # acknowledged: after the platform received the alarm, by the operator the platform names
    assert acks and acks[0]["incident"] == first.incident
    assert first.t_ack is not None and first.t_ack >= rx[alarms[0]["id"]][1] - 0.005
    assert first.ack_by == "platform-operator"
    assert first.t_siren_on is None
    # the second alarm: never acknowledged, the fallback siren after fallback_s (2 s)
    assert second.t_ack is None
    assert second.t_siren_on is not None
    assert 1.9 <= second.t_siren_on - second.t_alarm <= 4.0
    assert second.t_siren_off == pytest.approx(second.t_reset, abs=0.5)
    assert any(e["kind"] == "fallback" for e in d.troubles)
    assert d.panic_exercised == ["panic_reception"]
    assert d.panic_not_exercised == ["panic_office"]
    lanes = [s.lane for s in d.steps]
    assert lanes[0] == "drill" and lanes[-1] == "drill"
    assert {"zone", "alarm", "platform", "ack", "siren", "reset", "trouble"} <= set(lanes)


@pytest.mark.parametrize("lang,title", [("en", "Emergency drill report"), ("zh", "应急演练报告")])
def test_cli_writes_html_and_pdf(drill, tmp_path, lang, title):
    site = drill[0]
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "guardroom", "report", "drill", "--config",
                        site.config_path, "--out", str(out), "--lang", lang],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 drill(s)" in r.stdout
    html = (out / f"drill-report-{lang}.html").read_text(encoding="utf-8")
    pdf = (out / f"drill-report-{lang}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert title in html and html.count("<svg") == 2          # timeline + response times
    assert not re.search(r'(src|href)="(?!#|data:)', html), "the page must be self-contained"
    assert "<script" not in html
    data = source.load(site.config_path)
    first = find_drills(data)[0].responses[0]
    ms = first.ms("delivered")
    shown = f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
    assert shown in html                                     # the figure reaches the page
    assert "panic_office" in html                            # the button never pressed
    if lang == "zh":
        assert b"FontFile2" in pdf                               # the CJK font is embedded
    if _have("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(out / f"drill-report-{lang}.pdf"),
                               "-"], capture_output=True, text=True, timeout=60).stdout
        assert title in text and shown in text and "panic_office" in text


def test_period_filters_and_bad_dates(drill, tmp_path):
    site = drill[0]
    data = source.load(site.config_path)
    t0 = find_drills(data)[0].t_start
    assert find_drills(data, since=t0 + 3600) == []
    assert len(find_drills(data, until=t0 + 3600)) == 1
    r = subprocess.run([sys.executable, "-m", "guardroom", "report", "drill", "--config",
                        site.config_path, "--out", str(tmp_path), "--since", "yesterday"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a date" in r.stderr
    assert not os.listdir(tmp_path)


def _have(cmd):
    from shutil import which

    return which(cmd) is not None

