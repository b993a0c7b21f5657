"""From the config section and the device profiles to a poll plan: per device, the read
blocks (adjacent addresses of one table merged into one request) and what each raw value
means. Also the cross-field checks of ``[drivers.modbus]`` (one code path for both)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import ModbusConfigError, ProfileError
from .profiles import BIT_TABLES, Profile, load

MAX_BITS, MAX_REGS = 2000, 125          # Modbus limits per read request
GAP_BITS, GAP_REGS = 16, 8              # read across small holes rather than a 2nd request


@dataclass
class Item:
    offset: int                         # index in the block's answer
    profile_point: str
    point_name: str
    mapper: Callable[[int], int]


@dataclass
class Block:
    table: str
    start: int
    count: int
    items: list[Item] = field(default_factory=list)


@dataclass
class DevicePlan:
    name: str
    bus: str
    address: int
    profile: Profile
    poll_ms: int
    offline_after: int
    blocks: list[Block]
    points: dict[str, str]              # point name -> profile point
    outputs: dict[str, tuple[int, str]] # output name -> (coil address, kind)
    chatter: tuple = (8, 1000, 10.0)    # chatter_polls, chatter_sample_ms, chatter_quiet_s


@dataclass
class BusPlan:
    config: dict
    devices: list[DevicePlan]

    @property
    def name(self) -> str:
        return self.config["name"]


def make_blocks(items: list[tuple[str, int, Item]]) -> list[Block]:
    """``(table, address, item)`` -> read blocks (item.offset filled in)."""
    blocks: list[Block] = []
    for table in ("coils", "discrete_inputs", "holding_registers", "input_registers"):
        rows = sorted(((a, it) for t, a, it in items if t == table), key=lambda r: r[0])
        bits = table in BIT_TABLES
        gap, span = (GAP_BITS, MAX_BITS) if bits else (GAP_REGS, MAX_REGS)
        cur: Block | None = None
        for addr, it in rows:
            if cur is not None and addr - (cur.start + cur.count) <= gap \
                    and addr - cur.start < span:
                cur.count = max(cur.count, addr - cur.start + 1)
            else:
                cur = Block(table, addr, 1)
                blocks.append(cur)
            it.offset = addr - cur.start
            cur.items.append(it)
    return blocks


def _plan(section: dict, problems: list) -> list[BusPlan]:
    buses: list[BusPlan] = []
    bus_names: dict[str, str] = {}
    dev_names: dict[str, str] = {}
    out_names: dict[str, str] = {}
    base_dir = section.get("profile_dir") or None
    for b, bus in enumerate(section.get("bus") or []):
        if not isinstance(bus, dict):
            continue
        bkey = f"bus[{b}]"
        name = bus.get("name")
        if name in bus_names:
            problems.append((f"{bkey}.name", f"bus {name!r} is also {bus_names[name]}"))
        bus_names[name] = bkey
        if bus.get("transport") == "rtu" and not bus.get("port"):
            problems.append((f"{bkey}.port", "an rtu bus needs the serial device path"))
        plan = BusPlan(bus, [])
        addresses: dict[int, str] = {}
        for d, dev in enumerate(bus.get("device") or []):
            if not isinstance(dev, dict):
                continue
            dkey = f"{bkey}.device[{d}]"
            dname = dev.get("name")
            if dname in dev_names:
                problems.append((f"{dkey}.name", f"device {dname!r} is also {dev_names[dname]}"))
            dev_names[dname] = dkey
            addr = dev.get("address")
            if addr in addresses:
                problems.append((f"{dkey}.address",
                                 f"address {addr} is also {addresses[addr]} on this bus"))
            addresses[addr] = dkey
            if not isinstance(dev.get("profile"), str):
                continue
            try:
                prof = load(dev["profile"], base_dir)
            except ProfileError as e:
                problems.extend((f"{dkey}.profile", f"{k}: {why}") for k, why in e.problems)
                continue
            params = dev.get("params") or {}
            for p in params:
                if p not in prof.params:
                    problems.append((f"{dkey}.params.{p}",
                                     f"profile {prof.name!r} has no parameter {p!r}; it has: "
                                     f"{', '.join(prof.params) or 'none'}"))
            items, mapped = [], {}
            for pp, pname in (dev.get("points") or {}).items():
                if pp not in prof.points:
                    problems.append((f"{dkey}.points.{pp}",
                                     f"profile {prof.name!r} has no point {pp!r}; it has: "
                                     f"{', '.join(prof.points)}"))
                    continue
                spec = prof.points[pp]
                try:
                    mapper = prof.mapper(pp, {k: v for k, v in params.items()
                                              if k in prof.params})
                except KeyError:
                    continue
                items.append((spec["table"], spec["address"], Item(0, pp, pname, mapper)))
                mapped[pname] = pp
            outs = {}
            for po, oname in (dev.get("outputs") or {}).items():
                if po not in prof.outputs:
                    problems.append((f"{dkey}.outputs.{po}",
                                     f"profile {prof.name!r} has no output {po!r}; it has: "
                                     f"{', '.join(prof.outputs) or 'none'}"))
                    continue
                if oname in out_names:
                    problems.append((f"{dkey}.outputs.{po}",
                                     f"output name {oname!r} is also {out_names[oname]}"))
                    continue
                out_names[oname] = f"{dkey}.outputs.{po}"
                outs[oname] = (prof.outputs[po]["address"], prof.outputs[po]["kind"])
            if not items and not outs:
                problems.append((f"{dkey}.points", "maps no point and no output: nothing to do"))
            plan.devices.append(DevicePlan(
                dname, name, addr, prof, dev.get("poll_ms", 200), dev.get("offline_after", 3),
                make_blocks(items), mapped, outs,
                (dev.get("chatter_polls", 8), dev.get("chatter_sample_ms", 1000),
                 dev.get("chatter_quiet_s", 10.0))))
        buses.append(plan)
    return buses


def plan_problems(section: dict) -> list[tuple[str, str]]:
    problems: list = []
    _plan(section, problems)
    return problems


def build_plan(section: dict, path: str = "drivers.modbus") -> list[BusPlan]:
    problems: list = []
    buses = _plan(section, problems)
    if problems:
        raise ModbusConfigError([(f"{path}.{k}", why) for k, why in problems])
    return buses
