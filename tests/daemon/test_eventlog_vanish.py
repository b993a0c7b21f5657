"""The daemon's event log deleted while it runs (an operator cleaning the wrong folder): the
platform is told (storage trouble 1300, then its restore 3300), every row is kept in a new
events.sqlite, and the events that follow are logged there with the rows numbered on."""
from __future__ import annotations

import json
import os
import sqlite3

from guardroom.emulators.site import EmulatedSite


def _log_rows(path: str) -> list[tuple[int, dict]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(r, json.loads(b)) for r, b in
                db.execute("SELECT row, body FROM log ORDER BY row").fetchall()]
    finally:
        db.close()


def test_deleted_event_log_is_reported_and_started_again():
    with EmulatedSite() as site:
        p = site.platform
        path = os.path.join(site.workdir, "var", "events.sqlite")
        site.press("panic_reception")
        first = p.wait_for(lambda e: e["kind"] == "alarm", 10)
        os.unlink(path)
        trouble = p.wait_for(lambda e: e["cid"] == "1300" and "event log" in e["text"], 20)
        restore = p.wait_for(lambda e: e["cid"] == "3300" and "event log" in e["text"], 20)
        assert "deleted" in trouble["text"] and restore["seq"] > trouble["seq"]
        assert os.path.exists(path)
        site.press("panic_office")
        later = p.wait_for(lambda e: e["kind"] == "alarm" and e["zone"] == "panic_office", 10)
        site.stop_daemon()
        rows = _log_rows(path)
        numbers = [r for r, _ in rows]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no gap, no reuse
        seqs = [rec.get("seq") for _, rec in rows]
        for ev in (first, trouble, restore, later):
            assert ev["seq"] in seqs, f"seq {ev['seq']} ({ev['text']}) not in the new log"
