"""A press that comes while a burst of edges is being fed to the engine slice by slice is
decided at once (never left asleep in the sample buffer) and reaches the platform ahead of
the burst's backlog.

The sample buffer wakes the loop only when it goes from empty to not empty. While the loop
works through an older burst (a slice per turn, yielding between slices) it does not drain
the buffer, so the wake-up of a sample put meanwhile is used up by a slice turn; a loop that
then slept on its timers alone left that sample (a panic press) in the buffer until some
unrelated timer fired, or for ever. The daemon runs in-process here (its own loop thread,
the real GPIO mock factory, the emulated site and a real Mosquitto) so the press can be put
exactly between two slices: the loop is held while the burst is played onto the wire, and
the press is made from the loop thread as soon as the first slice has been fed.
"""
from __future__ import annotations

import asyncio
import os
import threading

import tomlkit

from guardroom.config import load
from guardroom.daemon import Daemon
from guardroom.emulators.gpio import GpioEmulator
from guardroom.emulators.site import EmulatedSite
from guardroom.outbox import alarm_class

BOUND = 30.0
FLOOD_PIN, PANIC_PIN = 27, 17          # examples/school.toml: panic_office, panic_reception
EDGES = 6500        # several loop turns' worth: the press lands between two of them


def _patch(doc) -> None:
    profile = tomlkit.inline_table()
    profile.update({"active_ms": 50, "restore_ms": 20})
    doc.setdefault("profiles", tomlkit.table())["panic"] = profile
    for z in doc["zones"]:
        if z["name"] == "panic_office":        # the flooded input: a zero-debounce trouble
            z["type"], z["profile"], z["cid"] = "technical", "polled", 300
    doc["drivers"]["gpio"]["chatter_rate"] = 0  # every edge of the burst reaches the engine
    doc["storage"]["outbox_max_mib"] = 0


class _LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="daemon-loop")
        self.thread.start()

    def run(self, coro, timeout: float = BOUND):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        async def _c():
            return fn(*args)
        return self.run(_c())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(BOUND)
        self.loop.close()


def test_press_between_two_slices_of_a_burst_is_decided_and_sent_first(tmp_path):
    with EmulatedSite(workdir=str(tmp_path / "site"), patch=_patch, daemon=False) as site:
        lt = _LoopThread()
        daemon = Daemon(load(site.config_path), site.config_path)
        lt.run(daemon.start())
        try:
            _press_during_burst(site, lt, daemon)
        finally:
            lt.run(daemon.stop())
            lt.close()


def _press_during_burst(site, lt: _LoopThread, daemon: Daemon) -> None:
    p = site.platform
    p.wait_until(lambda: p.states, BOUND)
    site.gpio = GpioEmulator.from_file(os.path.join(site.workdir, "gpio.addr"))
    presser = GpioEmulator.from_file(os.path.join(site.workdir, "gpio.addr"))
    try:
        # The broker goes away first: the burst's events wait in the outbox, so what the
        # platform receives when it returns shows the send order.
        site.stop_broker()
        gone = threading.Event()
        lt.call(lambda: _when(lt.loop, lambda: not daemon.relay_status().get("connected"),
                              gone.set))
        assert gone.wait(BOUND)
        decided, burst_done, flood = threading.Event(), threading.Event(), [0]

        def watch(d):       # in the loop thread, for every decision
            if d.get("kind") == "alarm" and d.get("zone") == "panic_reception":
                decided.set()
            elif d.get("kind") == "zone" and d.get("zone") == "panic_office":
                flood[0] += 1
                if flood[0] == EDGES:
                    burst_done.set()
        lt.call(daemon.subscribe, watch)

        # Hold the loop while the whole burst is played onto the wire: it waits in the
        # sample buffer and is then fed in slices, one per loop turn.
        held, release = threading.Event(), threading.Event()
        lt.loop.call_soon_threadsafe(lambda: (held.set(), release.wait(BOUND)))
        assert held.wait(BOUND)
        base = daemon.counters["samples"]
        played = site.gpio.burst(FLOOD_PIN, EDGES, 0)
        assert played["heard"] == EDGES
        seen = {}

        def press_between_slices():
            if daemon.counters["samples"] < base + EDGES:     # the burst not taken yet
                lt.loop.call_soon(press_between_slices)
                return
            seen["rest"] = daemon._feed_rest is not None      # part of it still to feed
            presser.press(PANIC_PIN)                          # from the loop thread
            seen["pressed"] = True

        lt.loop.call_soon_threadsafe(press_between_slices)
        release.set()
        assert burst_done.wait(BOUND), f"{flood[0]} of {EDGES} edges decided"
        # The press came after the burst's edges: fed right after the last slice, decided
        # after its 50 ms debounce. (The old loop went to sleep with it in the buffer until
        # some unrelated timer fired, seconds later, or never.)
        assert decided.wait(5), \
            "the press put between two slices of a burst was not fed after the burst"
        assert seen.get("pressed") and seen["rest"], seen    # the case under test

        last = max((e["seq"] for e in p.events), default=0)
        site.start_broker()
        panic = p.wait_for(lambda e: e.get("seq", 0) > last and e["kind"] == "alarm"
                           and e["zone"] == "panic_reception", BOUND)
        after = [e for e in p.events if e.get("seq", 0) > last]
        ahead = [e for e in after[:after.index(panic)] if not alarm_class(e)]
        assert not ahead, f"{len(ahead)} backlog events reached the platform before the panic"
        # and the whole burst follows, nothing lost
        issued = panic["seq"]
        p.wait_until(lambda: len({e["seq"] for e in p.events
                                  if last < e.get("seq", 0) <= issued}) >= issued - last,
                     BOUND * 4)
        assert not p.gaps
    finally:
        presser.close()


def _when(loop, cond, then, every: float = 0.05) -> None:
    """Call ``then()`` in the loop once ``cond()`` holds (checked every ``every`` s)."""
    if cond():
        then()
    else:
        loop.call_later(every, _when, loop, cond, then, every)
