"""Benchmark of the alarm engine: samples per second through both builds.

    python -m guardroom.bench.core [--repeats 7] [--samples 1000000] [--json]

A realistic site (64 zones over 4 areas, mixed types and profiles, verification groups), all
areas armed, fed two streams:

* ``normal``: supervised-loop polls of every point (mostly unchanged levels) with occasional
  real edges that pass the debounce and raise alarms;
* ``flood``: a glitch flood on four beams, an edge every 20 us (50 k edges/s), every edge
  shorter than the 50 ms debounce, so nothing is ever accepted.

and two streams where every sample changes a zone (each edge holds past its debounce, so
each is accepted and decided: the cost of real work, timers included):

* ``changes``: the 40 intruder zones (perimeter, entry/exit, interior) of a *disarmed* site
  toggle in turn, one edge every 40 ms of sample time: every sample ends in a ``zone``
  decision (pulse-counted PIRs: every second activation);
* ``changes_armed``: the same edges with every area armed: alarms, restores, verification,
  swinger shutdown, sirens; the heaviest decision load per sample.

Each is timed through ``feed_many`` (batch) and a Python loop of ``feed`` calls (per-sample),
for the compiled and the interpreted build; figures are medians over the repeats (the
interpreted build gets a tenth of the samples and at most 3 repeats; the changes streams a
fifth of each). ``--clock cpu`` times with the process's CPU time instead of the wall clock:
on a machine shared with other jobs it shows the engine's own cost (the wall clock also counts
the time the benchmark waited for a core). Exit status 1 when the compiled engine is not built.
"""
import argparse
import json
import statistics
import sys
import time
from array import array

from guardroom.core import load_engine

US = 1_000
MS = 1_000_000
S = 1_000_000_000
T0 = 10 * S

PROFILES = {
    "beam": {"active_ms": 50, "restore_ms": 100, "pulses": 1, "pulse_window_ms": 0},
    "contact": {"active_ms": 100, "restore_ms": 300, "pulses": 1, "pulse_window_ms": 0},
    "panic": {"active_ms": 20, "restore_ms": 500, "pulses": 1, "pulse_window_ms": 0},
    "pir": {"active_ms": 200, "restore_ms": 1000, "pulses": 2, "pulse_window_ms": 10_000},
    "slow": {"active_ms": 2000, "restore_ms": 2000, "pulses": 1, "pulse_window_ms": 0},
}
# 16 zones per area: (type, profile, silent, groups-suffix)
AREA_LAYOUT = (
    [("panic", "panic", None, "holdup")] * 2 + [("duress", "panic", None, "")]
    + [("tamper", "contact", None, "")]
    + [("perimeter", "beam", True, "beams")] * 4
    + [("entry_exit", "contact", None, "")] * 2
    + [("interior", "pir", None, "interior")] * 4
    + [("technical", "slow", None, "")] + [("perimeter", "contact", None, "")]
)
FLOOD_POINTS = (4, 5, 20, 21)  # beams of areas 0 and 1


def bench_site() -> dict:
    """64 zones over 4 areas."""
    areas, groups, zones, outputs = {}, {}, [], {}
    for a in range(4):
        name = f"Area{a}"
        outputs[f"siren{a}"] = {"kind": "siren"}
        outputs[f"strobe{a}"] = {"kind": "strobe"}
        areas[name] = {"entry_delay_s": 30, "exit_delay_s": 0, "bell_cutoff_s": 600,
                       "fallback_s": 60, "swinger_limit": 3, "sirens": [f"siren{a}"],
                       "strobes": [f"strobe{a}"]}
        groups[f"beams{a}"] = {"window_s": 60, "siren_on_verify": True}
        groups[f"holdup{a}"] = {"window_s": 120, "siren_on_verify": False}
        groups[f"interior{a}"] = {"window_s": 1800, "siren_on_verify": False}
        for i, (ztype, profile, silent, group) in enumerate(AREA_LAYOUT):
            point = a * 16 + i
            zones.append({
                "name": f"{name}-{ztype}-{i}", "point": point, "type": ztype, "area": name,
                "profile": profile, "invert": ztype == "entry_exit", "silent": silent,
                "groups": [f"{group}{a}"] if group else [], "offline_grace_s": 30,
                "offline_alarm": ztype == "perimeter", "watch_days": 7 if ztype == "interior" else 0,
                "cid": 301 if ztype == "technical" else None, "momentary": False,
            })
    return {"controller": "bench", "profiles": PROFILES, "areas": areas, "groups": groups,
            "zones": zones, "sabotage": {"count": 4, "window_s": 30}, "outputs": outputs}


def _normal_level(point):
    return 1 if 8 <= point % 16 <= 9 else 0     # entry/exit doors are NC (inverted)


