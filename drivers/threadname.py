"""Give the calling thread its name at the operating system level too (Linux ``prctl``), so
``top -H``, ``ps -L`` and the benchmark's per-thread CPU figures can tell the driver threads
apart (Python 3.11 names threads only inside Python). Best effort: a no-op elsewhere."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_PR_SET_NAME = 15
_libc = None


def name_thread(name: str) -> None:
    global _libc
    if not sys.platform.startswith("linux"):
        return
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        _libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except Exception:  # noqa: BLE001 - a name is a convenience, never a failure
        pass
