"""Pin numbering and level helpers shared by the GPIO driver and its mock control channel."""
from __future__ import annotations

BCM_MIN, BCM_MAX = 0, 27


def active_level(pull: str, active: str) -> int:
    """The electrical level (0/1) that means ACTIVE for an input with this pull and setting."""
    if active == "low":
        return 0
    if active == "high":
        return 1
    return 0 if pull == "up" else 1          # auto: a contact pulls against the resistor


def level_word(level: int, active: int) -> str:
    return "active" if level == active else "rest"
