"""Reports made by the running controller: `report drill` on the serial console writes both
files into the storage folder, and a signed `report` command from the platform gets the
summary back on cmd/result, with the same figures the CLI computes; a bad kind or an unsigned
command is refused."""
import os
import re

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("fpdf")

from guardroom.emulators.site import EmulatedSite  # noqa: E402
from guardroom.report import source  # noqa: E402
from guardroom.report.drills import find_drills  # noqa: E402
from hil_tests.console import ConsoleClient  # noqa: E402

from .scenario import fast, play_drill  # noqa: E402

GUARD_CODE = "1234"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with EmulatedSite(workdir=str(tmp_path_factory.mktemp("hooks-site")), patch=fast,
                      console=True) as s:
        play_drill(s)
        yield s


def test_console_report_writes_into_storage(site):
    con = ConsoleClient(site.console_path)
    try:
        con.login(GUARD_CODE)
        out = con.cmd("report drill en", timeout=300)
        assert "1 drill(s) in the log." in out, out
        assert re.search(r"written: exports/reports/drill-report-en\.pdf", out), out
        assert "usage" in con.cmd("report weekly").lower()
    finally:
        con.close()
    d = os.path.join(site.config["storage"]["dir"], "exports", "reports")
    assert {"drill-report-en.html", "drill-report-en.pdf"} <= set(os.listdir(d))
    with open(os.path.join(d, "drill-report-en.pdf"), "rb") as fh:
        assert fh.read(5) == b"%PDF-"


def test_platform_report_command_returns_the_summary(site):
    p = site.platform
    m = p.send_cmd("ctl-1", "report", signed=True, extra={"report": "drill", "lang": "zh"})
    r = p.wait_result(lambda r: r.get("nonce") == m["nonce"], 300)
    assert r["ok"] is True, r
    js = r["summary"]
    assert js["files"] == ["drill-report-zh.html", "drill-report-zh.pdf"]
    [d] = js["drills"]
    drills = find_drills(source.load(site.config_path))
    assert len(drills) == 1
    want = [(x.zone, x.incident, x.seq, x.ms("delivered"), x.ms("ack"))
            for x in drills[0].responses]
    got = [(a["zone"], a["incident"], a["seq"], a["to_delivered_ms"], a["to_ack_ms"])
           for a in d["alarms"]]
    assert got == want
    assert d["panic_not_exercised"] == ["panic_office"]
    m = p.send_cmd("ctl-1", "report", signed=True, extra={"report": "inspection", "lang": "en"})
    r = p.wait_result(lambda r: r.get("nonce") == m["nonce"], 300)
    assert r["ok"] is True and r["summary"]["log_ok"] is True and \
        r["summary"]["drills_12m"] == 1, r


def test_platform_report_refusals(site):
    p = site.platform
    bad = p.send_cmd("ctl-1", "report", signed=True, extra={"report": "weekly"})
    r = p.wait_result(lambda r: r.get("nonce") == bad["nonce"], 60)
    assert r["ok"] is False and "unknown report" in r["reason"]
    unsigned = p.send_cmd("ctl-1", "report", extra={"report": "drill"})
    r = p.wait_result(lambda r: r.get("nonce") == unsigned["nonce"], 60)
    assert r["ok"] is False and r["reason"] == "missing auth"
