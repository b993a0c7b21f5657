"""Driver backends by config name, imported lazily so that a site without OSDP never imports
libosdp. Each driver module exposes ``CONFIG_SCHEMA`` (a ``guardroom.schema.Section``) and a
``Driver`` subclass; the daemon's config has one section per kind: ``[drivers.<kind>]``."""
from __future__ import annotations

import importlib

# kind -> "module:Class" ; the module also defines CONFIG_SCHEMA
DRIVERS = {
    "gpio": "guardroom.drivers.gpio:GpioDriver",
    "modbus": "guardroom.drivers.modbus:ModbusDriver",
    "osdp": "guardroom.drivers.osdp:OsdpDriver",
}


def _module(kind: str):
    if kind not in DRIVERS:
        raise KeyError(f"unknown driver {kind!r}; known: {', '.join(DRIVERS)}")
    return importlib.import_module(DRIVERS[kind].split(":")[0])


def schema_for(kind: str):
    """The config schema (a Section) of the driver ``kind``."""
    return _module(kind).CONFIG_SCHEMA


def driver_class(kind: str):
    mod = _module(kind)
    return getattr(mod, DRIVERS[kind].split(":")[1])


def create(kind: str, config: dict, points, sink):
    """Build the driver ``kind`` from its validated config section."""
    return driver_class(kind)(config, points, sink)
