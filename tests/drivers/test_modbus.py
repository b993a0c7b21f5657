"""Modbus driver against the emulator through real pymodbus servers: loopback TCP, and RTU
over a null-modem pty pair that can corrupt frames and be cut. Samples are awaited through
the buffer's wake; counters through a condition checked on every wake (timeouts are only
failure bounds)."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import subprocess
import sys
import time

import pytest

from guardroom.drivers.base import (ACTIVE, FAULT, NORMAL, OFFLINE, TAMPER, PointTable,
                                    SampleBuffer)
from guardroom.drivers.modbus import (CONFIG_SCHEMA, ModbusConfigError, ModbusDriver,
                                      ProfileError, load_profile)
from guardroom.emulators.modbus import ModbusEmulator
from guardroom.errors import ConfigError

BOUND = 20.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


class Samples:
    """Collects samples and events from a SampleBuffer woken into this loop."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.buffer = SampleBuffer(wake=lambda: self.loop.call_soon_threadsafe(self.event.set))
        self.got: list[tuple[int, int, int]] = []
        self.events: list[dict] = []

    def _drain(self):
        flat = self.buffer.drain()
        self.got.extend(zip(flat[0::3], flat[1::3], flat[2::3]))
        self.events.extend(self.buffer.drain_events())

    async def until(self, pred, timeout: float = BOUND, what: str = "condition"):
        """Wait until ``pred()`` is true, re-checking on every wake (and every 20 ms for
        counters that change without a sample)."""
        deadline = self.loop.time() + timeout
        while True:
            self._drain()
            if pred():
                return
            left = deadline - self.loop.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.got[-10:]}")
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), min(left, 0.02))
            except asyncio.TimeoutError:
                pass

    async def value_of(self, pid: int, value: int, what: str = ""):
        """Wait for a sample (pid, value); return it, consuming everything up to it."""
        found = []

        def pred():
            for i, (t, p, v) in enumerate(self.got):
                if p == pid and v == value:
                    found.append((t, p, v))
                    del self.got[:i + 1]
                    return True
            return False
        await self.until(pred, what=what or f"point {pid} = {value}")
        return found[0]

    def latest(self) -> dict[int, int]:
        self._drain()
        out = {}
        for _, p, v in self.got:
            out[p] = v
        return out


def tcp_bus(name, port, devices, **kw):
    return {"name": name, "transport": "tcp", "host": "127.0.0.1", "tcp_port": port,
            "timeout_ms": kw.pop("timeout_ms", 200), "device": devices, **kw}


def rtu_bus(name, path, devices, **kw):
    return {"name": name, "transport": "rtu", "port": path, "baudrate": 115200,
            "timeout_ms": kw.pop("timeout_ms", 200), "device": devices, **kw}


FENCE = {"name": "fence-east", "address": 1, "profile": "fence", "poll_ms": 30,
         "points": {"alarm": "fence_alarm", "tamper": "fence_tamper",
                    "mains_lost": "fence_mains", "voltage": "fence_low"},
         "outputs": {"siren": "siren_yard", "strobe": "strobe_yard"}}
IO = {"name": "io-gate", "address": 2, "profile": "di8", "poll_ms": 30,
      "points": {"in1": "beam_a", "in2": "beam_b", "in8": "gate_contact"},
      "outputs": {"relay1": "gate_lamp"}}
EOL = {"name": "eol-hall", "address": 3, "profile": "eol4", "poll_ms": 30,
       "points": {"loop1": "l1", "loop2": "l2", "loop3": "l3", "loop4": "l4"}}


@contextlib.asynccontextmanager
async def rig(buses_for, devices=((1, "fence"), (2, "di8"), (3, "eol4")), rtu=False):
    """An emulator serving ``devices`` (TCP, or RTU over a null modem) and a started driver
    whose config ``buses_for(where)`` builds from the emulator's address."""
    emu = ModbusEmulator()
    for addr, prof in devices:
        emu.add_device(addr, prof)
    where = await emu.start_rtu() if rtu else (await emu.start_tcp())[1]
    samples = Samples()
    points = PointTable()
    cfg = CONFIG_SCHEMA.validate({"bus": buses_for(where)}, "drivers.modbus")
    drv = ModbusDriver(cfg, points, samples.buffer)
    await drv.start()
    try:
        yield emu, drv, points, samples
    finally:
        await drv.stop()
        await emu.stop()


