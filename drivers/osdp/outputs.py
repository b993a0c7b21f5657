"""OSDP command dicts (libosdp's Python form) for the reader outputs the daemon drives:
``<reader>.led``, ``<reader>.buzzer``, ``<reader>.strike``. Times on the wire are in units of
100 ms."""
from __future__ import annotations

from osdp import Command, CommandLEDColor

LED_COLOR = {"red": CommandLEDColor.Red, "green": CommandLEDColor.Green,
             "amber": CommandLEDColor.Amber, "blue": CommandLEDColor.Blue,
             "magenta": CommandLEDColor.Magenta, "cyan": CommandLEDColor.Cyan,
             "white": CommandLEDColor.White}

# osdp_OUT control codes
OUT_OFF, OUT_ON, OUT_PULSE = 1, 2, 5
# osdp_BUZ tone codes
BUZ_OFF, BUZ_ON = 1, 2


def ticks(ms: int, top: int = 255) -> int:
    """Milliseconds in 100 ms units, at least 1, at most ``top``."""
    return max(1, min(top, (int(ms) + 99) // 100))


def led(on: bool, color: str) -> dict:
    """Permanent LED state: steady ``color`` or off."""
    c = LED_COLOR[color] if on else CommandLEDColor.Black
    return {"command": Command.LED, "reader": 0, "led_number": 0, "temporary": False,
            "control_code": 1, "on_count": 1, "off_count": 0,
            "on_color": c, "off_color": c}


def led_pulse(ms: int, color: str) -> dict:
    """Temporary LED: ``color`` for ``ms``, then back to the permanent state."""
    n = ticks(ms)
    return {"command": Command.LED, "reader": 0, "led_number": 0, "temporary": True,
            "control_code": 2, "on_count": n, "off_count": 0, "timer_count": n,
            "on_color": LED_COLOR[color], "off_color": CommandLEDColor.Black}


def buzzer(on: bool) -> dict:
    """Buzzer on (steady, until turned off) or off."""
    return {"command": Command.Buzzer, "reader": 0,
            "control_code": BUZ_ON if on else BUZ_OFF,
            "on_count": 1 if on else 0, "off_count": 0, "rep_count": 0}


def buzzer_pulse(ms: int) -> dict:
    return {"command": Command.Buzzer, "reader": 0, "control_code": BUZ_ON,
            "on_count": ticks(ms), "off_count": 0, "rep_count": 1}


def output(number: int, on: bool) -> dict:
    return {"command": Command.Output, "output_no": number,
            "control_code": OUT_ON if on else OUT_OFF, "timer_count": 0}


def output_pulse(number: int, ms: int) -> dict:
    return {"command": Command.Output, "output_no": number, "control_code": OUT_PULSE,
            "timer_count": ticks(ms)}
