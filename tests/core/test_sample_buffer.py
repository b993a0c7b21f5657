"""The time contract and the overflow rule at the sample buffer between the drivers and the
engine (issue 11, "Wrong decisions today" 5 and 7). What the buffer hands over is fed to both
engine builds.
"""
from guardroom.drivers.base import SampleBuffer

from engine_rig import MS, S

PANIC = {"name": "Till panic", "point": 0, "type": "panic"}
BEAMS = [{"name": f"Beam {i}", "point": i, "type": "perimeter"} for i in range(1, 5)]
T0 = 1000 * S


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_overflow_never_loses_a_panic_press_to_another_points_flood(mk):
    clock = Clock(T0)
    buf = SampleBuffer(limit=30, clock=clock)            # room for 10 samples
    buf.put(T0, 0, 1)                                    # the panic press
    for i in range(1, 200):                              # then four beams chatter
        buf.put(T0 + i * MS, 1 + i % 4, i % 2)
    assert buf.dropped > 0 and len(buf) <= 10
    drained = buf.drain()
    samples = [tuple(drained[i:i + 3]) for i in range(0, len(drained), 3)]
    assert samples[0] == (T0, 0, 1)
    times = [s[0] for s in samples]
    assert times == sorted(times)                        # order kept
    for p in range(1, 5):                                # every beam ends at its real level
        last = [s for s in samples if s[1] == p][-1]
        assert last[2] == max(i for i in range(1, 200) if 1 + i % 4 == p) % 2
    r = mk([PANIC] + BEAMS)
    ds = r.e.feed_many(drained)
    assert [d.zone for d in r.of(ds, "alarm")] == ["Till panic"]


def test_overflow_keeps_a_press_and_its_release(mk):
    clock = Clock(T0)
    buf = SampleBuffer(limit=30, clock=clock)
    buf.put(T0, 0, 1)
    buf.put(T0 + 5 * MS, 0, 0)
    for i in range(1, 100):
        buf.put(T0 + (10 + i) * MS, 1, i % 2)
    drained = buf.drain()
    panic = [tuple(drained[i:i + 3]) for i in range(0, len(drained), 3) if drained[i + 1] == 0]
    assert panic == [(T0, 0, 1), (T0 + 5 * MS, 0, 0)]


def test_a_sample_stamped_far_from_the_clock_is_refused_and_reported_once(mk):
    clock = Clock(T0)
    woken = []
    buf = SampleBuffer(wake=lambda: woken.append(1), clock=clock)
    wall = 1_764_000_000 * S
    buf.put(wall, 0, 1)
    buf.put(wall + 1, 0, 0)
    buf.put(T0 - 3600 * S, 0, 1)
    assert buf.refused == 3 and len(buf) == 0
    notices = buf.drain_events()
    assert len(notices) == 1 and notices[0]["type"] == "notice"
    assert "refused" in notices[0]["text"]
    buf.put(T0, 0, 1)
    r = mk([PANIC])
    assert r.of(r.e.feed_many(buf.drain(), now_ns=T0), "alarm")