def test_tcp_initial_report_changes_and_coils():
    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [FENCE, IO])]) as (emu, drv, pts, s):
            names = ["fence_alarm", "fence_tamper", "fence_mains", "fence_low", "beam_a",
                     "beam_b", "gate_contact"]
            ids = {n: pts.id(n) for n in names}
            await s.until(lambda: set(s.latest()) >= set(ids.values()), what="first report")
            assert all(v == NORMAL for v in s.latest().values())
            first = len(s.got)
            # nothing changes -> no more samples, however many polls
            await s.until(lambda: drv.stats()["io-gate"]["good_polls"] >= 5)
            s._drain()
            assert len(s.got) == first
            s.got.clear()

            emu.set(2, "in2", 1)
            await s.value_of(ids["beam_b"], ACTIVE)
            emu.set(2, "in2", 0)
            await s.value_of(ids["beam_b"], NORMAL)
            emu.set(1, "voltage", 3000)                 # below low_voltage_v 5000
            await s.value_of(ids["fence_low"], ACTIVE)
            emu.set(1, "voltage", 9000)
            await s.value_of(ids["fence_low"], NORMAL)
            emu.set(1, "tamper", 1)                     # the profile maps this bit to TAMPER
            await s.value_of(ids["fence_tamper"], TAMPER)
            emu.set(1, "mains_lost", 1)
            await s.value_of(ids["fence_mains"], ACTIVE)
            emu.set(1, "alarm", 1)
            await s.value_of(ids["fence_alarm"], ACTIVE)

            assert drv.outputs() == {"siren_yard": "siren", "strobe_yard": "strobe",
                                     "gate_lamp": "relay"}
            await drv.set_output("siren_yard", True)
            assert emu.coil(1, "siren") and not emu.coil(1, "strobe")
            await drv.set_output("gate_lamp", True)
            assert emu.coil(2, "relay1")
            await drv.set_output("siren_yard", False)
            assert not emu.coil(1, "siren")
            t0 = time.monotonic()
            await drv.pulse_output("strobe_yard", 100)
            assert emu.coil(1, "strobe")
            await s.until(lambda: not emu.coil(1, "strobe"), what="pulse end")
            assert time.monotonic() - t0 >= 0.09
            with pytest.raises(KeyError):
                await drv.set_output("nope", True)
            st = drv.stats()["fence-east"]
            assert st["online"] and st["writes"] == 4 and st["failed_polls"] == 0
            assert drv.status()["buses"][0]["connected"]
    run(scenario())


def test_eol_bands_and_param_override():
    eol_2k2 = {**EOL, "name": "eol-2k2", "address": 4,
               "points": {"loop1": "m1", "loop2": "m2"},
               "params": {"short_max_ohm": 600, "normal_max_ohm": 3300, "alarm_max_ohm": 6600}}

    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [EOL, eol_2k2])],
                       devices=((3, "eol4"), (4, "eol4"))) as (emu, drv, pts, s):
            l = [pts.id(f"l{i}") for i in range(1, 5)]
            await s.until(lambda: all(s.latest().get(p) == NORMAL for p in l))
            for name, ohm in (("loop1", 0), ("loop2", 2000), ("loop3", 65535), ("loop4", 1100)):
                emu.set(3, name, ohm)
            await s.until(lambda: [s.latest().get(p) for p in l] == [FAULT, ACTIVE, TAMPER,
                                                                     NORMAL], what="bands")
            # band edges, inclusive upper limits (400 / 1500 / 3000)
            for ohm, want in ((400, FAULT), (401, NORMAL), (1500, NORMAL), (1501, ACTIVE),
                              (3000, ACTIVE), (3001, TAMPER)):
                emu.set(3, "loop1", ohm)
                await s.until(lambda: s.latest().get(l[0]) == want, what=f"{ohm} ohm")
            # the 2k2 device: 2200 ohm is normal there, 4400 alarm
            m1, m2 = pts.id("m1"), pts.id("m2")
            emu.set(4, "loop1", 2200)
            emu.set(4, "loop2", 4400)
            await s.until(lambda: (s.latest().get(m1), s.latest().get(m2)) == (NORMAL, ACTIVE))
    run(scenario())


