"""Building the drivers of a config: each learns its points and outputs from its own section
without opening hardware (that happens in ``start()``). Shared by the daemon and `check`."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError


@dataclass
class Assembly:
    drivers: dict = field(default_factory=dict)     # kind -> Driver
    points: object = None                           # PointTable
    outputs: dict = field(default_factory=dict)     # output name -> (driver, kind)
    readers: set = field(default_factory=set)       # OSDP reader names

    def output_kinds(self) -> dict:
        return {n: k for n, (_, k) in self.outputs.items()}


def build_drivers(cfg: dict, sink) -> Assembly:
    from guardroom.drivers import registry
    from guardroom.drivers.base import PointTable
    from guardroom.drivers.errors import DriverError

    asm = Assembly(points=PointTable())
    problems = []
    for kind, section in cfg["drivers"].items():
        try:
            drv = registry.create(kind, section, asm.points, sink)
        except (DriverError, ValueError) as e:
            if isinstance(e, ConfigError) and e.problems:
                problems += list(e.problems)      # each with its key path (and its msgid)
            else:
                problems.append((f"drivers.{kind}", str(e)))
            continue
        asm.drivers[kind] = drv
        for name, okind in drv.outputs().items():
            if name in asm.outputs:
                problems.append((f"drivers.{kind}", f"output {name!r} is declared twice"))
            asm.outputs[name] = (drv, okind)
    if problems:
        raise ConfigError(problems)
    for port in (cfg["drivers"].get("osdp") or {}).get("port", []) or []:
        for r in port.get("reader", []) or []:
            asm.readers.add(r["name"])
    return asm
