"""The outbox rows of ``guardroom bench e2e`` (part ``outbox``): what a storm, a long outage and
repeated crashes cost, measured on the daemon process of the emulated site.

* ``panic_in_storm``: a burst of ``storm`` trouble/restore events (a zero-debounce technical
  zone toggled by one GPIO burst) is decided and stored, and at that moment (most of the storm
  still waiting for the broker) a panic is pressed: press until the platform has the alarm,
  minus the 50 ms debounce. The backlog still waiting at the press is reported with it, and
  press until the broker's PUBACK (``deliveries.sqlite``: the broker holds it; what comes
  after is the broker's queue to a subscriber slower than the drain), and how many events
  reached the platform between the press and the panic (what was ahead of it: the relay
  paces non-alarm events, ``[mqtt] nonalarm_rate``, to keep that small). ``loop_lag``: the
  worst lateness of the daemon's loop-lag probe (``firmware_py/lagprobe.py``, running
  while a burst is worked through, read from the daemon's log) during each storm;
* ``backlog``: the broker is stopped and bursts are decided until the outbox holds 10k / 50k /
  200k events: VmRSS of the daemon and the outbox's disk use (database + WAL) at each step;
  then the broker returns: drain time and rate until the platform has every event, VmRSS
  after the drain, and the disk use once the fsync thread has given the drained file's space
  back (``compact_s``: seconds from the drain until the database is under 1 MiB);
* ``kills``: the daemon is SIGKILLed at random moments during bursts, ``kills`` times, and
  restarted; then every reportable event of the event log is looked for on the platform:
  ``lost`` must be 0.
"""
from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import threading
import time

from .e2e import PANIC_DEBOUNCE_MS, _base_patch, _reset_building, _rss_kib, _set, _site, \
    _stats, _wait_seq_after

FLOOD_PIN = 27


def _patch(doc) -> None:
    _base_patch(doc)
    _set(doc, "zones.panic_office.type", "technical")
    _set(doc, "zones.panic_office.profile", "polled")
    _set(doc, "zones.panic_office.cid", 300)
    _set(doc, "storage.log_keep", 1_000_000)
    _set(doc, "storage.outbox_max_mib", 0)           # no shedding: the whole backlog is kept
    _set(doc, "drivers.gpio.chatter_rate", 0)        # the burst is the event source here


def _count(path: str, sql: str) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _disk_kib(var: str, names=("outbox.sqlite", "outbox.sqlite-wal")) -> int:
    total = 0
    for name in names:
        try:
            total += os.stat(os.path.join(var, name)).st_blocks * 512
        except OSError:
            pass
    return total // 1024


def _wal_kib(var: str) -> int:
    return _disk_kib(var, ("outbox.sqlite-wal",))


def _issued(var: str) -> int:
    """The highest seq the daemon has issued (its seq guard file, firmware_py/seqguard.py)."""
    try:
        with open(os.path.join(var, "outbox.sqlite.seq"), "rb") as fh:
            return int(fh.read(64).split()[0])
    except (OSError, ValueError, IndexError):
        return 0


_LAG = re.compile(r"timers ran at most ([0-9.]+) ms late; longest engine turn ([0-9.]+) ms")