def test_power_off_goes_offline_after_n_polls_and_recovers():
    dev = {**IO, "offline_after": 3}

    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [dev], timeout_ms=100,
                                             retry_max_ms=200)]) as (emu, drv, pts, s):
            ids = [pts.id(n) for n in ("beam_a", "beam_b", "gate_contact")]
            await s.until(lambda: all(s.latest().get(p) == NORMAL for p in ids))
            await drv.set_output("gate_lamp", True)
            s.got.clear()
            emu.power(2, False)
            await s.until(lambda: sum(1 for _, p, v in s.got if v == OFFLINE) == 3,
                          what="OFFLINE on every point")
            st = drv.stats()["io-gate"]
            assert st["online"] is False and st["fails_in_row"] == 3
            assert st["timeouts"] == 3 and st["failed_polls"] == 3
            assert {p for _, p, v in s.got} == set(ids)
            note = [e for e in s.events if e["type"] == "notice"]
            assert len(note) == 1 and note[0]["device"] == "io-gate"
            assert "offline" in note[0]["text"]
            # the device "rebooted": its relay lost state, an input changed meanwhile
            emu.set(2, "relay1", 0)
            emu.set(2, "in1", 1)
            s.got.clear()
            emu.power(2, True)
            await s.until(lambda: len({p for _, p, _ in s.got}) == 3, what="re-report")
            assert s.latest() == {ids[0]: ACTIVE, ids[1]: NORMAL, ids[2]: NORMAL}
            await s.until(lambda: any("back online" in e["text"] for e in s.events))
            await s.until(lambda: emu.coil(2, "relay1"), what="relay order re-sent")
            assert drv.stats()["io-gate"]["online"] is True
    run(scenario())


def test_offline_device_is_backed_off_and_never_answering_device_reports_offline():
    ghost = {"name": "ghost", "address": 9, "profile": "di8", "poll_ms": 30,
             "offline_after": 2, "points": {"in1": "ghost_in"}}

    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [IO, ghost], timeout_ms=100,
                                             retry_max_ms=1000)]) as (emu, drv, pts, s):
            await s.value_of(pts.id("ghost_in"), OFFLINE)
            assert "since start" in s.events[0]["text"]
            io0 = drv.stats()["io-gate"]["good_polls"]
            g0 = drv.stats()["ghost"]["polls"]
            await s.until(lambda: drv.stats()["io-gate"]["good_polls"] >= io0 + 60)
            # without back-off the ghost would take one 100 ms timeout per 30 ms poll slot;
            # with it, a handful of probes (period doubling up to 1 s)
            ghost_polls = drv.stats()["ghost"]["polls"] - g0
            assert ghost_polls <= 8, ghost_polls
    run(scenario())


def test_dead_device_does_not_delay_a_live_device_on_another_bus():
    async def scenario():
        emu_dead = ModbusEmulator()
        emu_dead.add_device(1, "fence")
        emu_dead.power(1, False)
        _, dead_port = await emu_dead.start_tcp()
        try:
            async with rig(lambda path: [
                    tcp_bus("dead-bus", dead_port, [{**FENCE, "poll_ms": 20}],
                            timeout_ms=1000, retry_max_ms=1000),
                    rtu_bus("live-bus", path, [IO])],
                    devices=((2, "di8"),), rtu=True) as (emu, drv, pts, s):
                beam = pts.id("beam_a")
                await s.value_of(beam, NORMAL)
                # while the dead bus sits in 1 s timeouts, the live device keeps polling
                d0 = drv.stats()["fence-east"]["timeouts"]
                n0 = drv.stats()["io-gate"]["good_polls"]
                await s.until(lambda: drv.stats()["fence-east"]["timeouts"] >= d0 + 2,
                              what="two dead timeouts")
                assert drv.stats()["io-gate"]["good_polls"] - n0 >= 10
                # and an input change is reported while the dead bus is waiting
                emu.set(2, "in1", 1)
                t_dead = drv.stats()["fence-east"]["timeouts"]
                await s.value_of(beam, ACTIVE)
                assert drv.stats()["fence-east"]["timeouts"] <= t_dead + 1
        finally:
            await emu_dead.stop()
    run(scenario())


