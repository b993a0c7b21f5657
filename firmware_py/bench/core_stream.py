"""One engine build, one stream of the core bench, one process: for alternated before/after
runs and for instruction counts under callgrind.

    python -m guardroom.bench.core_stream STREAM N MODE [--repeats R] [--engine PATH]

STREAM: normal, flood, changes or changes_armed (guardroom.bench.core). N samples (the stream
is built once and cached in --cache-dir, so a run does not pay for building it). MODE: ``wall``
or ``cpu`` prints the median samples/s of ``feed_many`` over R fresh engines (and the number
of decisions); ``feed`` feeds the stream once and prints nothing, ``nofeed`` only builds the
engine: under ``valgrind --tool=callgrind`` the difference of the two instruction totals is
the cost of the samples. ``--engine PATH`` loads that compiled engine (``engine.*.so``, for
example a copy of an older build) in place of the built one.
"""
import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import sys
import time
from array import array

from guardroom.bench import core as bc


def load(path):
    if not path:
        from guardroom.core import load_engine
        return load_engine("compiled")
    name = "guardroom.core.engine"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    loader.exec_module(mod)
    return mod


def stream(name, n, site, cache_dir):
    path = os.path.join(cache_dir, f"guardroom-bench-{name}-{n}.bin")
    buf = array("q")
    if os.path.exists(path):
        with open(path, "rb") as f:
            buf.frombytes(f.read())
        return buf
    if name in ("normal", "flood"):
        buf = getattr(bc, name + "_stream")(n)
    else:
        buf = bc.changes_stream(n, site)
    with open(path, "wb") as f:
        f.write(buf.tobytes())
    return buf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m guardroom.bench.core_stream",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("stream", choices=("normal", "flood", "changes", "changes_armed"))
    ap.add_argument("samples", type=int)
    ap.add_argument("mode", choices=("wall", "cpu", "feed", "nofeed"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--engine", default="", help="path of a compiled engine .so to load")
    ap.add_argument("--cache-dir", default="/tmp")
    args = ap.parse_args(argv)
    mod = load(args.engine)
    site = bc.bench_site()
    buf = stream(args.stream, args.samples, site, args.cache_dir)
    armed = args.stream in bc.ARMED_STREAMS
    if args.mode in ("wall", "cpu"):
        clock = time.perf_counter if args.mode == "wall" else time.process_time
        rates = []
        for _ in range(args.repeats):
            e = bc.armed_engine(mod, site, armed)
            start = clock()
            decisions = e.feed_many(buf)
            rates.append(args.samples / max(clock() - start, 1e-9))
        print(f"{statistics.median(rates) / 1e6:.3f} M samples/s  {len(decisions)} decisions")
    else:
        e = bc.armed_engine(mod, site, armed)
        if args.mode == "feed":
            e.feed_many(buf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
