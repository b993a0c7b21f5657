"""Exception tree of the GPIO driver."""
from guardroom.errors import ConfigError

from ..errors import BackendUnavailable, DriverConfigError, DriverError


class GpioError(DriverError):
    """Base of every error the GPIO driver raises on purpose."""


class GpioConfigError(GpioError, DriverConfigError, ConfigError):
    """``[drivers.gpio]`` is wrong; ``problems`` lists ``(key path, reason)`` pairs.

    It is a ``guardroom.errors.ConfigError`` too, so the daemon reports it like any other
    config mistake."""


class GpioBackendUnavailable(GpioError, BackendUnavailable):
    """The named pin factory cannot be used on this machine (library missing, not a Pi)."""


class ControlError(GpioError):
    """The mock control channel refused a command (the reason is the message)."""