def test_rtu_corrupted_frames_are_counted_and_survived():
    dev = {**IO, "offline_after": 5}

    async def scenario():
        async with rig(lambda path: [rtu_bus("rs485", path, [dev], timeout_ms=300)],
                       devices=((2, "di8"),), rtu=True) as (emu, drv, pts, s):
            beam = pts.id("beam_a")
            await s.value_of(beam, NORMAL)
            emu.cable.corrupt(3)
            await s.until(lambda: drv.stats()["io-gate"]["crc_errors"] >= 3, what="3 CRC")
            st = drv.stats()["io-gate"]
            assert st["crc_errors"] == 3 and st["timeouts"] == 0 and st["online"] is True
            assert "CRC" in st["last_error"]
            assert emu.cable.stats["frames_corrupted"] == 3
            emu.set(2, "in1", 1)
            await s.value_of(beam, ACTIVE)
            # garbage on the line between frames is survived too
            emu.cable.noise(b"\x00\xff\x13\x37")
            emu.set(2, "in1", 0)
            await s.value_of(beam, NORMAL)
            # every frame corrupted: the device is unreachable -> OFFLINE after 5
            emu.cable.corrupt(True)
            await s.value_of(beam, OFFLINE)
            assert drv.stats()["io-gate"]["crc_errors"] >= 5
            emu.cable.corrupt(False)
            await s.value_of(beam, NORMAL)
            # a cut cable: timeouts, then OFFLINE; mended: back
            emu.cable.cut(True)
            await s.value_of(beam, OFFLINE)
            emu.cable.cut(False)
            await s.value_of(beam, NORMAL)
            assert drv.stats()["io-gate"]["timeouts"] >= 5
            await drv.set_output("gate_lamp", True)
            assert emu.coil(2, "relay1")
    run(scenario())


def test_exception_responses_are_counted():
    dev = {**IO, "offline_after": 4}

    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [dev])]) as (emu, drv, pts, s):
            beam = pts.id("beam_a")
            await s.value_of(beam, NORMAL)
            emu.exceptions(2, 4)               # slave device failure
            await s.value_of(beam, OFFLINE)
            st = drv.stats()["io-gate"]
            assert st["exceptions"] == 4 and st["timeouts"] == 0
            assert "exception response 4" in st["last_error"]
            with pytest.raises(Exception, match="exception response 4"):
                await drv.set_output("gate_lamp", True)
            emu.exceptions(2, 0)
            await s.value_of(beam, NORMAL)
            await s.until(lambda: emu.coil(2, "relay1"), what="refused order re-sent")
    run(scenario())


def test_scan_finds_the_emulated_addresses():
    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [IO])],
                       devices=((2, "di8"), (5, "eol4"), (9, "fence"))) as (emu, drv, pts, s):
            found = await drv.scan("lan", 1, 12, timeout_ms=60)
            assert found == [2, 5, 9]
            emu.power(5, False)
            assert await drv.scan("lan", 4, 6, timeout_ms=60) == []
            with pytest.raises(KeyError):
                await drv.scan("nope")
            with pytest.raises(ValueError):
                await drv.scan("lan", 0, 300)
            assert drv.stats()["io-gate"]["online"] is True

    async def rtu_scenario():
        async with rig(lambda path: [rtu_bus("rs485", path, [IO])],
                       devices=((2, "di8"), (7, "fence")), rtu=True) as (emu, drv, pts, s):
            assert await drv.scan("rs485", 1, 10, timeout_ms=60) == [2, 7]
    run(scenario())
    run(rtu_scenario())


