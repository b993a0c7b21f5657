"""Who is at the console: access level (EN 50131-1), login with the wrong-code lockout, and the
idle logout. Pure logic with time passed in, so it is tested without sleeping; the console
does the I/O and reports the events (461, 627/628) this module asks for.

    1 anyone     help, login, status summary
    2 user       arm, disarm, bypass, reset, silence, zones, log
    3 installer  configuration, tests, outputs, buses, restart
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..codes import LEVEL_ANYONE, LEVEL_INSTALLER, LEVEL_NAMES, LEVEL_USER, Lockout, Match

__all__ = ["Session", "LoginResult", "LEVEL_ANYONE", "LEVEL_USER", "LEVEL_INSTALLER",
           "LEVEL_NAMES"]


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt did. ``locked_s``: seconds the console is (still) locked;
    ``lockout_started``: this attempt started a lockout (report a 461)."""
    ok: bool
    match: Optional[Match] = None
    locked_s: float = 0.0
    lockout_started: bool = False
    attempts_left: int = 0


class Session:
    """The one session of a console port. ``now`` is monotonic seconds, always passed in."""

    def __init__(self, lockout: Lockout, idle_logout_s: float):
        self.lockout = lockout
        self.idle_logout_s = idle_logout_s
        self.match: Optional[Match] = None
        self.last_activity = 0.0
        self.login_at = 0.0

    # -- who -----------------------------------------------------------------------------------
    @property
    def level(self) -> int:
        return self.match.level if self.match else LEVEL_ANYONE

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def user(self) -> str:
        return self.match.user if self.match else ""

    @property
    def logged_in(self) -> bool:
        return self.match is not None

    def may_use_area(self, area: str) -> bool:
        return self.match is not None and self.match.may_use_area(area)

    # -- login / logout ------------------------------------------------------------------------
    def locked(self, now: float) -> float:
        """Seconds of lockout left (0 = codes may be tried)."""
        return self.lockout.remaining(now)

    def attempt(self, match: Optional[Match], now: float) -> LoginResult:
        """Apply the result of a code check made while not locked (the caller checks
        ``locked`` first and does not even check the code while locked)."""
        left = self.lockout.remaining(now)
        if left > 0:
            return LoginResult(False, locked_s=left)
        if match is None:
            length = self.lockout.failure(now)
            return LoginResult(False, locked_s=length, lockout_started=length > 0,
                               attempts_left=self.lockout.attempts - self.lockout.failures)
        self.lockout.success()
        self.match = match
        self.login_at = self.last_activity = now
        return LoginResult(True, match)

    def logout(self) -> Optional[Match]:
        """End the session; returns who was logged in (None if nobody)."""
        was, self.match = self.match, None
        return was

    # -- idle ----------------------------------------------------------------------------------
    def touch(self, now: float) -> None:
        self.last_activity = now

    def idle_left(self, now: float) -> Optional[float]:
        """Seconds until the idle logout (None when nobody is logged in)."""
        if self.match is None or self.idle_logout_s <= 0:
            return None
        return max(0.0, self.last_activity + self.idle_logout_s - now)
