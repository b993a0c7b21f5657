"""Exception tree of the Modbus driver."""
from guardroom.errors import ConfigError

from ..errors import DeviceError, DriverConfigError, DriverError


class ModbusError(DriverError):
    """Base of every error the Modbus driver raises on purpose."""


class ModbusConfigError(ModbusError, DriverConfigError, ConfigError):
    """``[drivers.modbus]`` or a device profile is wrong; ``problems`` lists
    ``(key path, reason)`` pairs (a profile's keys are prefixed with its file)."""


class ProfileError(ModbusConfigError):
    """A device profile file cannot be read or is invalid."""


class TransactionError(ModbusError, DeviceError):
    """One request failed. ``kind`` is ``timeout``, ``crc``, ``exception`` or
    ``connection``; ``code`` is the Modbus exception code for ``exception``."""

    def __init__(self, kind: str, text: str, code: int = 0):
        super().__init__(text)
        self.kind = kind
        self.code = code


class CrcError(ModbusError):
    """A frame arrived with a bad CRC (raised inside the transaction, then classified)."""