def test_custom_profile_file_with_register_bits(tmp_path):
    (tmp_path / "panel.toml").write_text('''
name = "panel"
description = "status word in holding register 10"
[points.door]
table = "holding_registers"
address = 10
bit = 3
[points.lid]
table = "holding_registers"
address = 10
bit = 4
on = "tamper"
[points.temp_high]
table = "holding_registers"
address = 12
map = "above"
threshold = 60
rest = 20
''')
    dev = {"name": "panel", "address": 1, "profile": "panel.toml", "poll_ms": 30,
           "points": {"door": "door", "lid": "lid", "temp_high": "hot"}}

    async def scenario():
        emu = ModbusEmulator()
        emu.add_device(1, str(tmp_path / "panel.toml"))
        _, port = await emu.start_tcp()
        s = Samples()
        pts = PointTable()
        drv = ModbusDriver({"profile_dir": str(tmp_path), "bus": [tcp_bus("lan", port, [dev])]},
                           pts, s.buffer)
        await drv.start()
        try:
            await s.until(lambda: len(s.latest()) == 3)
            emu.set(1, "lid", 1)
            await s.value_of(pts.id("lid"), TAMPER)
            assert emu.get(1, "hr:10") == 1 << 4
            emu.set(1, "temp_high", 61)
            await s.value_of(pts.id("hot"), ACTIVE)
            assert s.latest().get(pts.id("door"), NORMAL) == NORMAL
        finally:
            await drv.stop()
            await emu.stop()
    run(scenario())


def bad(mutate):
    cfg = copy.deepcopy({"bus": [{"name": "rs485", "transport": "rtu", "port": "/dev/ttyUSB0",
                                  "device": [IO, EOL]}]})
    mutate(cfg)
    return cfg


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["bus"][0]["device"][0]["points"].update(in9="x"),
     "drivers.modbus.bus[0].device[0].points.in9"),
    (lambda c: c["bus"][0]["device"][1].update(params={"short_ohm": 1}),
     "drivers.modbus.bus[0].device[1].params.short_ohm"),
    (lambda c: c["bus"][0]["device"][1].update(address=2),
     "drivers.modbus.bus[0].device[1].address: address 2 is also bus[0].device[0]"),
    (lambda c: c["bus"][0]["device"][1].update(name="io-gate"),
     "drivers.modbus.bus[0].device[1].name"),
    (lambda c: c["bus"][0].update(port=""), "drivers.modbus.bus[0].port"),
    (lambda c: c["bus"][0]["device"][0].update(profile="di16"), "drivers.modbus.bus[0].device[0].profile"),
    (lambda c: c["bus"][0]["device"][0].update(address=248),
     "drivers.modbus.bus[0].device[0].address"),
    (lambda c: c["bus"][0]["device"][0].update(poll="1s"),
     "drivers.modbus.bus[0].device[0].poll"),
    (lambda c: c["bus"][0].update(transport="udp"), "drivers.modbus.bus[0].transport"),
    (lambda c: c["bus"][0]["device"][0]["outputs"].update(relay9="x"),
     "drivers.modbus.bus[0].device[0].outputs.relay9"),
])
def test_bad_config_names_the_key(mutate, key):
    cfg = bad(mutate)
    with pytest.raises(ConfigError) as e1:
        CONFIG_SCHEMA.validate(cfg, "drivers.modbus")
    assert key in str(e1.value)
    with pytest.raises(ModbusConfigError) as e2:
        ModbusDriver(cfg, PointTable(), SampleBuffer())
    assert key in str(e2.value)


def test_point_claimed_twice_is_a_config_error():
    pts = PointTable()
    pts.register("beam_b", owner="gpio")
    with pytest.raises(ModbusConfigError, match=r"device\[0\]\.points\.in2"):
        ModbusDriver(bad(lambda c: None), pts, SampleBuffer())


