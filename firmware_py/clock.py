"""Is this controller's wall clock to be trusted? A Pi without a real-time clock boots with the
time it last saved (fake-hwclock) or 1970: behind, until NTP corrects it. Commands and acks
are judged "from the future" only while the clock is trusted (see cmdauth)."""
from __future__ import annotations


def ntp_synced() -> bool:
    """True when the kernel clock is disciplined by NTP (adjtimex says synchronised)."""
    try:
        import ctypes
        import ctypes.util

        class Timex(ctypes.Structure):
            _fields_ = [("modes", ctypes.c_uint), ("pad", ctypes.c_long * 40)]

        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        state = libc.adjtimex(ctypes.byref(Timex()))
        return state not in (-1, 5)  # 5 = TIME_ERROR: clock not synchronised
    except Exception:  # noqa: BLE001
        return False


def trust_policy(mode: str):
    """The ``clock_trusted()`` callable for ``mqtt.cmd_clock``: ntp | rtc | none."""
    if mode == "rtc":
        return lambda: True
    if mode == "none":
        return lambda: False
    return ntp_synced
