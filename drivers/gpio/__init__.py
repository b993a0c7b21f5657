"""GPIO inputs (panic buttons, beam relay contacts) and outputs (sirens, strobes, relays)
through gpiozero, with the pin factory chosen by name in ``[drivers.gpio]``; the ``mock``
factory adds a control channel that plays the wiring (see ``mockctl``)."""
from .driver import GpioDriver
from .errors import ControlError, GpioBackendUnavailable, GpioConfigError, GpioError
from .schema import CONFIG_SCHEMA

__all__ = ["GpioDriver", "CONFIG_SCHEMA", "GpioError", "GpioConfigError",
           "GpioBackendUnavailable", "ControlError"]
