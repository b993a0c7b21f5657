"""GPIO driver with the mock pin factory, driven through its real control channel socket by
the emulator client (guardroom.emulators.gpio). No sleeps as synchronisation: samples are
awaited through the buffer's wake, pin levels through the channel's ``wait``."""
from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time

import pytest

from guardroom.drivers.base import ACTIVE, NORMAL, PointTable, SampleBuffer
from guardroom.drivers.gpio import (CONFIG_SCHEMA, ControlError, GpioBackendUnavailable,
                                    GpioConfigError, GpioDriver)
from guardroom.emulators import gpio as gpio_emu
from guardroom.emulators.gpio import GpioEmulator
from guardroom.errors import ConfigError

BOUND = 20.0  # generous failure bound (s), never a timing expectation


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Samples:
    """A SampleBuffer whose wake sets an asyncio event; ``take(n)`` awaits n samples."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.buffer = SampleBuffer(wake=lambda: self.loop.call_soon_threadsafe(self.event.set))
        self.got: list[tuple[int, int, int]] = []

    def _drain(self):
        flat = self.buffer.drain()
        self.got.extend(zip(flat[0::3], flat[1::3], flat[2::3]))

    async def take(self, n: int, timeout: float = BOUND) -> list[tuple[int, int, int]]:
        async def fill():
            while True:
                self._drain()
                if len(self.got) >= n:
                    return
                self.event.clear()
                self._drain()
                if len(self.got) >= n:
                    return
                await self.event.wait()
        await asyncio.wait_for(fill(), timeout)
        out, self.got = self.got[:n], self.got[n:]
        return out

    def pending(self) -> int:
        self._drain()
        return len(self.got)


def config(**kw):
    cfg = {
        "factory": "mock",
        "input": [
            {"point": "panic_reception", "pin": 17, "pull": "up", "active": "low"},
            {"point": "beam_north", "pin": 22, "pull": "up", "active": "high"},   # NC contact
            {"point": "panic_vault", "pin": 5, "pull": "none", "active": "low"},  # ext. pull-up
            {"point": "door", "pin": 6, "pull": "down"},                          # auto -> high
        ],
        "output": [
            {"name": "siren_main", "pin": 27, "kind": "siren"},
            {"name": "strobe", "pin": 24, "kind": "strobe", "active": "low"},
        ],
    }
    cfg.update(kw)
    return cfg


@contextlib.asynccontextmanager
async def site(cfg=None):
    points = PointTable()
    samples = Samples()
    drv = GpioDriver(CONFIG_SCHEMA.validate(cfg or config(), "drivers.gpio"), points,
                     samples.buffer)
    await drv.start()
    emu = await asyncio.to_thread(GpioEmulator, drv.control_address)
    try:
        yield drv, points, samples, emu
    finally:
        emu.close()
        await drv.stop()


def test_initial_report_press_release_and_inversion():
    async def scenario():
        async with site() as (drv, points, samples, emu):
            first = await samples.take(4)
            assert {(p, v) for _, p, v in first} == {(points.id(n), NORMAL) for n in
                                                    ("panic_reception", "beam_north",
                                                     "panic_vault", "door")}
            pid = points.id("panic_reception")
            assert await asyncio.to_thread(emu.press, 17) == 0        # active low
            (t1, p, v), = await samples.take(1)
            assert (p, v) == (pid, ACTIVE)
            assert await asyncio.to_thread(emu.release, 17) == 1
            (t2, p, v), = await samples.take(1)
            assert (p, v) == (pid, NORMAL) and t2 >= t1

            # normally-closed beam relay with pull-up: ACTIVE is the HIGH level
            assert await asyncio.to_thread(emu.press, 22) == 1
            assert (await samples.take(1))[0][1:] == (points.id("beam_north"), ACTIVE)
            # pull "down", active auto -> high
            assert await asyncio.to_thread(emu.press, 6) == 1
            assert (await samples.take(1))[0][1:] == (points.id("door"), ACTIVE)
            # pull none: the emulated contact started at rest (high), press -> low
            assert await asyncio.to_thread(emu.read, 5) == 1
            assert await asyncio.to_thread(emu.press, 5) == 0
            assert (await samples.take(1))[0][1:] == (points.id("panic_vault"), ACTIVE)
            # pressing an already pressed button is no edge
            await asyncio.to_thread(emu.press, 5)
            await asyncio.to_thread(emu.release, 5)
            assert (await samples.take(1))[0][1:] == (points.id("panic_vault"), NORMAL)
            assert samples.pending() == 0
            st = drv.status()
            assert st["factory"] == "mock" and st["control"] == drv.control_address
            beam = next(i for i in st["inputs"] if i["point"] == "beam_north")
            assert beam["level"] == 1 and beam["value"] == ACTIVE
    run(scenario())


def test_pulse_input_gives_both_edges():
    async def scenario():
        async with site() as (drv, points, samples, emu):
            await samples.take(4)
            await asyncio.to_thread(emu.pulse, 17, 30)
            (ta, _, va), (tb, _, vb) = await samples.take(2)
            assert (va, vb) == (ACTIVE, NORMAL)
            assert tb - ta >= 25_000_000      # held at least (about) 30 ms
    run(scenario())


def test_outputs_visible_through_read_and_wait():
    async def scenario():
        async with site() as (drv, points, samples, emu):
            assert drv.outputs() == {"siren_main": "siren", "strobe": "strobe"}
            assert await asyncio.to_thread(emu.read, 27) == 0
            assert await asyncio.to_thread(emu.read, 24) == 1          # active low, off
            waiter = asyncio.create_task(asyncio.to_thread(emu.wait, 27, "active", 10_000))
            await drv.set_output("siren_main", True)
            assert await waiter is True
            assert await asyncio.to_thread(emu.is_active, 27)
            await drv.set_output("strobe", True)
            assert await asyncio.to_thread(emu.read, 24) == 0
            assert await asyncio.to_thread(emu.wait, 24, 0, 1000)
            await drv.set_output("siren_main", False)
            assert await asyncio.to_thread(emu.wait, 27, "rest", 10_000)
            # a wait that cannot be satisfied answers "timeout", not an error
            assert await asyncio.to_thread(emu.wait, 27, 1, 50) is False
            st = {o["name"]: o for o in drv.status()["outputs"]}
            assert st["strobe"]["on"] and not st["siren_main"]["on"]
            with pytest.raises(KeyError):
                await drv.set_output("nope", True)
    run(scenario())


def test_pulse_output_is_an_asyncio_timer():
    async def scenario():
        async with site() as (drv, points, samples, emu):
            t0 = time.monotonic()
            await drv.pulse_output("siren_main", 150)
            assert time.monotonic() - t0 < 0.1         # returned at once, did not sleep
            assert await asyncio.to_thread(emu.read, 27) == 1
            assert drv.status()["outputs"][0]["pulsing"]
            assert await asyncio.to_thread(emu.wait, 27, 0, 10_000)
            assert time.monotonic() - t0 >= 0.14
            # set_output cancels a running pulse: the siren stays on
            await drv.pulse_output("siren_main", 50)
            await drv.set_output("siren_main", True)
            assert await asyncio.to_thread(emu.wait, 27, 0, 300) is False
            assert await asyncio.to_thread(emu.read, 27) == 1
    run(scenario())


def test_burst_delivers_every_edge_in_order():
    async def scenario():
        # the chatter guard off: every edge of a flood reaches the buffer, in order
        async with site(config(chatter_rate=0)) as (drv, points, samples, emu):
            await samples.take(4)
            pid = points.id("panic_reception")
            n = 20_000
            result = await asyncio.to_thread(emu.burst, 17, n, 0)
            assert result["count"] == n and result["rate"] > 0
            got = await samples.take(n)
            assert all(p == pid for _, p, _ in got)
            assert [v for _, _, v in got] == [ACTIVE, NORMAL] * (n // 2)
            ts = [t for t, _, _ in got]
            assert ts == sorted(ts)
            assert samples.pending() == 0
            assert await asyncio.to_thread(emu.read, 17) == 1            # even count: at rest
            print(f"\nburst flat out: {result['rate']:.0f} edges/s through the driver")
            # a bouncing contact: 7 edges 200 us apart, odd -> ends pressed
            r = await asyncio.to_thread(emu.burst, 17, 7, 200)
            got = await samples.take(7)
            assert [v for _, _, v in got] == [1, 0, 1, 0, 1, 0, 1]
            assert r["seconds"] >= 6 * 200e-6
            assert drv.status()["inputs"][0]["value"] == ACTIVE
    run(scenario())


def test_control_errors_are_answers_not_crashes():
    async def scenario():
        async with site() as (drv, points, samples, emu):
            for line, why in [("press 27", "output"), ("press 3", "not configured"),
                              ("press x", "not a pin"), ("burst 17 0 10", "out of range"),
                              ("wait 27 maybe 10", "LEVEL"), ("frobnicate", "unknown command"),
                              ("press", "usage")]:
                with pytest.raises(ControlError, match=why):
                    await asyncio.to_thread(emu.command, line)
            assert "press PIN" in await asyncio.to_thread(emu.command, "help")
            pins = await asyncio.to_thread(emu.pins)
            assert {p["pin"]: p["role"] for p in pins} == {5: "in", 6: "in", 17: "in",
                                                          22: "in", 24: "out", 27: "out"}
    run(scenario())


def test_unix_socket_control_file_and_cli(tmp_path, capsys):
    sock, addr_file = tmp_path / "gpio.sock", tmp_path / "gpio.addr"

    async def scenario():
        cfg = config(control=f"unix:{sock}", control_file=str(addr_file))
        async with site(cfg) as (drv, points, samples, emu):
            await samples.take(4)
            assert addr_file.read_text().strip() == f"unix:{sock}"
            assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
            rc = await asyncio.to_thread(gpio_emu.main, ["--control-file", str(addr_file),
                                                         "press", "17"])
            assert rc == 0
            assert (await samples.take(1))[0][2] == ACTIVE
            rc = await asyncio.to_thread(gpio_emu.main, ["--control", f"unix:{sock}",
                                                         "press", "24"])
            assert rc == 1
        assert not sock.exists()          # removed on stop

    run(scenario())
    out = capsys.readouterr().out
    assert "ok 17 0 active" in out and "err pin 24 is an output" in out


def test_stop_is_idempotent_and_closes_the_channel():
    async def scenario():
        points, samples = PointTable(), Samples()
        drv = GpioDriver(config(), points, samples.buffer)
        await drv.start()
        addr = drv.control_address
        await drv.stop()
        await drv.stop()
        with pytest.raises(OSError):
            GpioEmulator(addr, timeout=2)
    run(scenario())


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["input"][0].update(pin=28), "drivers.gpio.input[0].pin"),
    (lambda c: c["input"][1].update(pin=17), "drivers.gpio.input[1].pin: GPIO17 is already used"),
    (lambda c: c["output"][0].update(pin=22), "drivers.gpio.output[0].pin: GPIO22 is already used"),
    (lambda c: c["input"][2].update(active="auto"), "drivers.gpio.input[2].active"),
    (lambda c: c["input"][0].update(pul="up"), "drivers.gpio.input[0].pul"),
    (lambda c: c.update(factory="pigpio"), "drivers.gpio.factory"),
    (lambda c: c.update(control="localhost"), "drivers.gpio.control"),
    (lambda c: c["output"][0].update(kind="horn"), "drivers.gpio.output[0].kind"),
    (lambda c: c["output"][1].update(name="siren_main"), "drivers.gpio.output[1].name: name 'siren_main'"),
])
def test_bad_config_names_the_key(mutate, key):
    cfg = config()
    mutate(cfg)
    with pytest.raises(ConfigError) as e1:
        CONFIG_SCHEMA.validate(cfg, "drivers.gpio")
    assert key in str(e1.value)
    with pytest.raises(GpioConfigError) as e2:       # the driver checks too
        GpioDriver(cfg, PointTable(), SampleBuffer())
    assert key in str(e2.value)


def test_point_claimed_twice_is_a_config_error():
    points = PointTable()
    points.register("panic_reception", owner="modbus")
    with pytest.raises(GpioConfigError, match=r"input\[0\].point"):
        GpioDriver(config(), points, SampleBuffer())


def test_unavailable_factory_is_a_clear_error():
    async def scenario():
        drv = GpioDriver(config(factory="rpigpio"), PointTable(), SampleBuffer())
        with pytest.raises(GpioBackendUnavailable, match="rpigpio"):
            await drv.start()
        assert drv.status()["started"] is False
    try:
        import RPi.GPIO  # noqa: F401
        pytest.skip("RPi.GPIO is installed here")
    except (ImportError, RuntimeError):
        pass
    run(scenario())


# ------------------------------------------------------------------------- chatter guard
async def _chatter_event(samples: Samples, active: bool, timeout: float = BOUND) -> dict:
    """Await the driver's chatter notice (the daemon turns it into a CID 380 trouble)."""
    async def find():
        while True:
            samples.event.clear()
            for ev in samples.buffer.drain_events():
                if ev.get("type") == "chatter" and ev["active"] is active:
                    return ev
            samples._drain()
            await samples.event.wait()
    return await asyncio.wait_for(find(), timeout)


