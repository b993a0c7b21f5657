"""systemd integration without a dependency: sd_notify over $NOTIFY_SOCKET (Type=notify,
READY=1, STOPPING=1, STATUS=..., WATCHDOG=1) and the watchdog interval from $WATCHDOG_USEC."""
from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send one sd_notify message; False when not run by systemd (no socket)."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            s.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float:
    """Half the watchdog timeout systemd set for us (0 when none): ping at this period."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return 0.0
    try:
        return int(usec) / 2e6
    except ValueError:
        return 0.0
