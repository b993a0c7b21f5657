"""gpiozero pin factories by config name.

Each backend builds a pin factory; only the ``mock`` backend also has a control channel
(``mockctl.MockControl``), so an emulated site is driven from outside the daemon without any
test branch inside the driver."""
from __future__ import annotations

from .errors import GpioBackendUnavailable


def _lgpio():
    from gpiozero.pins.lgpio import LGPIOFactory

    return LGPIOFactory()


def _rpigpio():
    from gpiozero.pins.rpigpio import RPiGPIOFactory

    return RPiGPIOFactory()


def _native():
    from gpiozero.pins.native import NativeFactory

    return NativeFactory()


def _mock():
    from .mockpins import WatchedMockFactory

    return WatchedMockFactory()


_FACTORIES = {"lgpio": _lgpio, "rpigpio": _rpigpio, "native": _native, "mock": _mock}


def make_factory(name: str):
    """A new pin factory of the backend ``name``; ``GpioBackendUnavailable`` if it cannot run
    here (library not installed, no /dev/gpiochip, not a Pi)."""
    try:
        build = _FACTORIES[name]
    except KeyError:
        raise GpioBackendUnavailable(
            f"unknown pin factory {name!r}; known: {', '.join(_FACTORIES)}") from None
    try:
        return build()
    except Exception as e:  # ImportError, PinFactoryFallback, OSError, ...
        raise GpioBackendUnavailable(
            f"pin factory {name!r} cannot be used here: {type(e).__name__}: {e}") from e


def has_control(factory) -> bool:
    """True when the factory is the emulated one that the mock control channel drives."""
    from .mockpins import WatchedMockFactory

    return isinstance(factory, WatchedMockFactory)
