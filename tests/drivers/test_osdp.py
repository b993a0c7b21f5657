"""OSDP driver against libosdp readers on a real pty: libosdp on both ends, the driver opening
the pty's slave path through pyserial exactly as it opens an RS-485 adapter.

Events travel on libosdp's poll cycle (tens of ms, seconds for a handshake or a timeout):
every wait is on a condition (a sample, an event, the emulator's command log) with a generous
bound that only matters when something is broken."""
from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from guardroom.drivers.base import ACTIVE, NORMAL, OFFLINE, PointTable, SampleBuffer
from guardroom.drivers.osdp import CONFIG_SCHEMA, OsdpDriver
from guardroom.drivers.osdp.credentials import (CardFormatError, PinCollector, card_value,
                                                h10301_bits)
from guardroom.errors import ConfigError

BOUND = 20.0  # failure bound (s), never a timing expectation
OFFLINE_BOUND = 30.0  # libosdp gives up on a silent reader after ~8 s of probes


def run(coro, timeout: float = 90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def reader_cfg(key: bytes | None, **kw) -> dict:
    cfg = {"name": "front", "address": 101, "scbk": key.hex() if key else "",
           "inputs": ["door_front", "rex_front", "", "spare_front"],
           "door_input": 0, "rex_input": 1, "tamper_point": "front_tamper",
           "power_point": "front_power", "online_point": "front_offline",
           "forced_point": "front_forced", "held_point": "front_held",
           "held_s": 30, "grant_ms": 5000, "strike_output": 0}
    cfg.update(kw)
    return cfg


def config(path: str, *readers: dict, **port) -> dict:
    raw = {"port": [dict({"name": "doors", "device": path, "reconnect_s": 1.0,
                          "reader": list(readers)}, **port)]}
    return CONFIG_SCHEMA.validate(raw, "drivers.osdp")


class Rig:
    """The driver under test with a real SampleBuffer; samples and events by point name."""

    def __init__(self, cfg: dict):
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.points = PointTable()
        self.sink = SampleBuffer(wake=lambda: self.loop.call_soon_threadsafe(self.wake.set))
        self.driver = OsdpDriver(cfg, self.points, self.sink)
        self.samples: list[tuple[int, str, int]] = []
        self.events: list[dict] = []
        self.level: dict[str, int] = {}

    def _drain(self) -> None:
        flat = self.sink.drain()
        for t, p, v in zip(flat[0::3], flat[1::3], flat[2::3]):
            name = self.points.name_of(p)
            self.samples.append((t, name, v))
            self.level[name] = v
        self.events.extend(self.sink.drain_events())

    async def until(self, predicate, timeout: float = BOUND, what: str = "") -> None:
        async def loop():
            while True:
                self.wake.clear()
                self._drain()
                if predicate():
                    return
                # woken by a sample or event; re-checked now and then for status() predicates
                try:
                    await asyncio.wait_for(self.wake.wait(), 0.1)
                except asyncio.TimeoutError:
                    pass
        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what or predicate}; samples "
                                 f"{self.samples[-12:]}, events {self.events[-5:]}") from None

    async def level_is(self, name: str, value: int, timeout: float = BOUND) -> None:
        await self.until(lambda: self.level.get(name) == value, timeout,
                         f"{name} == {value}")

    def values_of(self, name: str) -> list[int]:
        self._drain()
        return [v for _, n, v in self.samples if n == name]

    def credentials(self) -> list[dict]:
        self._drain()
        return [e for e in self.events if e.get("type") == "credential"]

    async def __aenter__(self):
        await self.driver.start()
        return self

    async def __aexit__(self, *exc):
        await self.driver.stop()


async def wait_emu(reader, predicate, timeout: float = BOUND) -> None:
    ok = await asyncio.to_thread(reader.wait_for, predicate, timeout)
    assert ok, f"emulated reader never saw it: {reader.status()}"


def online_rig(osdp_bus, key, **kw):
    bus = osdp_bus()
    emu = bus.add_reader(101, scbk=key)
    bus.start()
    return bus, emu, config(bus.path, reader_cfg(key, **kw))


