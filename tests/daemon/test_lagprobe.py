"""The loop-lag probe: runs only while its owner is busy, reports the worst lateness of its
timer once per episode (a callback that blocks the loop shows up), then stops by itself."""
import asyncio
import time

from guardroom.lagprobe import LagProbe


def test_probe_sees_a_blocked_loop_and_stops_when_idle():
    async def main():
        loop = asyncio.get_running_loop()
        busy = [True]
        done = loop.create_future()
        probe = LagProbe(loop, lambda: busy[0],
                         lambda lag, turn, secs: done.set_result((lag, turn, secs)))
        assert not probe.running
        probe.kick()
        probe.kick()                         # one episode at a time
        assert probe.running and probe.episodes == 1
        await asyncio.sleep(0.03)
        time.sleep(0.15)                     # the stimulus: a callback blocking the loop
        probe.turn(0.15)
        busy[0] = False
        lag, turn, secs = await asyncio.wait_for(done, 10)
        assert lag >= 100 and probe.max_ms == lag
        assert turn == probe.turn_max_ms == 150.0
        assert secs >= 0.15 and not probe.running
        probe.turn(1.0)                      # between episodes: not counted
        assert probe.turn_max_ms == 150.0
    asyncio.run(main())