def test_chatter_guard_stops_edges_follows_level_and_restores():
    async def scenario():
        cfg = config(chatter_rate=200, chatter_window_ms=100, chatter_sample_ms=20,
                     chatter_quiet_s=0.5)
        async with site(cfg) as (drv, points, samples, emu):
            await samples.take(4)
            pid = points.id("panic_reception")
            # 20 001 edges 20 us apart (50 k edges/s for 0.4 s), odd: ends pressed
            n = 20_001
            result = await asyncio.to_thread(emu.burst, 17, n, 20)
            assert result["count"] == n
            ev = await _chatter_event(samples, True)
            assert ev["point"] == "panic_reception" and ev["driver"] == "gpio"
            assert "chattering" in ev["text"]
            # edges stopped being delivered: the handler heard about as many as the limit
            # (plus those in flight until the loop detached the pin), not 20 001
            assert result["heard"] < 2_000, result
            # ... and the level is still followed: the sampler reports the final level
            got = await samples.take(1) if not samples.pending() else []
            deadline = time.monotonic() + BOUND
            while not any(p == pid and v == ACTIVE for _, p, v in got[-1:]):
                got += await samples.take(1, timeout=max(0.1, deadline - time.monotonic()))
            delivered = [s for s in got if s[1] == pid]
            assert len(delivered) < 2_000
            st = next(i for i in drv.status()["inputs"] if i["point"] == "panic_reception")
            assert st["chatter"] and st["value"] == ACTIVE
            assert st["edges"] >= result["heard"] and st["held_back"] >= 0
            stats = drv.point_stats()["panic_reception"]
            assert stats["chatter"] and stats["episodes"] == 1
            # a change while chattering is followed by sampling (no edge callback)
            await asyncio.to_thread(emu.release, 17)
            while True:
                (t, p, v), = await samples.take(1)
                if p == pid and v == NORMAL:
                    break
            assert drv.point_stats()["panic_reception"]["samples"] >= 1
            # quiet: the trouble restores and edges are followed one by one again
            ev = await _chatter_event(samples, False)
            assert ev["point"] == "panic_reception" and ev["episodes"] == 1
            assert not drv.point_stats()["panic_reception"]["chatter"]
            samples.pending()
            samples.got.clear()
            await asyncio.to_thread(emu.press, 17)
            assert (await samples.take(1))[0][1:] == (pid, ACTIVE)
            await asyncio.to_thread(emu.release, 17)
            assert (await samples.take(1))[0][1:] == (pid, NORMAL)
            # a bouncing contact (7 edges) is far under the limit: every edge passes
            r = await asyncio.to_thread(emu.burst, 17, 7, 200)
            assert r["heard"] == 7
            assert [v for _, _, v in await samples.take(7)] == [1, 0, 1, 0, 1, 0, 1]
    run(scenario())


def test_chatter_on_one_input_leaves_the_others_alone():
    async def scenario():
        cfg = config(chatter_quiet_s=30)
        async with site(cfg) as (drv, points, samples, emu):
            await samples.take(4)
            flood = asyncio.create_task(asyncio.to_thread(emu.burst, 17, 50_000, 20))
            await _chatter_event(samples, True)
            emu2 = await asyncio.to_thread(GpioEmulator, drv.control_address)
            try:
                await asyncio.to_thread(emu2.press, 22)
                while True:
                    (t, p, v), = await samples.take(1)
                    if p == points.id("beam_north"):
                        assert v == ACTIVE
                        break
            finally:
                emu2.close()
            assert (await flood)["heard"] < 5_000
            st = {i["point"]: i for i in drv.status()["inputs"]}
            assert st["panic_reception"]["chatter"] and not st["beam_north"]["chatter"]
    run(scenario())
