"""Exception tree of the drivers package."""


class DriverError(Exception):
    """Base of every error raised by a driver."""


class DriverConfigError(DriverError):
    """A driver section of the config is wrong; the message names the key and the reason."""


class BackendUnavailable(DriverError):
    """The named backend (pin factory, serial port, library) cannot be used on this machine."""


class DeviceError(DriverError):
    """A device did not answer, answered with an exception, or sent a corrupt frame."""
