"""The event log at the console: filters by zone, area, kind and date; exports over the
terminal (for its capture) and to the storage folder (the unfiltered JSONL verifies alone)."""
from __future__ import annotations

import os
import re

from guardroom.eventlog import verify_export

from .sitecfg import INSTALLER_CODE, USER_CODE
from .term import BOUND


def test_filters_by_zone_kind_and_date(rig):
    t = rig.term
    seen = rig.watch(lambda d: d["kind"] == "zone" and d["zone"] == "beam_north"
                     and d["state"] == "active")
    rig.gpio.press(23)
    assert seen.wait(BOUND)
    rig.gpio.press(24)
    rig.wait_log(lambda r: r.get("zone") == "beam_south")
    rig.login(USER_CODE, "user")
    out = t.cmd("log zone beam_north")
    rows = [line for line in out.splitlines() if re.match(r"\d+\s+\d\d-\d\d ", line)]
    assert rows and all("beam_north" in line for line in rows)
    assert "beam_south" not in out
    out = t.cmd("log kind system since 2000-01-01")
    assert "started" in out and "beam_north" not in out
    assert "(no event matches)" in t.cmd("log until 2000-01-01")
    assert "UTC date" in t.cmd("log since yesterday")
    assert "needs the installer level" in t.cmd("log export csv")


def test_export_to_terminal_and_to_storage(rig):
    t = rig.term
    rig.login(INSTALLER_CODE, "installer")
    out = t.cmd("log export csv kind program_mode")
    assert re.search(r"BEGIN CSV EXPORT \(\d+ events, kind program_mode\)", out)
    body = out.split("-----\n", 1)[1].split("----- END")[0]
    assert body.splitlines()[0].startswith("row,ts,kind,cid")
    assert "1627" in body
    out = t.cmd("log export jsonl all.jsonl")
    m = re.search(r"exported (\d+) event\(s\) \(no filter\) to exports/all.jsonl", out)
    assert m and int(m[1]) > 0
    path = os.path.join(rig.dir, "store", "exports", "all.jsonl")
    with open(path) as fh:
        ok, checked, bad = verify_export(fh)
    assert ok and checked == int(m[1])
    assert "plain name" in t.cmd("log export csv ../../etc/x.csv")
