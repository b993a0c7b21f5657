"""`guardroom check`: everything the daemon checks at start-up, without opening hardware or
connecting anywhere: the schema, cross-references, driver declarations, the engine's own
site validation. Returns a short human summary or raises ConfigError."""
from __future__ import annotations

from . import config as config_mod
from .assembly import build_drivers
from .errors import ConfigError


def check_config(path: str) -> str:
    from guardroom.core import Engine
    from guardroom.core.errors import SiteError

    from guardroom.drivers.base import SampleBuffer

    cfg = config_mod.load(path)
    asm = build_drivers(cfg, SampleBuffer())
    points, outputs = asm.points, asm.output_kinds()
    config_mod.check_site(cfg, points, outputs, asm.readers)
    try:
        Engine(config_mod.site_for_engine(cfg, points, outputs))
    except SiteError as e:
        raise ConfigError(("zones", str(e))) from None
    kinds = {}
    for z in cfg["zones"]:
        kinds[z["type"]] = kinds.get(z["type"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return (f"{path}: OK\n  site {cfg['site']['name']}, controller {cfg['site']['controller']}\n"
            f"  {len(cfg['areas'])} area(s), {len(cfg['zones'])} zone(s): {summary}\n"
            f"  {len(points)} point(s), {len(outputs)} output(s), drivers: "
            f"{', '.join(cfg['drivers']) or 'none'}\n  {len(cfg['users'])} user(s)")
