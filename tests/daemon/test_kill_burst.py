"""Decided -> stored -> delivered, through SIGKILLs: the daemon (a real process on the emulated
site, a real Mosquitto) is killed with SIGKILL at random moments during bursts of events and
restarted, again and again; then every reportable event in the event log must have reached the
platform, with the payload the log holds (a seq never names two different events)."""
from __future__ import annotations

import json
import random
import sqlite3
import threading
import time

import pytest

from guardroom.emulators.site import EmulatedSite

KILLS = 20
BURST_EDGES = 3000          # per round: each edge is a trouble or its restore (zero debounce)
FLOOD_PIN = 27              # panic_office, turned into a zero-debounce technical zone


def _patch(doc) -> None:
    import tomlkit

    from guardroom.bench.e2e import _set

    _set(doc, "zones.panic_office.type", "technical")
    _set(doc, "zones.panic_office.profile", "polled")
    _set(doc, "zones.panic_office.cid", 300)
    _set(doc, "storage.log_keep", 1_000_000)
    t = tomlkit.inline_table()
    t.update({"active_ms": 50, "restore_ms": 20})
    _set(doc, "profiles.panic", t)


def _logged(db_path: str) -> dict[int, dict]:
    """Every committed log record that carries a seq (the reportable ones), by seq."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT body FROM log ORDER BY row").fetchall()
    finally:
        db.close()
    out: dict[int, dict] = {}
    for (body,) in rows:
        rec = json.loads(body)
        if "seq" in rec:
            assert rec["seq"] not in out, f"seq {rec['seq']} logged twice: {rec}"
            out[rec["seq"]] = rec
    return out


def test_sigkill_during_bursts_loses_no_logged_event():
    rnd = random.Random(9)
    with EmulatedSite(patch=_patch) as site:
        p = site.platform
        db_path = f"{site.workdir}/var/events.sqlite"
        for i in range(KILLS):
            if site.daemon_proc is None:
                site.start_daemon()
            done = threading.Event()

            def burst():
                try:
                    site.gpio.burst(FLOOD_PIN, BURST_EDGES, 0)
                except Exception:  # noqa: BLE001 - the daemon died under it: expected
                    pass
                done.set()

            th = threading.Thread(target=burst, daemon=True)
            th.start()
            time.sleep(rnd.uniform(0.0, 0.25))   # the random instant of the kill
            site.kill_daemon()
            th.join(30)
        site.start_daemon()
        logged = _logged(db_path)
        assert len(logged) > KILLS * 5, f"too few events logged to prove anything: {len(logged)}"
        ctl = site.config["site"]["controller"]
        try:
            p.wait_until(lambda: all(f"{ctl}-{s}" in p.rx for s in logged), 90)
        except TimeoutError:
            missing = sorted(s for s in logged if f"{ctl}-{s}" not in p.rx)
            pytest.fail(f"{len(missing)} of {len(logged)} logged events never delivered, "
                        f"e.g. {missing[:10]}")
        got = {e["seq"]: e for e in p.events_of(ctl)}
        for s, rec in logged.items():
            ev = got[s]
            assert {k: ev[k] for k in rec} == rec, f"seq {s} names two different events"
