"""Exception tree of the OSDP driver."""
from guardroom.errors import ConfigError

from ..errors import BackendUnavailable, DeviceError, DriverConfigError, DriverError


class OsdpError(DriverError):
    """Base of every error the OSDP driver raises on purpose."""


class OsdpConfigError(OsdpError, DriverConfigError, ConfigError):
    """``[drivers.osdp]`` is wrong; ``problems`` lists ``(key path, reason)`` pairs.

    It is a ``guardroom.errors.ConfigError`` too, so the daemon reports it like any other
    config mistake."""


class OsdpUnavailable(OsdpError, BackendUnavailable):
    """libosdp cannot be imported, or a serial port cannot be opened."""


class OsdpCommandError(OsdpError, DeviceError):
    """A command could not be queued for a reader (unknown reader or output, reader offline,
    libosdp refused it)."""
