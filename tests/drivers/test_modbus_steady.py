"""The Modbus bus thread's steady loop (drivers/modbus/_steady.pyx): a lone polled device
whose answers do not change is polled in C; every other answer, a job and stop hand back to
Python, which finishes the begun transaction. Real pymodbus servers (TCP loopback, RTU over a
null-modem pty); the point is that nothing is lost or reported late by the hand-overs."""
from __future__ import annotations

import os

import pytest

from guardroom.drivers.base import ACTIVE, NORMAL, OFFLINE
from guardroom.drivers.modbus import driver as modbus_driver

from test_modbus import FENCE, IO, rig, rtu_bus, run, tcp_bus

if modbus_driver.STEADY is None and not os.environ.get("GUARDROOM_REQUIRE_COMPILED"):
    pytest.skip("the steady loop is not built (GUARDROOM_NO_CYTHON)", allow_module_level=True)


def _bus(rtu: bool):
    if rtu:   # one read block (8 discrete inputs)
        return (lambda path: [rtu_bus("rs485", path, [{**IO, "offline_after": 2}],
                                      timeout_ms=150)]), ((2, "di8"),), "io-gate"
    # the fence: two read blocks per poll (inputs, then the voltage register)
    return (lambda port: [tcp_bus("lan", port, [{**FENCE, "offline_after": 2}],
                                  timeout_ms=150)]), ((1, "fence"),), "fence-east"


@pytest.mark.parametrize("rtu", [False, True], ids=["tcp", "rtu"])
def test_steady_loop_polls_unchanged_answers_and_hands_back_the_rest(rtu):
    buses, devices, name = _bus(rtu)

    async def scenario():
        async with rig(buses, devices=devices, rtu=rtu) as (emu, drv, pts, s):
            addr = devices[0][0]
            first_pt = pts.id("beam_a" if rtu else "fence_alarm")
            last_pt = pts.id("gate_contact" if rtu else "fence_low")
            await s.until(lambda: s.latest().get(last_pt) == NORMAL, what="first report")
            s.got.clear()
            steady = lambda: drv.stats()[name]["steady_polls"]       # noqa: E731
            await s.until(lambda: steady() >= 10, what="polls in the steady loop")
            st = drv.stats()[name]
            assert st["polls"] == st["good_polls"] >= st["steady_polls"] >= 10
            assert st["failed_polls"] == 0 and st["last_good_age_s"] is not None
            assert s.latest() == {}                         # unchanged: nothing reported

            # a change in the first block, then in the last one (TCP: the second request,
            # after the first answered as usual in C)
            emu.set(addr, "in1" if rtu else "alarm", 1)
            await s.value_of(first_pt, ACTIVE)
            if rtu:
                emu.set(addr, "in8", 1)
            else:
                emu.set(addr, "voltage", 3000)              # below low_voltage_v
            await s.value_of(last_pt, ACTIVE)

            # a coil write wakes the loop, runs between polls, and the loop goes on
            before = steady()
            await drv.set_output("gate_lamp" if rtu else "siren_yard", True)
            assert emu.coil(addr, "relay1" if rtu else "siren")
            await s.until(lambda: steady() >= before + 5, what="steady again after a write")

            # the device dies during steady polling: timeouts in C end in Python's count
            emu.power(addr, False)
            await s.value_of(first_pt, OFFLINE)
            st = drv.stats()[name]
            assert st["online"] is False and st["timeouts"] >= 2
            emu.set(addr, "in1" if rtu else "alarm", 0)
            emu.power(addr, True)
            await s.value_of(first_pt, NORMAL)
            assert drv.stats()[name]["online"] is True
            await s.until(lambda: steady() >= before + 10, what="steady again after recovery")
        # leaving the rig stopped the driver: the steady loop was woken and ended
        assert all(b.thread is None for b in drv._buses.values())
    run(scenario())


def test_stray_rtu_bytes_during_steady_polling_are_survived():
    """Noise on the line while the steady loop polls: the answer differs from the usual one,
    Python finishes the transaction (CRC error or a clean answer), and later changes are
    still reported."""
    buses, devices, name = _bus(True)

    async def scenario():
        async with rig(buses, devices=devices, rtu=True) as (emu, drv, pts, s):
            beam = pts.id("beam_a")
            await s.value_of(beam, NORMAL)
            await s.until(lambda: drv.stats()[name]["steady_polls"] >= 5, what="steady")
            emu.cable.corrupt(2)
            await s.until(lambda: drv.stats()[name]["crc_errors"] >= 2, what="2 CRC errors")
            emu.cable.noise(b"\x00\xff\x13\x37")
            emu.set(2, "in1", 1)
            await s.value_of(beam, ACTIVE)
            assert drv.stats()[name]["online"] is True
    run(scenario())
