"""The engine benchmark runs and reports every figure (tiny sizes: a smoke test)."""
import json

from guardroom.bench import core as bench


def test_bench_reports_every_build_and_stream(capsys):
    rc = bench.main(["--repeats", "1", "--samples", "20000", "--json"])
    report = json.loads(capsys.readouterr().out)
    builds = report["builds"]
    assert "interpreted" in builds
    if rc == 0:
        assert set(builds["compiled"]) == {"normal", "flood"}
        assert report["ratio_batch"]["flood"] > 1
    for figures in builds.values():
        for stream in ("normal", "flood"):
            assert figures[stream]["batch"] > 0 and figures[stream]["per_sample"] > 0
    assert report["site"] == {"zones": 64, "areas": 4}


def test_flood_stream_is_all_glitches():
    """Every flood edge is shorter than the beams' debounce, so the engine decides nothing."""
    buf = bench.flood_stream(4000)
    from guardroom.core import load_engine
    e = bench.armed_engine(load_engine("interpreted"), bench.bench_site())
    assert e.feed_many(buf) == []
    assert e.snapshot()["counters"]["glitches"] > 1900
