"""End-to-end benchmark: the daemon as a process on the emulated site, timed from outside.

    python -m guardroom.bench.e2e [--repeats 30] [--events 100000] [--idle-s 30] [--json]
                                  [--only latency,fallback,uplink,process] [--no-unguarded]

Figures (medians and p99 over the repeats, milliseconds unless said):

* ``edge_to_event``: a panic press on the emulated GPIO (the time is taken just before the
  control command is sent, so the loopback hop to the mock pin counts against us) until the
  platform subscriber receives the alarm, minus the zone's debounce (50 ms). Between presses
  the button is released, the incident reset and the retained state that follows the reset
  awaited (``--back-to-back``: not awaited). Beside it, ``daemon_runq_wait_ms``: per press,
  how long the daemon's loop thread was runnable but waiting for a CPU (``schedstat``), and
  ``daemon_never_waited``: the presses during which it never was (their tail is the code's,
  the daemon's other threads', the broker's or this process's, not the loop's share of a
  busy machine);
* ``edge_to_event_flood``: the same while another GPIO input floods at ~50 k edges/s (played
  by the mock pin's wire thread inside the daemon, see drivers/gpio/mockpins.py; the chatter
  guard stops listening to it within its first ~20 edges), with the daemon's CPU meanwhile
  and how many flood edges reached the driver;
* ``edge_to_event_flood_unguarded``: the same with the chatter guard off (every edge is a
  Python call in the daemon, as lgpio would deliver it);
* ``alarm_to_siren_no_ack``: a silent panic the platform does not acknowledge, press until the
  siren pin is on, minus the debounce and minus ``fallback_s`` (1 s here);
* ``alarm_to_siren_uplink_down``: the broker is killed, the daemon logs "uplink DOWN", then a
  silent panic is pressed: press until the siren pin is on, minus the debounce (the fallback
  is immediate when the uplink is down);
* ``uplink_loss_detection``: with an un-acknowledged silent alarm open (fallback far away),
  the broker is killed; the time until the siren pin turns on, which the engine orders the
  moment the relay declares the uplink down. Compare it with ``heartbeat_s`` (2 s here);
* ``start_to_ready``: ``python -m guardroom run`` spawned until the platform sees the retained
  status ``online`` (and the GPIO control channel answers);
* ``rss_start_kib`` / ``rss_after_events_kib``: VmRSS of the daemon after start and after
  ``--events`` events (a zone with a zero-debounce technical profile toggled by one GPIO burst:
  each edge is a trouble or its restore, all of them delivered to the platform);
* ``idle_cpu_pct``: on-CPU time of the daemon's threads (``schedstat``) over ``--idle-s``
  seconds of nothing, with the share of each thread (``modbus-<bus>``, ``osdp-<port>``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform as _platform
import statistics
import sys
import threading
import time
from typing import Callable, Optional

PANIC_DEBOUNCE_MS = 50
SETTLE = True          # after a reset, wait for its retained state before the next press
FALLBACK_S = 1
HEARTBEAT_S = 2.0


def _machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "Model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model or _platform.processor(), "cores": os.cpu_count(),
            "machine": _platform.machine(), "kernel": _platform.release(),
            "python": _platform.python_version()}


def _stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    return {"n": len(s), "median": round(statistics.median(s), 2), "p99": round(p99, 2),
            "min": round(s[0], 2), "max": round(s[-1], 2)}


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _thread_cpu_ns(pid: int) -> dict[str, int]:
    """On-CPU nanoseconds per thread name (``/proc/PID/task/*/schedstat``: exact, unlike
    the tick-sampled utime/stime that over-charge short periodic wake-ups). Threads of one
    name are summed; driver threads name themselves (``modbus-<bus>``, ``osdp-<port>``)."""
    out: dict[str, int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                name = fh.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                ns = int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue            # a thread that ended meanwhile
        name = "main" if tid == str(pid) else name
        out[name] = out.get(name, 0) + ns
    return out


def idle_cpu(pid: int, seconds: float) -> dict:
    """Daemon CPU over ``seconds`` of nothing: total and per thread, in % of one core."""
    a = _thread_cpu_ns(pid)
    w0 = time.monotonic()
    time.sleep(seconds)
    b = _thread_cpu_ns(pid)
    dt = time.monotonic() - w0
    per = {k: round((v - a.get(k, 0)) / 1e9 / dt * 100, 4) for k, v in b.items()}
    return {"total_pct": round(sum(per.values()), 3),
            "threads_pct": {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1])
                            if v > 0}}


def _site(patch: Callable, auto_ack: bool = True):
    from guardroom.emulators.site import EmulatedSite

    return EmulatedSite(patch=patch, auto_ack=auto_ack)


def _set(doc, path: str, value) -> None:
    import tomlkit

    node = doc
    parts = path.split(".")
    for p in parts[:-1]:
        if isinstance(node, list):
            node = next(z for z in node if z.get("name") == p)
        else:
            if p not in node:
                node[p] = tomlkit.table()
            node = node[p]
    node[parts[-1]] = value


def _base_patch(doc) -> None:
    import tomlkit

    t = tomlkit.inline_table()
    t.update({"active_ms": PANIC_DEBOUNCE_MS, "restore_ms": 20})
    _set(doc, "profiles.panic", t)        # fast restore: the press/reset cycle stays short


def _ctl(site) -> tuple[str, str]:
    return site.config["site"]["controller"], site.config["site"]["name"]


def _wait_seq_after(site, seq: int, pred, timeout: float = 10.0) -> dict:
    return site.platform.wait_for(lambda e: e.get("seq", 0) > seq and pred(e), timeout)


def _reset_building(site, zone_point: str) -> None:
    p = site.platform
    last = max((e["seq"] for e in p.events), default=0)
    site.release(zone_point)
    ctl, name = _ctl(site)
    # a hold-up's restore (3120) is reported at reset, and the reset is refused while the
    # released button is still inside its restore debounce: retry until it is accepted
    deadline = time.monotonic() + 10
    while True:
        msg = p.send_cmd(ctl, "reset", area="building", code="1234", site=name)
        r = p.wait_result(lambda r: r.get("nonce") == msg["nonce"], 10)
        if r.get("ok") or "still active" not in str(r.get("reason")) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not r.get("ok"):
        raise RuntimeError(f"reset refused: {r}")
    _wait_seq_after(site, last, lambda e: e["kind"] == "restore" and e["zone"] == zone_point)
    if SETTLE:
        # The retained state follows a reset 2 ms later (daemon.STATE_URGENT_S). Wait for it:
        # the next press then finds the daemon idle, as a panic on a site does. Pressed at
        # once, every press landed in that publish (the GPIO thread waited for the GIL while
        # the loop built the state): +0.3 ms median, +1-3 ms p90, a collision of the bench's
        # own making (--back-to-back keeps it).
        key = site._status_key()
        p.wait_until(lambda: ((p.states.get(key) or {}).get("areas") or {})
                     .get("building", {}).get("incident", 1) == 0, 10)


def _runq_wait_ns(pid: int) -> int:
    """How long the main thread of ``pid`` (the daemon's loop: the alarm path) spent runnable
    but not running, waiting for a CPU (``schedstat`` field 2)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as fh:
            return int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _press_latency(site, point: str, repeats: int, log,
                   waits: Optional[list] = None) -> list[float]:
    """Edge -> platform minus debounce per press. ``waits`` gets, per press, how long the
    daemon's loop thread waited for a CPU (runnable, not running) between the press and the
    platform's receipt: the machine's share of a slow press (waits during the 50 ms debounce
    count too, so it is an upper bound for the path's)."""
    p = site.platform
    pid = site.daemon_proc.pid if site.daemon_proc is not None else None
    out = []
    for i in range(repeats):
        last = max((e["seq"] for e in p.events), default=0)
        q0 = _runq_wait_ns(pid) if pid and waits is not None else 0
        t0 = time.monotonic_ns()
        site.press(point)
        ev = _wait_seq_after(site, last, lambda e: e["kind"] == "alarm" and e["zone"] == point)
        out.append((p.rx[ev["id"]][0] - t0) / 1e6 - PANIC_DEBOUNCE_MS)
        extra = ""
        if pid and waits is not None:
            waits.append((_runq_wait_ns(pid) - q0) / 1e6)
            extra = f" (the daemon's loop waited {waits[-1]:.2f} ms for a CPU)"
        _reset_building(site, point)
        log(f"  press {i + 1}/{repeats}: {out[-1]:.2f} ms{extra}")
    return out


def _latency_stats(xs: list[float], waits: list[float]) -> dict:
    """``_stats`` of the presses, with the daemon loop's CPU waits beside them and the presses
    during which that thread never waited for a CPU (closer to what the code does on a quiet
    machine; the daemon's other threads, the broker and this process may still have waited)."""
    res = _stats(xs)
    if waits:
        res["daemon_runq_wait_ms"] = _stats(waits)
        res["daemon_never_waited"] = _stats([x for x, w in zip(xs, waits) if w < 0.05])
    return res


def _flood_latency(site, repeats: int, log) -> dict:
    """Press latency while ``panic_office`` (GPIO27) floods at ~50 k edges/s, played by the
    mock pin's wire thread inside the daemon process; plus the daemon's CPU meanwhile and how
    many of the flood's edges reached the driver's edge handler."""
    from guardroom.emulators.gpio import GpioEmulator

    flooder = GpioEmulator.from_file(os.path.join(site.workdir, "gpio.addr"))
    stop = threading.Event()
    bursts = []

    def flood():
        while not stop.is_set():
            bursts.append(flooder.burst(27, 10_000, 20))

    pid = site.daemon_proc.pid
    th = threading.Thread(target=flood, daemon=True)
    c0, w0 = sum(_thread_cpu_ns(pid).values()), time.monotonic()
    th.start()
    try:
        waits: list = []
        res = _latency_stats(_press_latency(site, "panic_reception", repeats, log, waits),
                             waits)
    finally:
        stop.set()
        th.join(30)
        flooder.close()
    c1, w1 = sum(_thread_cpu_ns(pid).values()), time.monotonic()
    sent = sum(b["count"] for b in bursts)
    res["flood_edges_per_s"] = round(statistics.median([b["rate"] for b in bursts])) \
        if bursts else 0
    res["flood_edges"] = sent
    res["flood_edges_heard"] = sum(b.get("heard", b["count"]) for b in bursts)
    res["daemon_cpu_pct"] = round((c1 - c0) / 1e9 / (w1 - w0) * 100, 1)
    return res


def bench_latency(repeats: int, log, unguarded: bool = True) -> dict:
    def patch(doc):
        _base_patch(doc)
        # the flooded input must not alarm itself: while the guard samples it (or, unguarded,
        # when the machine pauses the wire thread) its level can hold longer than a debounce
        _set(doc, "zones.panic_office.profile", "technical")
    res = {}
    with _site(patch) as site:
        site.platform.wait_until(lambda: site.platform.states, 10)
        waits: list = []
        res["edge_to_event"] = _latency_stats(
            _press_latency(site, "panic_reception", repeats, log, waits), waits)
        res["edge_to_event_flood"] = _flood_latency(site, repeats, log)
    if unguarded:
        # the same flood with the chatter guard off: every edge is a Python call in the
        # daemon, what lgpio would deliver too for an input nobody stops listening to
        def patch_off(doc):
            patch(doc)
            _set(doc, "drivers.gpio.chatter_rate", 0)
        with _site(patch_off) as site:
            site.platform.wait_until(lambda: site.platform.states, 10)
            res["edge_to_event_flood_unguarded"] = _flood_latency(site, repeats, log)
    return res


def bench_fallback(repeats: int, log) -> dict:
    def patch(doc):
        _base_patch(doc)
        _set(doc, "areas.building.fallback_s", FALLBACK_S)
    out = []
    with _site(patch, auto_ack=False) as site:
        for i in range(repeats):
            t0 = time.monotonic_ns()
            site.press("panic_reception")
            if not site.wait_output("siren", True, 10 + FALLBACK_S):
                raise RuntimeError("siren not on after the fallback time")
            out.append((time.monotonic_ns() - t0) / 1e6 - PANIC_DEBOUNCE_MS - FALLBACK_S * 1e3)
            _reset_building(site, "panic_reception")
            site.wait_output("siren", False, 10)
            log(f"  fallback {i + 1}/{repeats}: {out[-1]:.2f} ms")
    return {"alarm_to_siren_no_ack": _stats(out), "fallback_s": FALLBACK_S}


def bench_uplink(repeats: int, log) -> dict:
    def patch(doc):
        _base_patch(doc)
        _set(doc, "areas.building.fallback_s", 3600)
        _set(doc, "mqtt.heartbeat_s", HEARTBEAT_S)
    out = []
    with _site(patch, auto_ack=False) as site:
        p = site.platform
        key = f"{site.config['site']['name']}/{site.config['site']['controller']}"
        for i in range(repeats):
            last = max((e["seq"] for e in p.events), default=0)
            site.press("panic_reception")
            _wait_seq_after(site, last, lambda e: e["kind"] == "alarm")
            time.sleep(0.3)   # a quiet link: the alarm's PUBACK is in, no message in flight
            t0 = time.monotonic_ns()
            site.broker.kill()
            if not site.wait_output("siren", True, HEARTBEAT_S * 5 + 10):
                raise RuntimeError("uplink loss not detected")
            out.append((time.monotonic_ns() - t0) / 1e6)
            log(f"  uplink loss {i + 1}/{repeats}: {out[-1]:.0f} ms")
            p.status.pop(key, None)
            site.start_broker()
            p.wait_until(lambda: p.status.get(key) == "online" and p.connected.is_set(), 30)
            _reset_building(site, "panic_reception")
            site.wait_output("siren", False, 10)
        # a silent alarm raised while the uplink is already known to be down sounds at once
        down = []
        for i in range(repeats):
            n_down = _log_count(site, "uplink DOWN")
            site.broker.kill()
            _wait_log(site, "uplink DOWN", n_down + 1, HEARTBEAT_S * 5 + 10)
            t0 = time.monotonic_ns()
            site.press("panic_reception")
            if not site.wait_output("siren", True, 10):
                raise RuntimeError("no siren for an alarm with the uplink down")
            down.append((time.monotonic_ns() - t0) / 1e6 - PANIC_DEBOUNCE_MS)
            log(f"  alarm with uplink down {i + 1}/{repeats}: {down[-1]:.2f} ms")
            p.status.pop(key, None)
            site.start_broker()
            p.wait_until(lambda: p.status.get(key) == "online" and p.connected.is_set(), 30)
            _reset_building(site, "panic_reception")
            site.wait_output("siren", False, 10)
    return {"uplink_loss_detection": _stats(out), "heartbeat_s": HEARTBEAT_S,
            "alarm_to_siren_uplink_down": _stats(down)}


def _log_count(site, text: str) -> int:
    try:
        with open(site.log_path, "rb") as fh:
            return fh.read().decode(errors="replace").count(text)
    except OSError:
        return 0


def _wait_log(site, text: str, n: int, timeout: float) -> None:
    """The daemon's own log is the only witness of the uplink state while the broker is down."""
    deadline = time.monotonic() + timeout
    while _log_count(site, text) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} not logged within {timeout} s")
        time.sleep(0.02)  # a log file has no change notification here


def bench_process(n_events: int, idle_s: float, starts: int, log) -> dict:
    def patch(doc):
        _base_patch(doc)
        _set(doc, "zones.panic_office.type", "technical")
        _set(doc, "zones.panic_office.profile", "polled")
        _set(doc, "zones.panic_office.cid", 300)
        _set(doc, "storage.log_keep", 1_000_000)
        _set(doc, "drivers.gpio.chatter_rate", 0)   # the burst is the event source here
    res: dict = {}
    with _site(patch) as site:
        ready = []
        for _ in range(starts):
            site.stop_daemon()
            t0 = time.monotonic()
            site.start_daemon()
            ready.append((time.monotonic() - t0) * 1e3)
        res["start_to_ready"] = _stats(ready)
        site.platform.wait_until(lambda: site.platform.states, 10)
        pid = site.daemon_proc.pid
        # let start-up settle (reader online, first state published, and the daemon's one
        # gc.collect() + gc.freeze() GC_FREEZE_AFTER_S after ready: ~20 ms of CPU that an
        # idle window starting 1 s after ready counted as idle cost)
        from guardroom.daemon import GC_FREEZE_AFTER_S
        time.sleep(GC_FREEZE_AFTER_S + 1.0)
        res["rss_start_kib"] = _rss_kib(pid)
        res["idle"] = idle = idle_cpu(pid, idle_s)   # idle: the measurement itself
        res["idle_cpu_pct"] = idle["total_pct"]
        res["idle_s"] = idle_s
        if n_events <= 0:
            return res
        p = site.platform
        before = len(p.events)
        t1 = time.monotonic()
        left = n_events
        while left > 0:      # even edge counts: each chunk ends at rest
            chunk = min(left, 20_000)
            site.gpio.burst(27, chunk, 0)
            left -= chunk
        p.wait_until(lambda: len(p.events) - before >= n_events, 600)
        secs = time.monotonic() - t1
        res["events"] = n_events
        res["events_per_s"] = round(n_events / secs)
        res["rss_after_events_kib"] = _rss_kib(pid)
        res["gaps"] = len(p.gaps)
        log(f"  {n_events} events in {secs:.1f} s")
    return res


PARTS = ("latency", "fallback", "uplink", "process", "outbox")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom bench e2e", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30, help="presses per latency figure")
    ap.add_argument("--uplink-repeats", type=int, default=5,
                    help="broker kills for the uplink loss figure (each takes ~heartbeat_s)")
    ap.add_argument("--events", type=int, default=100_000,
                    help="events for the RSS figure (0: skip it)")
    ap.add_argument("--idle-s", type=float, default=30.0, help="idle CPU window")
    ap.add_argument("--starts", type=int, default=5, help="daemon starts timed")
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated parts to run, of: {', '.join(PARTS)}")
    ap.add_argument("--no-unguarded", action="store_true",
                    help="skip the flood row with the chatter guard off")
    ap.add_argument("--storm", type=int, default=20_000,
                    help="outbox: events in the storm before the panic")
    ap.add_argument("--backlog", default="10000,50000,200000",
                    help="outbox: backlog sizes at which RSS and disk are read")
    ap.add_argument("--kills", type=int, default=20, help="outbox: SIGKILLs during bursts")
    ap.add_argument("--kill-edges", type=int, default=3000,
                    help="outbox: edges per burst a SIGKILL lands in")
    ap.add_argument("--kill-seed", type=int, default=9,
                    help="outbox: seed of the random kill instants")
    ap.add_argument("--back-to-back", action="store_true",
                    help="press again as soon as the reset's restore arrives (before issue 18's "
                    "second sitting: the press then meets the state publish that follows the "
                    "reset)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    global SETTLE
    SETTLE = not args.back_to_back
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        ap.error(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    log = (lambda s: print(s, file=sys.stderr)) if args.verbose else (lambda s: None)
    res = {"machine": _machine()}
    if "latency" in parts:
        res.update(bench_latency(args.repeats, log, unguarded=not args.no_unguarded))
    if "fallback" in parts:
        res.update(bench_fallback(max(3, args.repeats // 3), log))
    if "uplink" in parts:
        res.update(bench_uplink(args.uplink_repeats, log))
    if "process" in parts:
        res.update(bench_process(args.events, args.idle_s, args.starts, log))
    if "outbox" in parts:
        from .outbox_e2e import bench_outbox

        res.update(bench_outbox(log, storm=args.storm, presses=max(3, args.repeats // 6),
                                steps=tuple(int(x) for x in args.backlog.split(",") if x),
                                kills=args.kills, kill_edges=args.kill_edges,
                                kill_seed=args.kill_seed))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(report(res))
    return 0


def report(res: dict) -> str:
    m = res["machine"]
    out = [f"machine: {m['cpu']}, {m['cores']} cores, {m['machine']}, Linux {m['kernel']}, "
           f"Python {m['python']}",
           f"{'figure':52} {'median':>10} {'p99':>10} {'n':>4}"]
    for key, label in (("edge_to_event", "edge -> platform, minus debounce (ms)"),
                       ("edge_to_event_flood", "same, other input at ~50k edges/s (ms)"),
                       ("edge_to_event_flood_unguarded",
                        "same, chatter guard off (every edge heard) (ms)"),
                       ("alarm_to_siren_no_ack",
                        f"alarm -> siren, no ack, minus {FALLBACK_S} s fallback (ms)"),
                       ("alarm_to_siren_uplink_down",
                        "alarm -> siren, uplink down, minus debounce (ms)"),
                       ("uplink_loss_detection",
                        f"broker killed -> siren (uplink down), hb {HEARTBEAT_S:g} s (ms)"),
                       ("start_to_ready", "daemon start -> online on platform (ms)")):
        st = res.get(key)
        if st and st.get("n"):
            out.append(f"{label:52} {st['median']:>10.1f} {st['p99']:>10.1f} {st['n']:>4}")
    for key in ("edge_to_event", "edge_to_event_flood"):
        st = res.get(key) or {}
        w, q = st.get("daemon_runq_wait_ms"), st.get("daemon_never_waited")
        if w and w.get("n"):
            out.append(f"{key}: the daemon's loop waited for a CPU {w['median']:.2f} ms "
                       f"(median), {w['p99']:.2f} ms (p99) per press; presses with no wait: "
                       + (f"{q['n']}, median {q['median']:.2f}, p99 {q['p99']:.2f} ms"
                          if q and q.get("n") else "none"))
    for key, label in (("edge_to_event_flood", "guarded"),
                       ("edge_to_event_flood_unguarded", "unguarded")):
        st = res.get(key)
        if st:
            out.append(f"flood ({label}): {st['flood_edges_per_s']} edges/s, "
                       f"{st['flood_edges_heard']} of {st['flood_edges']} edges reached the "
                       f"driver, daemon CPU {st['daemon_cpu_pct']} % meanwhile")
    if "rss_after_events_kib" in res:
        out.append(f"RSS after start: {res['rss_start_kib']} KiB; after {res['events']} "
                   f"events: {res['rss_after_events_kib']} KiB ({res['events_per_s']} "
                   f"events/s end to end, {res['gaps']} gaps)")
    elif "rss_start_kib" in res:
        out.append(f"RSS after start: {res['rss_start_kib']} KiB")
    if "idle" in res:
        threads = ", ".join(f"{k} {v:.3f}" for k, v in res["idle"]["threads_pct"].items())
        out.append(f"idle CPU over {res['idle_s']:g} s: {res['idle_cpu_pct']} % "
                   f"(per thread, %: {threads})")
    if "panic_in_storm" in res or "backlog_rss_kib" in res or "kills_lost" in res:
        from .outbox_e2e import report_lines

        out.extend(report_lines(res))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