def normal_stream(n: int) -> array:
    """Polls of all 64 points every 20 us, levels at rest, with a real edge now and then."""
    buf = array("q", bytes(24 * n))
    t = T0
    active_until = {}
    for i in range(n):
        t += 20 * US
        p = i % 64
        v = _normal_level(p)
        if i % 50_000 == 7:   # about once a second an interior detector sees someone for 1.5 s
            area, k = (i // 50_000) % 4, (i // 1_000_000) % 4
            active_until[area * 16 + 10 + k] = t + 1500 * MS
        if i % 250_000 == 11:  # every 5 s a beam is broken for 300 ms
            active_until[((i // 250_000) % 4) * 16 + 4 + (i // 1_000_000) % 4] = t + 300 * MS
        until = active_until.get(p)
        if until is not None:
            if t < until:
                v = 1
            else:
                del active_until[p]
        buf[3 * i] = t
        buf[3 * i + 1] = p
        buf[3 * i + 2] = v
    return buf


def flood_stream(n: int) -> array:
    """Four beams chattering: an edge every 20 us, each shorter than the debounce."""
    buf = array("q", bytes(24 * n))
    t = T0
    for i in range(n):
        t += 20 * US
        buf[3 * i] = t
        buf[3 * i + 1] = FLOOD_POINTS[i % 4]
        buf[3 * i + 2] = (i // 4) % 2
    return buf


CHANGE_TYPES = ("perimeter", "entry_exit", "interior")


def changes_stream(n: int, site: dict = None) -> array:
    """Intruder zones toggle in turn, 40 ms apart (longer than every debounce of their
    profiles): every sample is accepted after its debounce."""
    site = site or bench_site()
    points = [z["point"] for z in site["zones"] if z["type"] in CHANGE_TYPES]
    level = {p: _normal_level(p) for p in points}
    buf = array("q", bytes(24 * n))
    t = T0
    for i in range(n):
        t += 40 * MS
        p = points[i % len(points)]
        level[p] ^= 1
        buf[3 * i] = t
        buf[3 * i + 1] = p
        buf[3 * i + 2] = level[p]
    return buf


ARMED_STREAMS = ("normal", "flood", "changes_armed")


def armed_engine(mod, site, armed=True):
    e = mod.Engine(site)
    if armed:
        for a in site["areas"]:
            e.command(T0 - S, "arm_away", area=a, user="bench", force=True)
    return e


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_batch(mod, site, buf, armed=True, clock=time.perf_counter):
    e = armed_engine(mod, site, armed)
    start = clock()
    decisions = e.feed_many(buf)
    elapsed = clock() - start
    return len(buf) // 3 / max(elapsed, 1e-9), len(decisions)


def time_single(mod, site, buf, armed=True, clock=time.perf_counter):
    e = armed_engine(mod, site, armed)
    samples = [(buf[i], buf[i + 1], buf[i + 2]) for i in range(0, len(buf), 3)]
    feed = e.feed
    start = clock()
    for t, p, v in samples:
        feed(t, p, v)
    return len(samples) / max(clock() - start, 1e-9)


def measure(build, site, streams, repeats, clock=time.perf_counter):
    mod = load_engine(build)
    result = {}
    for name, buf in streams.items():
        armed = name in ARMED_STREAMS
        runs = [time_batch(mod, site, buf, armed, clock) for _ in range(repeats)]
        result[name] = {
            "batch": statistics.median(r[0] for r in runs),
            "per_sample": statistics.median(time_single(mod, site, buf, armed, clock)
                                            for _ in range(repeats)),
            "samples": len(buf) // 3,
            "decisions": runs[0][1],
        }
    return result


def parse(argv):
    ap = argparse.ArgumentParser(prog="guardroom bench core", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="repeats per figure (median)")
    ap.add_argument("--samples", type=int, default=1_000_000,
                    help="samples per stream for the compiled build (interpreted: a tenth)")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall clock (default) or the process's CPU time (shared machines)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    site = bench_site()
    n = max(args.samples, 1000)
    clock = CLOCKS[args.clock]
    report = {"site": {"zones": len(site["zones"]), "areas": len(site["areas"])},
              "repeats": args.repeats, "clock": args.clock, "builds": {}}
    try:
        load_engine("compiled")
        compiled = True
    except ImportError as exc:
        compiled = False
        report["error"] = str(exc)
    if compiled:
        streams = {"normal": normal_stream(n), "flood": flood_stream(n),
                   "changes": changes_stream(n // 5, site),
                   "changes_armed": changes_stream(n // 5, site)}
        report["builds"]["compiled"] = measure("compiled", site, streams, args.repeats, clock)
    small = max(n // 10, 1000)
    streams = {"normal": normal_stream(small), "flood": flood_stream(small),
               "changes": changes_stream(small // 5, site),
               "changes_armed": changes_stream(small // 5, site)}
    report["builds"]["interpreted"] = measure("interpreted", site, streams,
                                              max(1, min(args.repeats, 3)), clock)
    if compiled:
        c, i = report["builds"]["compiled"], report["builds"]["interpreted"]
        report["ratio_batch"] = {k: c[k]["batch"] / i[k]["batch"] for k in c}
        report["ratio_batch_vs_interpreted_per_sample"] = {
            k: c[k]["batch"] / i[k]["per_sample"] for k in c}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"guardroom core benchmark: {report['site']['zones']} zones, "
              f"{report['site']['areas']} areas, median of {args.repeats} repeats, "
              f"{args.clock} clock")
        for build, res in report["builds"].items():
            for stream, fig in res.items():
                print(f"  {build:11s} {stream:6s}  batch {fig['batch'] / 1e6:9.2f} M samples/s   "
                      f"per-sample {fig['per_sample'] / 1e6:7.2f} M samples/s   "
                      f"({fig['samples']} samples, {fig['decisions']} decisions)")
        if compiled:
            for stream, ratio in report["ratio_batch"].items():
                print(f"  compiled batch / interpreted batch ({stream}): {ratio:.1f}x")
        else:
            print(f"  compiled build not measured: {report['error']}")
    return 0 if compiled else 1


if __name__ == "__main__":
    sys.exit(main())