# -- secure channel ------------------------------------------------------------------------
def test_secure_channel_comes_up_and_is_reported(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            rig._drain()  # start() reports every point OFFLINE, the link point ACTIVE
            assert rig.level["front_offline"] == ACTIVE
            assert rig.level["door_front"] == OFFLINE
            await rig.level_is("front_offline", NORMAL)
            await rig.level_is("door_front", NORMAL)
            for p in ("rex_front", "spare_front", "front_tamper", "front_power",
                      "front_forced", "front_held"):
                assert rig.level[p] == NORMAL, p
            st = rig.driver.status()["readers"]["front"]
            assert st["online"] and st["secure_channel"] and st["mode"] == "secure"
            assert emu.sc_active
            notices = [e["text"] for e in rig.events if e["type"] == "notice"]
            assert any("secure channel active" in t for t in notices)
            assert not any(osdp_key.hex() in repr(e) for e in rig.events)
    run(main())


def test_wrong_key_never_brings_the_reader_online(osdp_bus, osdp_key):
    bus = osdp_bus()
    bus.add_reader(101, scbk=bytes(b ^ 0x5A for b in osdp_key))
    bus.start()
    cfg = config(bus.path, reader_cfg(osdp_key))

    async def main():
        async with Rig(cfg) as rig:
            # Retries are every reconnect_s (1 s): wait for several handshakes to fail.
            await rig.until(lambda: rig.driver.status()["readers"]["front"]["reconnects"] >= 3,
                            what="three reconnect attempts")
            assert NORMAL not in rig.values_of("front_offline")
            assert set(rig.values_of("door_front")) == {OFFLINE}
            assert not rig.driver.status()["readers"]["front"]["online"]
    run(main())


def test_insecure_reader_only_when_said_so(osdp_bus):
    bus = osdp_bus()
    bus.add_reader(101, scbk=None, secure=False)
    bus.start()
    cfg = config(bus.path, reader_cfg(None, insecure=True))

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            st = rig.driver.status()["readers"]["front"]
            assert st["online"] and not st["secure_channel"] and st["mode"] == "insecure"
    run(main())


def test_install_mode_gives_the_reader_its_key(osdp_bus, osdp_key):
    bus = osdp_bus()
    emu = bus.add_reader(101, scbk=None)  # fresh from the factory
    bus.start()

    async def main():
        async with Rig(config(bus.path, reader_cfg(osdp_key, install_mode=True))) as rig:
            await rig.level_is("front_offline", NORMAL)
            await wait_emu(emu, lambda: emu.keysets >= 1)
            assert rig.driver.status()["readers"]["front"]["mode"] == "install"
        # commissioning done: the same key, install mode off, secure channel enforced
        async with Rig(config(bus.path, reader_cfg(osdp_key))) as rig:
            await rig.level_is("front_offline", NORMAL)
            assert rig.driver.status()["readers"]["front"]["secure_channel"]
    run(main())


# -- door, inputs, local status ------------------------------------------------------------
def test_door_open_without_grant_is_forced(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("door_front", NORMAL)
            emu.door(True)
            await rig.level_is("door_front", ACTIVE)
            await rig.level_is("front_forced", ACTIVE)
            emu.door(False)
            await rig.level_is("door_front", NORMAL)
            await rig.level_is("front_forced", NORMAL)
            assert rig.values_of("front_held") == [OFFLINE, NORMAL]
            assert rig.driver.status()["readers"]["front"]["counts"]["forced"] == 1
    run(main())


def test_rex_grants_the_next_opening(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("door_front", NORMAL)
            await asyncio.to_thread(emu.rex)
            await rig.until(lambda: rig.values_of("rex_front")[-2:] == [ACTIVE, NORMAL],
                            what="REX press and release")
            emu.door(True)
            await rig.level_is("door_front", ACTIVE)
            emu.door(False)
            await rig.level_is("door_front", NORMAL)
            assert ACTIVE not in rig.values_of("front_forced")
            # the grant was used up: the next opening is forced again
            emu.door(True)
            await rig.level_is("front_forced", ACTIVE)
    run(main())


def test_granted_door_held_open_too_long(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key, held_s=0.3)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("door_front", NORMAL)
            assert await rig.driver.grant("front") is True
            await wait_emu(emu, lambda: emu.output_pulses[0] == 1)
            emu.door(True)
            await rig.level_is("door_front", ACTIVE)
            await rig.level_is("front_held", ACTIVE)
            opened = next(t for t, n, v in rig.samples if n == "door_front" and v == ACTIVE)
            held = next(t for t, n, v in rig.samples if n == "front_held" and v == ACTIVE)
            assert held - opened >= 0.3e9  # never before held_s
            emu.door(False)
            await rig.level_is("front_held", NORMAL)
            assert ACTIVE not in rig.values_of("front_forced")
    run(main())


def test_tamper_and_power_local_status(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_tamper", NORMAL)
            emu.set_tamper(True)
            await rig.level_is("front_tamper", ACTIVE)
            emu.set_power_lost(True)
            await rig.level_is("front_power", ACTIVE)
            emu.set_tamper(False)
            emu.set_power_lost(False)
            await rig.level_is("front_tamper", NORMAL)
            await rig.level_is("front_power", NORMAL)
            emu.set_input(3, True)
            await rig.level_is("spare_front", ACTIVE)
    run(main())


# -- credentials ---------------------------------------------------------------------------
def test_card_and_keypad_pin_become_credentials(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key, pin_timeout_s=0.5)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            emu.card(12345678)
            emu.keys("99*")       # cleared
            emu.keys("4321#")     # one PIN, sent at '#'
            emu.keys("77")        # no '#': sent after pin_timeout_s
            await rig.until(lambda: len(rig.credentials()) >= 3, what="three credentials")
            creds = [(c["reader"], c["kind"], c["value"]) for c in rig.credentials()]
            assert creds == [("front", "card", "12345678"), ("front", "pin", "4321"),
                             ("front", "pin", "77")]
            assert all(isinstance(c["t_ns"], int) for c in rig.credentials())
    run(main())


def test_h10301_cards_are_decoded_with_parity(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key, card_format="h10301")

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            emu.card(h10301_bits(123, 4567), bits=26)
            emu.card(h10301_bits(123, 4567) ^ 1, bits=26)  # parity broken: dropped
            emu.card(h10301_bits(7, 8), bits=26)
            await rig.until(lambda: len(rig.credentials()) >= 2)
            assert [c["value"] for c in rig.credentials()] == ["123:4567", "7:8"]
            assert rig.driver.status()["readers"]["front"]["counts"]["card_errors"] == 1
    run(main())


def test_card_value_and_pin_collector_units():
    assert card_value(bytes([0x01, 0x02, 0x03, 0xC0]), 26) == str(0x01020300 >> 6 | 3)
    assert card_value(b"\xff", 8) == "255"
    with pytest.raises(CardFormatError):
        card_value(b"\x01", 26)
    with pytest.raises(CardFormatError):
        card_value(b"\x00\x00\x00\x00", 32, "h10301")
    pins = PinCollector(5)
    assert pins.feed(b"12", 10) == []
    assert pins.feed(b"3\x0d", 20) == [(10, "123")]      # 0x0D is '#' on a real keypad
    assert pins.feed(b"45\x7f6#", 30) == [(30, "6")]      # 0x7F is '*': clears
    assert pins.feed(b"9" * 20, 40) == [] and pins.overflows == 1
    pins.clear()
    assert pins.expire() is None


# -- outputs -------------------------------------------------------------------------------
def test_led_buzzer_and_strike_reach_the_reader(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            assert rig.driver.outputs() == {"front.led": "led", "front.buzzer": "buzzer",
                                            "front.strike": "relay"}
            await rig.driver.set_output("front.led", True)
            await wait_emu(emu, lambda: emu.led["color"] == "red")
            await rig.driver.pulse_output("front.buzzer", 300)
            await wait_emu(emu, lambda: (emu.buzzer["last"] or {}).get("on_ms") == 300)
            await rig.driver.set_output("front.strike", True)
            await wait_emu(emu, lambda: emu.outputs[0] == 1)
            await rig.driver.set_output("front.strike", False)
            await wait_emu(emu, lambda: emu.outputs[0] == 0)
            await rig.driver.set_output("front.led", False)
            await wait_emu(emu, lambda: emu.led["color"] == "off")
            with pytest.raises(KeyError):
                await rig.driver.set_output("front.siren", True)
            with pytest.raises(KeyError):
                await rig.driver.grant("back")
    run(main())


# -- link loss, line noise, several readers ------------------------------------------------
def test_reader_offline_then_back(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            await rig.driver.set_output("front.led", True)
            await wait_emu(emu, lambda: emu.led["color"] == "red")
            emu.set_offline(True)
            await rig.level_is("front_offline", ACTIVE, OFFLINE_BOUND)
            for p in ("door_front", "rex_front", "front_tamper", "front_forced"):
                assert rig.level[p] == OFFLINE, p
            emu.led["color"] = "off"  # the reader rebooted and forgot
            emu.door(True)            # opened while nobody listened
            emu.set_offline(False)
            await rig.level_is("front_offline", NORMAL, OFFLINE_BOUND)
            await rig.level_is("door_front", ACTIVE)   # its state is reported on return
            await rig.level_is("front_forced", ACTIVE)
            await wait_emu(emu, lambda: emu.led["color"] == "red")  # LED state re-applied
            st = rig.driver.status()["readers"]["front"]
            assert st["counts"]["went_offline"] == 1 and st["counts"]["came_online"] == 2
    run(main())


def test_line_noise_is_survived(osdp_bus, osdp_key):
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            online_at = len(rig.samples)
            for i in range(6):
                bus.noise(97)
                emu.door(i % 2 == 0)
                await rig.level_is("door_front", ACTIVE if i % 2 == 0 else NORMAL,
                                   OFFLINE_BOUND)
            emu.card(42)
            await rig.until(lambda: [c["value"] for c in rig.credentials()] == ["42"],
                            OFFLINE_BOUND)
            assert rig.driver.status()["readers"]["front"]["online"]
            # polls lost to noise are not an outage: no point ever reported OFFLINE
            assert not [x for x in rig.samples[online_at:] if x[2] == OFFLINE], rig.samples
    run(main())


def test_two_readers_on_one_bus(osdp_bus, osdp_key):
    bus = osdp_bus()
    front = bus.add_reader(101, scbk=osdp_key)
    back = bus.add_reader(7, scbk=osdp_key[::-1])
    bus.start()
    cfg = config(bus.path, reader_cfg(osdp_key),
                 {"name": "back", "address": 7, "scbk": osdp_key[::-1].hex(),
                  "inputs": ["door_back"], "door_input": 0, "online_point": "back_offline"})

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            await rig.level_is("back_offline", NORMAL)
            back.door(True)
            await rig.level_is("door_back", ACTIVE)
            front.card(1)
            back.card(2)
            await rig.until(lambda: len(rig.credentials()) == 2)
            assert sorted((c["reader"], c["value"]) for c in rig.credentials()) == \
                [("back", "2"), ("front", "1")]
            assert rig.level["door_front"] == NORMAL
    run(main())


def test_missing_serial_port_is_retried_not_fatal(tmp_path, osdp_key):
    cfg = config(str(tmp_path / "ttyUSB9"), reader_cfg(osdp_key))

    async def main():
        async with Rig(cfg) as rig:
            await rig.until(lambda: any("cannot be opened" in e.get("text", "")
                                        for e in rig.events))
            st = rig.driver.status()
            assert st["ports"]["doors"]["serial"]["io_errors"] >= 1
            assert rig.level["front_offline"] == ACTIVE
            assert await rig.driver.grant("front") is False  # offline: nothing to pulse
    run(main())


# -- config --------------------------------------------------------------------------------
def _problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as ei:
        CONFIG_SCHEMA.validate(raw, "drivers.osdp")
    return dict(ei.value.problems)


def test_bad_config_names_the_key():
    base = {"name": "doors", "device": "/dev/ttyUSB1"}
    p = _problems({"port": [dict(base, reader=[
        {"name": "a", "address": 101, "scbk": "00" * 15},
        {"name": "b", "address": 101, "scbk": "zz" * 16},
        {"name": "c", "address": 5},
        {"name": "d", "address": 6, "scbk": "11" * 16, "insecure": True},
        {"name": "e", "address": 8, "scbk": "22" * 16, "inputs": ["x"], "door_input": 2},
        {"name": "f", "address": 9, "install_mode": True},
    ])]})
    assert "exactly 32 hex digits" in p["drivers.osdp.port[0].reader[0].scbk"]
    assert "already used" in p["drivers.osdp.port[0].reader[1].address"]
    assert "hexadecimal" in p["drivers.osdp.port[0].reader[1].scbk"]
    assert "secure channel" in p["drivers.osdp.port[0].reader[2].scbk"]
    assert "insecure = true" in p["drivers.osdp.port[0].reader[2].scbk"]
    assert "cannot be combined" in p["drivers.osdp.port[0].reader[3].insecure"]
    assert "not in inputs" in p["drivers.osdp.port[0].reader[4].door_input"]
    assert "install_mode needs" in p["drivers.osdp.port[0].reader[5].scbk"]
    # no secret in any message
    assert not any("00" * 15 in why for why in p.values())
    p = _problems({"port": [dict(base, reader=[{"name": "a", "address": 1, "scbk": "00" * 16}]),
                            dict(base, reader=[{"name": "a", "address": 1, "scbk": "00" * 16}],
                                 baudrate=4800)]})
    assert "already used" in p["drivers.osdp.port[1].device"]
    assert "already used" in p["drivers.osdp.port[1].name"]
    assert "already used" in p["drivers.osdp.port[1].reader[0].name"]
    assert "4800" in p["drivers.osdp.port[1].baudrate"]


def test_duplicate_point_across_drivers_is_refused(osdp_key):
    from guardroom.drivers.errors import DriverConfigError

    points = PointTable()
    points.register("door_front", "gpio")
    with pytest.raises(DriverConfigError):
        OsdpDriver(config("/dev/null", reader_cfg(osdp_key)), points, SampleBuffer())


# -- the emulator's command line -----------------------------------------------------------
def test_emulator_cli_drives_a_reader(osdp_key):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "guardroom.emulators.osdp", "--address", "101",
                                           "--scbk", osdp_key.hex()], timeout=BOUND,
                          encoding="utf-8")
    try:
        child.expect(r"(/dev/pts/\d+)")
        path = child.match.group(1)

        async def main():
            async with Rig(config(path, reader_cfg(osdp_key))) as rig:
                await rig.level_is("front_offline", NORMAL)
                child.sendline("door open")
                await rig.level_is("front_forced", ACTIVE)
                child.sendline("keys 2468#")
                await rig.until(lambda: [c["value"] for c in rig.credentials()] == ["2468"])
                await rig.driver.set_output("front.led", True)
                # poll the CLI's status until the LED command has arrived
                deadline = time.monotonic() + BOUND
                while True:
                    child.sendline("status")
                    i = await asyncio.to_thread(child.expect,
                                                [r"led: \{'color': 'red'", r"commands: \d+"])
                    if i == 0:
                        break
                    assert time.monotonic() < deadline, "LED never reached the emulator"
                    await asyncio.sleep(0.2)  # pacing of the poll, not synchronisation
                child.sendline("bogus")
                await asyncio.to_thread(child.expect, "unknown command")
        run(main())
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_chattering_reader_input_is_held_back_and_restores(osdp_bus, osdp_key):
    bus = osdp_bus()
    emu = bus.add_reader(101, scbk=osdp_key)
    bus.start()
    cfg = config(bus.path, reader_cfg(osdp_key), chatter_changes=4, chatter_window_ms=1000,
                 chatter_sample_ms=200, chatter_quiet_s=0.5)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("spare_front", NORMAL)
            level = False
            for _ in range(30):              # a change on about every poll for ~2 s
                level = not level
                emu.set_input(3, level)
                await asyncio.sleep(0.07)
            await rig.until(lambda: any(e.get("type") == "chatter" and e["active"]
                                        for e in rig.events), what="chatter notice")
            ev = next(e for e in rig.events if e.get("type") == "chatter")
            assert ev["driver"] == "osdp" and ev["point"] == "spare_front"
            st = rig.driver.point_stats()["spare_front"]
            assert st["chatter"] and st["held_back"] >= 1
            # accounted for: what reached the buffer is the changes let through plus the
            # samples (plus the initial OFFLINE / first level); the rest is counted held back
            delivered = len(rig.values_of("spare_front"))
            st = rig.driver.point_stats()["spare_front"]
            assert delivered <= 2 + st["changes"] - st["held_back"] + st["samples"], st
            # the level is still followed: it settles ACTIVE and is reported
            emu.set_input(3, True)
            await rig.level_is("spare_front", ACTIVE)
            await rig.until(lambda: any(e.get("type") == "chatter" and not e["active"]
                                        for e in rig.events), what="chatter restore")
            assert not rig.driver.point_stats()["spare_front"]["chatter"]
            emu.set_input(3, False)
            await rig.level_is("spare_front", NORMAL)
    run(main())


# -- the bus thread's schedule (drivers/osdp/bus.py) ----------------------------------------
def test_idle_online_reader_costs_two_wakeups_per_poll(osdp_bus, osdp_key):
    """While the reader is online and idle the thread wakes to send a POLL and when the reply
    is readable, nothing in between (the old fixed 50 ms tick woke four times per POLL)."""
    bus, emu, cfg = online_rig(osdp_bus, osdp_key)

    async def main():
        async with Rig(cfg) as rig:
            await rig.level_is("front_offline", NORMAL)
            osdp_bus_ = rig.driver._buses["doors"]
            ch = rig.driver._channels["doors"]
            await rig.until(lambda: osdp_bus_._all_online)
            w0, f0 = osdp_bus_.wakeups, ch.writes
            await rig.until(lambda: ch.writes - f0 >= 10, what="10 POLLs")
            wakeups, frames = osdp_bus_.wakeups - w0, ch.writes - f0
            assert wakeups <= 2 * frames + 2, (wakeups, frames)
            # still polled: an input change arrives, a command goes out at once
            emu.door(True)
            await rig.level_is("door_front", ACTIVE)
            await rig.driver.set_output("front.led", True)
            await wait_emu(emu, lambda: emu.led["color"] == "red")
    run(main())

