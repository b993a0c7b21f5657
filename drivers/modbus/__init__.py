"""Modbus RTU/TCP devices (I/O modules, end-of-line modules, fence energizers) through
pymodbus, described by device profiles in data (``drivers/profiles/*.toml``)."""
from .driver import ModbusDriver
from .errors import (CrcError, ModbusConfigError, ModbusError, ProfileError,
                     TransactionError)
from .profiles import Profile, builtin_names, load as load_profile
from .schema import CONFIG_SCHEMA

__all__ = ["ModbusDriver", "CONFIG_SCHEMA", "ModbusError", "ModbusConfigError",
           "ProfileError", "TransactionError", "CrcError", "Profile", "load_profile",
           "builtin_names"]
