"""The engine benchmark runs and reports every figure (tiny sizes: a smoke test)."""
import json

from guardroom.bench import core as bench


def test_bench_reports_every_build_and_stream(capsys):
    rc = bench.main(["--repeats", "1", "--samples", "20000", "--json"])
    report = json.loads(capsys.readouterr().out)
    builds = report["builds"]
    assert "interpreted" in builds
    if rc == 0:
        assert set(builds["compiled"]) == {"normal", "flood", "changes", "changes_armed"}
        assert report["ratio_batch"]["flood"] > 1
    for figures in builds.values():
        for stream in ("normal", "flood", "changes", "changes_armed"):
            assert figures[stream]["batch"] > 0 and figures[stream]["per_sample"] > 0
    assert report["site"] == {"zones": 64, "areas": 4}


def test_bench_can_time_with_the_cpu_clock(capsys):
    bench.main(["--repeats", "1", "--samples", "5000", "--json", "--clock", "cpu"])
    report = json.loads(capsys.readouterr().out)
    assert report["clock"] == "cpu"
    assert all(f["batch"] > 0 for f in report["builds"]["interpreted"].values())


def test_flood_stream_is_all_glitches():
    """Every flood edge is shorter than the beams' debounce, so the engine decides nothing."""
    buf = bench.flood_stream(4000)
    from guardroom.core import load_engine
    e = bench.armed_engine(load_engine("interpreted"), bench.bench_site())
    assert e.feed_many(buf) == []
    assert e.snapshot()["counters"]["glitches"] > 1900


def test_changes_stream_changes_a_zone_with_every_sample():
    """Every sample of the changes stream is accepted after its debounce: on a disarmed site
    each ends in a zone decision (pulse-counted PIRs: every second activation)."""
    from guardroom.core import load_engine
    site = bench.bench_site()
    buf = bench.changes_stream(4000, site)
    e = bench.armed_engine(load_engine("interpreted"), site, armed=False)
    ds = e.feed_many(buf)
    zones = [d for d in ds if d.kind == "zone"]
    assert len(zones) >= 0.8 * 4000 and e.snapshot()["counters"]["glitches"] == 0


def test_core_stream_times_one_build_on_one_stream(capsys, tmp_path):
    from guardroom.bench import core_stream
    assert core_stream.main(["changes", "2000", "cpu", "--repeats", "1",
                             "--cache-dir", str(tmp_path)]) == 0
    rate, unit, _, decisions, _ = capsys.readouterr().out.split()
    assert float(rate) > 0 and unit == "M" and int(decisions) > 1000
    assert core_stream.main(["changes", "2000", "nofeed", "--cache-dir", str(tmp_path)]) == 0
    assert len(list(tmp_path.iterdir())) == 1          # the stream was built once
