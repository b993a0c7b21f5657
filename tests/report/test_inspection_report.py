"""The inspection report from a scripted life of the emulated site (the daemon as a process, a
real Mosquitto, the console over its null-modem cable): a SIGKILL and restart, a walk test of the door from the
console, a drill, a fence tamper, a broker outage, a clean stop. Its figures are
checked against the events and the record; the CLI writes HTML and PDF; a tampered log is
reported as such."""
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("fpdf")

from guardroom.emulators.site import EmulatedSite  # noqa: E402
from guardroom.eventlog import EventLog  # noqa: E402
from guardroom.report import inspection, source  # noqa: E402
from guardroom.report.inspection_report import build  # noqa: E402
from hil_tests.console import ConsoleClient  # noqa: E402

from .scenario import fast, play_drill  # noqa: E402

INSTALLER_CODE = "7777"


@pytest.fixture(scope="module")
def lived(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("inspection-site"))
    with EmulatedSite(workdir=work, patch=fast, console=True) as site:
        p = site.platform
        p.wait_for(lambda e: e["kind"] == "system", 10)
        site.kill_daemon()        # first, so that it loses nothing the test looks for later
        site.start_daemon()
        p.wait_until(lambda: len([e for e in p.events if e["kind"] == "system"]) >= 2, 20)
        con = ConsoleClient(site.console_path)
        try:
            con.login(INSTALLER_CODE)
            con.line("walktest start building")
            con._read_until(re.compile(rb"Ctrl-C leaves the live view"), 20)
            site.press("front_door")
            con._read_until(re.compile(rb"front_door\s+entry_exit\s+building\s+tested"), 20)
            site.release("front_door")
            os.write(con.fd, b"\x03")      # Ctrl-C alone (a CR would print a second prompt)
            con._read_until(re.compile(rb"The walk test is still running"), 20)
            con._read_until(re.compile(rb"guardroom\(installer\)> "), 20)
            out = con.cmd("walktest stop")
            assert "Walk test stopped" in out, out
            con.cmd("logout")
        finally:
            con.close()
        play_drill(site)
        site.press("fence_tamper")
        p.wait_for(lambda e: e["cid"] == "1383", 15)   # loop open: tamper
        site.release("fence_tamper")
        # a broker outage long enough for the supervision (heartbeat 1.5 s) to call it
        key = "north-school/ctl-1"
        site.stop_broker()
        t_down = time.time()
        time.sleep(4.0)          # the outage itself is the stimulus: it has to last
        site.start_broker()
        p.wait_until(lambda: p.status.get(key) == "online", 20)
        t_up = time.time()
        site.stop_daemon()                               # a clean stop flushes the record
        yield site, list(p.events), (t_down, t_up)


def test_facts_match_the_site(lived):
    site, evs, (t_down, t_up) = lived
    data = source.load(site.config_path)
    zt = {z.zone: z for z in inspection.zone_tests(data)}
    walk = [e for e in evs if e["cid"] == "1607" and e["zone"] == "front_door"]
    assert walk, "the walk test trip reached the platform"
    assert zt["front_door"].how == "walktest"
    assert zt["front_door"].t_last == pytest.approx(source.epoch(walk[-1]["ts"]), abs=1e-3)
    assert zt["panic_reception"].how == "drill"
    assert zt["panic_office"].t_last is None and zt["beam_north_a"].t_last is None
    tr = {(g.cid, g.zone): g for g in inspection.troubles(data, 0)}
    assert tr[("1383", "fence_tamper")].count == 1
    assert ("1354", "") in tr                       # the drill's unacknowledged alarm
    up = inspection.uplink(data, 0, data.now)
    assert up.unclean_restarts == 1
    longest = up.longest
    assert longest is not None
    # the supervision calls the outage after its heartbeat, and it ends at the reconnect
    assert t_down <= longest[0] <= t_down + 4.0
    assert t_up - 3.0 <= longest[1] <= t_up + 0.5
    assert 0 < up.share < 100
    hist = inspection.config_history(data)
    assert len(hist) == 1 and hist[0][1] == data.config_sha256
    log = EventLog(f"{site.config['storage']['dir']}/events.sqlite")
    try:
        assert data.chain.ok and data.chain.head == log.head
        assert data.chain.checked == len(log)
    finally:
        log.close()


@pytest.mark.parametrize("lang,title", [("en", "Security inspection report"),
                                        ("zh", "安全防范检查报告")])
def test_cli_writes_html_and_pdf(lived, tmp_path, lang, title):
    site = lived[0]
    r = subprocess.run([sys.executable, "-m", "guardroom", "report", "inspection", "--config",
                        site.config_path, "--out", str(tmp_path), "--lang", lang],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 drill(s) in 12 months" in r.stdout and "log intact" in r.stdout
    html = (tmp_path / f"inspection-report-{lang}.html").read_text(encoding="utf-8")
    pdf = (tmp_path / f"inspection-report-{lang}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert title in html and html.count("<svg") == 2     # zone coverage + uplink per day
    assert "pbkdf2" not in html                           # users by level, never codes
    for u in site.config["users"]:
        assert u["name"] in html
        for h in (u["code_hash"], u["duress_hash"]):
            assert not h or h.split("$")[-1] not in html
    assert "0F1E2D3C4B5A69788796A5B4C3D2E1F0".lower() not in html.lower()
    assert site.config["mqtt"]["cmd_hmac_key"] not in html
    data = source.load(site.config_path)
    assert data.chain.head in html and data.config_sha256 in html


def test_a_tampered_log_is_reported(lived, tmp_path):
    site = lived[0]
    import shutil

    cfg_dir = tmp_path / "copy"
    shutil.copytree(site.config["storage"]["dir"], cfg_dir)
    text = open(site.config_path, encoding="utf-8").read()
    text = text.replace(site.config["storage"]["dir"], str(cfg_dir))
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    db = sqlite3.connect(cfg_dir / "events.sqlite")
    row, body = db.execute("SELECT row, body FROM log WHERE body LIKE '%fence_tamper%' "
                           "LIMIT 1").fetchone()
    db.execute("UPDATE log SET body=? WHERE row=?", (body.replace("fence_tamper", "nothing"), row))
    db.commit()
    db.close()
    data = source.load(str(tmp_path / "site.toml"))
    assert not data.chain.ok and data.chain.first_bad == row
    doc, summary, js = build(data, "en")
    assert js["log_ok"] is False
    assert "TAMPERED" in summary
