"""OSDP (IEC 60839-11-5) access readers on RS-485 through libosdp: guardroom is the control
panel. Reader inputs (door contact, REX), tamper, power and link state become points; door
forced / held open are derived here; card reads and keypad PINs become credential events;
the reader's LED, buzzer and door strike are outputs. Config: ``[drivers.osdp]``."""
from .driver import OsdpDriver
from .errors import OsdpCommandError, OsdpConfigError, OsdpError, OsdpUnavailable
from .schema import CONFIG_SCHEMA

__all__ = ["OsdpDriver", "CONFIG_SCHEMA", "OsdpError", "OsdpConfigError", "OsdpUnavailable",
           "OsdpCommandError"]
