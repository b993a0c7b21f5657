"""Device profiles: which Modbus table and address carries each point and output of a device,
and how a raw value becomes a point value. Profiles are data (``drivers/profiles/*.toml``,
or any TOML file named by path), validated with the config schema library.

    name = "fence"
    [params]                      # defaults a device's config may override
    low_voltage_v = 5000
    [points.voltage]
    table = "input_registers"     # coils / discrete_inputs / holding_registers / input_registers
    address = 0                   # protocol address (0-based, as on the wire)
    map = "below"                 # bit (default) / bands / below / above
    threshold = "low_voltage_v"   # a number or a parameter name
    [outputs.siren]
    address = 0                   # coil
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from guardroom.errors import ConfigError
from guardroom.schema import (Bool, Choice, Field, Int, ListOf, MapOf, Name, Section, Str,
                             read_toml)

from ..base import ACTIVE, FAULT, NORMAL, TAMPER
from .errors import ProfileError

PROFILE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "profiles")
TABLES = ("coils", "discrete_inputs", "holding_registers", "input_registers")
BIT_TABLES = ("coils", "discrete_inputs")
VALUES = {"normal": NORMAL, "active": ACTIVE, "tamper": TAMPER, "fault": FAULT}


class IntOrParam(Field):
    """A whole number, or the name of a profile parameter (resolved per device)."""

    type_name = "number or parameter name"

    def _convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            problems.add(path, f"must be a whole number or a parameter name, not {value!r}")
            return None
        return value


BAND = Section({
    "upto": IntOrParam(doc="highest raw value (inclusive) of this band"),
    "value": Choice(list(VALUES), doc="point value for raw values in this band"),
})

POINT = Section({
    "table": Choice(TABLES, doc="Modbus table"),
    "address": Int(min=0, max=65535, doc="protocol address, 0-based"),
    "map": Choice(["bit", "bands", "below", "above"], default="bit",
                  doc="bit: 0/1 (a register's bit with 'bit'); bands: value by range; "
                      "below/above: ACTIVE when the raw value is below/above 'threshold'"),
    "bit": Int(default=-1, min=-1, max=15, doc="bit of a register for map 'bit' (-1: whole)"),
    "on": Choice(list(VALUES), default="active", doc="value reported when the bit is set"),
    "invert": Bool(default=False, doc="bit map: report 'on' when the bit is clear"),
    "bands": ListOf(BAND, default=list, doc="bands map: first band whose upto >= raw wins"),
    "threshold": IntOrParam(default=None, doc="below/above map: the limit"),
    "rest": Int(default=0, min=0, max=65535, doc="emulator: raw value at power-on"),
    "doc": Str(default=""),
})

OUTPUT = Section({
    "address": Int(min=0, max=65535, doc="coil address, 0-based"),
    "kind": Choice(["siren", "strobe", "buzzer", "relay", "led"], default="relay"),
    "doc": Str(default=""),
})

PROFILE_SCHEMA = Section({
    "name": Name(),
    "description": Str(default=""),
    "params": MapOf(Int(), default=dict),
    "points": MapOf(POINT, min_len=1),
    "outputs": MapOf(OUTPUT, default=dict),
})


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    description: str
    params: dict
    points: dict          # profile point name -> validated point table
    outputs: dict         # profile output name -> validated output table

    def mapper(self, point: str, params: dict) -> Callable[[int], int]:
        """raw value (0/1 for bits, 0-65535 for registers) -> point value."""
        return make_mapper(self.points[point], {**self.params, **params})


def _check_profile(data: dict, source: str) -> list[tuple[str, str]]:
    problems = []
    params = data["params"]

    def ref(v, path):
        if isinstance(v, str) and v not in params:
            problems.append((f"{source}: {path}", f"unknown parameter {v!r}; the profile's "
                             f"[params] has: {', '.join(params) or 'none'}"))

    seen: dict[tuple, str] = {}
    for name, p in data["points"].items():
        path = f"points.{name}"
        if p["map"] == "bands":
            if not p["bands"]:
                problems.append((f"{source}: {path}.bands", "map 'bands' needs bands"))
            for i, b in enumerate(p["bands"]):
                ref(b["upto"], f"{path}.bands[{i}].upto")
        if p["map"] in ("below", "above"):
            if p["threshold"] is None:
                problems.append((f"{source}: {path}.threshold", f"map {p['map']!r} needs it"))
            ref(p["threshold"], f"{path}.threshold")
        if p["table"] in BIT_TABLES and p["map"] != "bit":
            problems.append((f"{source}: {path}.map", f"{p['table']} are bits: use map 'bit'"))
        if p["table"] in BIT_TABLES and p["bit"] >= 0:
            problems.append((f"{source}: {path}.bit", "only for registers"))
        key = (p["table"], p["address"], p["bit"])
        if key in seen:
            problems.append((f"{source}: {path}", f"same register as points.{seen[key]}"))
        seen[key] = name
    coils: dict[int, str] = {}
    for name, o in data["outputs"].items():
        if o["address"] in coils:
            problems.append((f"{source}: outputs.{name}.address",
                             f"coil {o['address']} is also outputs.{coils[o['address']]}"))
        coils[o["address"]] = name
    return problems


def load_file(path: str) -> Profile:
    """Read and validate one profile file; ProfileError names the file and the key."""
    try:
        raw = read_toml(path)
    except ConfigError as e:
        raise ProfileError(e.problems) from None
    try:
        data = PROFILE_SCHEMA.validate(raw, "")
    except ConfigError as e:
        raise ProfileError([(f"{path}: {k}", why) for k, why in e.problems]) from None
    problems = _check_profile(data, path)
    if problems:
        raise ProfileError(problems)
    return Profile(data["name"], path, data["description"], data["params"], data["points"],
                   data["outputs"])


def builtin_names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(PROFILE_DIR) if f.endswith(".toml"))


_cache: dict[str, tuple[float, Profile]] = {}


def load(name_or_path: str, base_dir: str | None = None) -> Profile:
    """A built-in profile by name (``di8``, ``eol4``, ``fence``) or a profile file by path
    (relative paths are taken from ``base_dir``, e.g. the config file's folder)."""
    if os.sep in name_or_path or name_or_path.endswith(".toml"):
        path = name_or_path
        if base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
    else:
        path = os.path.join(PROFILE_DIR, name_or_path + ".toml")
        if not os.path.exists(path):
            raise ProfileError((name_or_path, f"no built-in profile of that name; built-in: "
                                f"{', '.join(builtin_names())}; or give a path to a .toml"))
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = -1.0
    hit = _cache.get(path)
    if hit and hit[0] == mtime:
        return hit[1]
    prof = load_file(path)
    _cache[path] = (mtime, prof)
    return prof


def make_mapper(point: dict, params: dict) -> Callable[[int], int]:
    """Build the raw -> point value function of one profile point with resolved params."""
    def resolve(v):
        return params[v] if isinstance(v, str) else v

    kind = point["map"]
    if kind == "bit":
        on = VALUES[point["on"]]
        bit, invert = point["bit"], point["invert"]

        def bit_map(raw: int) -> int:
            b = (raw >> bit) & 1 if bit >= 0 else int(bool(raw))
            return on if b ^ invert else NORMAL
        return bit_map
    if kind == "bands":
        bands = sorted((resolve(b["upto"]), VALUES[b["value"]]) for b in point["bands"])
        last = bands[-1][1]

        def band_map(raw: int) -> int:
            for upto, value in bands:
                if raw <= upto:
                    return value
            return last
        return band_map
    limit = resolve(point["threshold"])
    if kind == "below":
        return lambda raw: ACTIVE if raw < limit else NORMAL
    return lambda raw: ACTIVE if raw > limit else NORMAL