def _log_lags(path: str, offset: int) -> tuple[list[tuple[float, float]], int]:
    """The loop-lag probe's figures logged by the daemon since ``offset``: (lag ms, longest
    turn's CPU ms) per burst episode."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    text = data.decode("utf-8", "replace")
    return ([(float(m.group(1)), float(m.group(2))) for m in _LAG.finditer(text)],
            offset + len(data))


def _puback_wall(var: str, seq: int) -> float:
    """The wall time of the broker's PUBACK for ``seq`` (0 if not recorded yet)."""
    try:
        db = sqlite3.connect(f"file:{os.path.join(var, 'deliveries.sqlite')}?mode=ro",
                             uri=True, timeout=5)
        try:
            row = db.execute("SELECT puback FROM sent WHERE seq = ?", (seq,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0.0
    return float(row[0]) if row and row[0] else 0.0


def _burst(site, edges: int) -> None:
    left = edges
    while left > 0:                    # even chunks: each ends at rest
        chunk = min(left, 20_000)
        site.gpio.burst(FLOOD_PIN, chunk, 0)
        left -= chunk


def _ahead(p, ev: dict, t0_ns: int) -> int:
    """Events the platform received after the press and before the panic ``ev``: what sat in
    front of it (in flight, or in the broker's queue to the platform). A count, not a time,
    so it does not depend on how busy the machine is."""
    n = 0
    for e in list(p.events):
        if e["id"] == ev["id"]:
            break
        if p.rx.get(e["id"], (0, 0))[0] >= t0_ns:
            n += 1
    return n


def bench_storm(storm: int, presses: int, log) -> dict:
    out, backlog, puback, lags, turns, ahead = [], [], [], [], [], []
    with _site(_patch) as site:
        p = site.platform
        p.wait_until(lambda: p.states, 10)
        var = os.path.join(site.workdir, "var")
        at = os.path.getsize(site.log_path)
        for i in range(presses):
            before = len(p.events)
            first = _issued(var)
            _burst(site, storm)
            # the whole storm decided and stored: the issued seq stops moving (the emulated
            # burst may merge edges under load, so the count is read, not assumed)
            seen, still = _issued(var), 0
            while still < 10:
                time.sleep(0.05)     # another process' file: polled
                now = _issued(var)
                still = still + 1 if now == seen else 0
                seen = now
            made = seen - first
            last = max((e["seq"] for e in p.events), default=0)
            backlog.append(_count(os.path.join(var, "outbox.sqlite"),
                                  "SELECT COUNT(*) FROM outbox"))
            t0, w0 = time.monotonic_ns(), time.time()
            site.press("panic_reception")
            ev = _wait_seq_after(site, last, lambda e: e["kind"] == "alarm"
                                 and e["zone"] == "panic_reception", 120)
            out.append((p.rx[ev["id"]][0] - t0) / 1e6 - PANIC_DEBOUNCE_MS)
            ahead.append(_ahead(p, ev, t0))
            p.wait_until(lambda: len(p.events) - before >= made + 1, 300)
            pb = _puback_wall(var, ev["seq"])
            if pb:
                puback.append((pb - w0) * 1000 - PANIC_DEBOUNCE_MS)
            seen_lags, at = _log_lags(site.log_path, at)
            lags.append(max((a for a, _ in seen_lags), default=0.0))
            turns.append(max((b for _, b in seen_lags), default=0.0))
            log(f"  panic after a {storm} storm {i + 1}/{presses}: {out[-1]:.1f} ms "
                f"(PUBACK {puback[-1] if pb else float('nan'):.1f} ms, backlog {backlog[-1]}, "
                f"{ahead[-1]} events reached the platform between press and panic); "
                f"loop lag max {lags[-1]:.1f} ms, longest turn {turns[-1]:.1f} ms CPU")
            _reset_building(site, "panic_reception")
    return {"panic_in_storm": _stats(out), "storm": storm,
            "panic_in_storm_puback": _stats(puback), "storm_loop_lag_ms": _stats(lags),
            "storm_turn_cpu_ms": _stats(turns),
            "storm_ahead_of_panic": _stats([float(a) for a in ahead]),
            "storm_backlog_at_press": _stats([float(b) for b in backlog])}


def bench_backlog(steps: tuple, log) -> dict:
    res: dict = {"backlog_rss_kib": {}, "backlog_disk_kib": {}, "backlog_wal_kib": {}}
    with _site(_patch) as site:
        p = site.platform
        p.wait_until(lambda: p.states, 10)
        pid = site.daemon_proc.pid
        time.sleep(1.0)
        res["backlog_rss_start_kib"] = _rss_kib(pid)
        var = os.path.join(site.workdir, "var")
        box = os.path.join(var, "outbox.sqlite")
        before = len(p.events)
        site.stop_broker()
        made = 0
        for target in steps:
            _burst(site, target - made)
            made = target
            deadline = time.monotonic() + 300
            while _count(box, "SELECT COUNT(*) FROM outbox") < target:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backlog of {target} never reached")
                time.sleep(0.2)      # another process' database: polled
            res["backlog_rss_kib"][target] = _rss_kib(pid)
            res["backlog_disk_kib"][target] = _disk_kib(var)
            res["backlog_wal_kib"][target] = _wal_kib(var)
            log(f"  backlog {target}: RSS {res['backlog_rss_kib'][target]} KiB, disk "
                f"{res['backlog_disk_kib'][target]} KiB (WAL {res['backlog_wal_kib'][target]})")
        depth = _count(box, "SELECT COUNT(*) FROM outbox")
        t0 = time.monotonic()
        site.start_broker()
        p.wait_until(lambda: len(p.events) - before >= made, 900)
        secs = time.monotonic() - t0
        res["drain_events"] = depth
        res["drain_s"] = round(secs, 2)
        res["drain_per_s"] = round(depth / secs)
        time.sleep(2.0)
        res["rss_after_drain_kib"] = _rss_kib(pid)
        res["disk_after_drain_kib"] = _disk_kib(var)
        res["wal_after_drain_kib"] = _wal_kib(var)
        res["backlog_gaps"] = len(p.gaps)
        log(f"  drained {depth} in {secs:.1f} s; RSS after {res['rss_after_drain_kib']} KiB")
        # the fsync thread gives the drained file's space back (incremental auto_vacuum)
        t1 = time.monotonic()
        while _disk_kib(var, ("outbox.sqlite",)) > 1024 and time.monotonic() - t1 < 300:
            time.sleep(0.5)
        res["compact_s"] = round(time.monotonic() - t1 + 2.0, 1)
        res["disk_compacted_kib"] = _disk_kib(var)
        res["db_compacted_kib"] = _disk_kib(var, ("outbox.sqlite",))
        res["rss_after_compact_kib"] = _rss_kib(pid)
        log(f"  compacted: database {res['db_compacted_kib']} KiB, with WAL "
            f"{res['disk_compacted_kib']} KiB, {res['compact_s']} s after the drain")
    return res


def _logged(db_path: str) -> tuple[dict, int]:
    """The reportable records of the event log by seq, and how many seqs were logged twice
    (two log rows with one seq: a seq issued twice)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT body FROM log").fetchall()
    finally:
        db.close()
    out, twice = {}, 0
    for (body,) in rows:
        rec = json.loads(body)
        if "seq" in rec:
            if rec["seq"] in out:
                twice += 1
            out[rec["seq"]] = rec
    return out, twice


def bench_kills(kills: int, edges: int, log, seed: int = 9) -> dict:
    """``kills`` SIGKILLs at random instants (0-250 ms, from ``seed``) into bursts of ``edges``
    edges, a restart after each; then every logged reportable event is looked for on the
    platform. ``lost``: logged, never delivered; ``repeats``: a seq that names two different
    events (logged twice, or delivered with another payload than the log holds)."""
    rnd = random.Random(seed)
    t0 = time.monotonic()
    with _site(_patch) as site:
        p = site.platform
        for _ in range(kills):
            if site.daemon_proc is None:
                site.start_daemon()
            th = threading.Thread(target=lambda: _quiet_burst(site, edges), daemon=True)
            th.start()
            time.sleep(rnd.uniform(0.0, 0.25))
            site.kill_daemon()
            th.join(30)
        site.start_daemon()
        logged, twice = _logged(os.path.join(site.workdir, "var", "events.sqlite"))
        ctl = site.config["site"]["controller"]
        try:
            p.wait_until(lambda: all(f"{ctl}-{s}" in p.rx for s in logged), 120)
        except TimeoutError:
            pass
        lost = sum(1 for s in logged if f"{ctl}-{s}" not in p.rx)
        got = {e["seq"]: e for e in p.events_of(ctl)}
        differ = sum(1 for s, rec in logged.items()
                     if s in got and any(got[s].get(k) != v for k, v in rec.items()))
        log(f"  {kills} SIGKILLs into bursts of {edges} edges (seed {seed}): {len(logged)} "
            f"events logged, {lost} lost, {twice + differ} seq repeats, {p.duplicates} "
            f"duplicates, {len(p.gaps)} gaps ({time.monotonic() - t0:.0f} s)")
    return {"kills": kills, "kills_edges": edges, "kills_seed": seed,
            "kills_events_logged": len(logged), "kills_lost": lost,
            "kills_repeats": twice + differ, "kills_duplicates": p.duplicates,
            "kills_gaps": len(p.gaps)}


def _quiet_burst(site, edges: int) -> None:
    try:
        site.gpio.burst(FLOOD_PIN, edges, 0)
    except Exception:  # noqa: BLE001 - the daemon was killed under it
        pass


def bench_outbox(log, storm: int = 20_000, presses: int = 5,
                 steps: tuple = (10_000, 50_000, 200_000), kills: int = 20,
                 kill_edges: int = 3000, kill_seed: int = 9) -> dict:
    res = {}
    res.update(bench_storm(storm, presses, log))
    res.update(bench_backlog(steps, log))
    res.update(bench_kills(kills, kill_edges, log, kill_seed))
    return res


def report_lines(res: dict) -> list[str]:
    out = []
    st = res.get("panic_in_storm")
    if st and st.get("n"):
        out.append(f"{'panic after a ' + str(res['storm']) + ' event storm (ms)':52} "
                   f"{st['median']:>10.1f} {st['p99']:>10.1f} {st['n']:>4}")
        out.append(f"  backlog at the press: median {res['storm_backlog_at_press']['median']:.0f}"
                   " events")
        ah = res.get("storm_ahead_of_panic") or {}
        if ah.get("n"):
            out.append(f"  events reaching the platform between press and panic: median "
                       f"{ah['median']:.0f}, max {ah['max']:.0f} ([mqtt] nonalarm_rate paces "
                       "the rest)")
        pb = res.get("panic_in_storm_puback") or {}
        if pb.get("n"):
            out.append(f"{'  of which press -> broker PUBACK (ms)':52} "
                       f"{pb['median']:>10.1f} {pb['p99']:>10.1f} {pb['n']:>4}")
        lag = res.get("storm_loop_lag_ms") or {}
        if lag.get("n"):
            out.append(f"{'daemon loop lag during a storm, worst per storm (ms)':52} "
                       f"{lag['median']:>10.1f} {lag['max']:>10.1f} {lag['n']:>4}")
        tc = res.get("storm_turn_cpu_ms") or {}
        if tc.get("n"):
            out.append(f"{'  longest engine turn, CPU time (ms)':52} "
                       f"{tc['median']:>10.1f} {tc['max']:>10.1f} {tc['n']:>4}")
    if "backlog_rss_kib" in res:
        out.append(f"outbox backlog RSS (MiB) at start {res['backlog_rss_start_kib'] / 1024:.1f}: "
                   + ", ".join(f"{k}: {v / 1024:.1f}" for k, v in res["backlog_rss_kib"].items())
                   + f"; after the drain {res['rss_after_drain_kib'] / 1024:.1f}")
        out.append("outbox disk (MiB): " + ", ".join(
            f"{k}: {v / 1024:.1f}" for k, v in res["backlog_disk_kib"].items())
            + f"; after the drain {res['disk_after_drain_kib'] / 1024:.1f}")
        if res.get("backlog_wal_kib"):
            out.append("  of which WAL (MiB): " + ", ".join(
                f"{k}: {v / 1024:.1f}" for k, v in res["backlog_wal_kib"].items())
                + f"; after the drain {res.get('wal_after_drain_kib', 0) / 1024:.1f}")
        if "disk_compacted_kib" in res:
            out.append(f"  compacted after the drain: database "
                       f"{res['db_compacted_kib'] / 1024:.1f} MiB, with WAL "
                       f"{res['disk_compacted_kib'] / 1024:.1f} MiB, {res['compact_s']} s "
                       f"after the drain; RSS then {res['rss_after_compact_kib'] / 1024:.1f}")
        out.append(f"drain: {res['drain_events']} events in {res['drain_s']} s "
                   f"({res['drain_per_s']} events/s), {res['backlog_gaps']} gaps")
    if "kills_lost" in res:
        out.append(f"{res['kills']} SIGKILLs during bursts of {res.get('kills_edges', '?')} "
                   f"edges: {res['kills_events_logged']} events logged, {res['kills_lost']} "
                   f"lost, {res.get('kills_repeats', '?')} seq repeats, "
                   f"{res['kills_duplicates']} duplicates")
    return out