def test_bad_profile_files_name_file_and_key(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text('name = "x"\n[points.a]\ntable = "coils"\nadress = 1\n')
    with pytest.raises(ProfileError) as e:
        load_profile(str(p))
    assert f"{p}: points.a.adress" in str(e.value) and "did you mean 'address'" in str(e.value)
    p.write_text('name = "x"\n[points.a]\ntable = "input_registers"\naddress = 0\n'
                 'map = "below"\nthreshold = "nope"\n')
    with pytest.raises(ProfileError, match="unknown parameter 'nope'"):
        load_profile(str(p))
    p.write_text('name = "x"\n[points.a\n')
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(str(p))
    with pytest.raises(ProfileError, match="built-in: di8, eol4, fence"):
        load_profile("di16")


def test_emulator_text_control_and_cli():
    emu = ModbusEmulator()
    emu.add_device(1, "fence")
    assert emu.execute("set voltage 3000") == "ok 1 voltage 3000"
    assert emu.execute("get 1 voltage") == "ok 1 voltage 3000"
    assert emu.execute("power off") == "ok 1 power off"
    assert emu.execute("exception 4") == "ok 1 exception 4"
    assert emu.execute("set nope 1").startswith("err")
    assert emu.execute("corrupt on").startswith("err no RTU cable")
    assert "power=off" in emu.execute("show")

    # the CLI as a process: serves TCP, reads control lines from stdin
    proc = subprocess.Popen([sys.executable, "-m", "guardroom.emulators.modbus",
                             "--profile", "di8", "--address", "3", "--tcp", "127.0.0.1:0",
                             "--exit-on-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "tcp"
        port = int(first[1].rsplit(":", 1)[1])
        while "ready" not in proc.stdout.readline():
            pass

        async def scenario():
            s, pts = Samples(), PointTable()
            drv = ModbusDriver({"bus": [tcp_bus("lan", port, [{**IO, "address": 3}])]}, pts,
                               s.buffer)
            await drv.start()
            try:
                await s.value_of(pts.id("beam_a"), NORMAL)
                proc.stdin.write("set in1 1\n")
                proc.stdin.flush()
                assert (await asyncio.to_thread(proc.stdout.readline)).startswith("ok 3 in1 1")
                await s.value_of(pts.id("beam_a"), ACTIVE)
            finally:
                await drv.stop()
        run(scenario())
        proc.stdin.close()
        assert proc.wait(timeout=BOUND) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_point_flipping_on_every_poll_is_chatter_then_restores():
    dev = {**IO, "poll_ms": 30, "chatter_polls": 4, "chatter_sample_ms": 150,
           "chatter_quiet_s": 0.5}

    async def scenario():
        async with rig(lambda port: [tcp_bus("lan", port, [dev])]) as (emu, drv, pts, s):
            beam, other = pts.id("beam_a"), pts.id("beam_b")
            await s.value_of(beam, NORMAL)
            # the beam flips every 21 ms (polls every 30 ms see a change nearly every time)
            level = 0
            for _ in range(70):
                level ^= 1
                emu.set(2, "in1", level)
                await asyncio.sleep(0.021)
            await s.until(lambda: any(e.get("type") == "chatter" and e["active"]
                                      for e in s.events), what="chatter notice")
            ev = next(e for e in s.events if e.get("type") == "chatter")
            assert ev["driver"] == "modbus" and ev["point"] == "beam_a"
            st = drv.point_stats()["beam_a"]
            assert st["chatter"] and st["held_back"] >= 1 and st["episodes"] == 1
            # far fewer samples than changes reached the buffer
            s._drain()
            sent = [v for _, p, v in s.got if p == beam]
            assert len(sent) < st["changes"] / 2, (len(sent), st)
            # the beam settles on the other level than the last one reported: its value is
            # still followed (sampled) ...
            settle = NORMAL if sent and sent[-1] == ACTIVE else ACTIVE
            emu.set(2, "in1", 1 if settle == ACTIVE else 0)
            await s.value_of(beam, settle)
            # another point of the device is followed at once meanwhile
            emu.set(2, "in2", 1)
            await s.value_of(other, ACTIVE)
            # ... and once quiet the trouble restores and each change is reported again
            await s.until(lambda: any(e.get("type") == "chatter" and not e["active"]
                                      for e in s.events), what="chatter restore")
            assert not drv.point_stats()["beam_a"]["chatter"]
            emu.set(2, "in1", 0 if settle == ACTIVE else 1)
            await s.value_of(beam, ACTIVE + NORMAL - settle)
    run(scenario())
