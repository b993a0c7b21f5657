"""User and installer codes: stored hashed (PBKDF2-SHA256, salted), checked in constant time,
with a wrong-code lockout that grows. Access levels follow EN 50131-1:

    1 anyone (no code)   2 user (arm, disarm, silence, reset)   3 installer (config, tests)

A code is never stored, logged or shown in clear. ``guardroom hash-code`` makes a hash line.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Optional

from .authstore import boot_id
from .i18n import Msg
from .schema import Bool, Choice, Int, ListOf, Name, Section, Str

ITERATIONS = 60_000
LEVEL_ANYONE, LEVEL_USER, LEVEL_INSTALLER = 1, 2, 3
LEVEL_NAMES = {1: "anyone", 2: "user", 3: "installer"}
HASH_PATTERN = r"pbkdf2_sha256\$[0-9]{4,7}\$[A-Za-z0-9+/=]{8,64}\$[A-Za-z0-9+/=]{40,64}"

USER_SCHEMA = Section({
    "name": Name(doc="who this is, carried on every event the user causes"),
    "level": Choice(["user", "installer"], default="user",
                    doc="user: arm/disarm/silence/reset; installer: also config and tests"),
    "code_hash": Str(default="", pattern=HASH_PATTERN + "|", secret=True,
                     doc="hash of the code (guardroom hash-code); empty = no keypad code"),
    "duress_hash": Str(default="", pattern=HASH_PATTERN + "|", secret=True,
                       doc="hash of the duress code: acts like the code and raises a silent "
                           "duress alarm"),
    "cards": ListOf(Str(pattern=r"[0-9A-Fa-f]{1,32}", secret=True), default=list, unique=True,
                    doc="card numbers (as the reader reports them) that belong to this user"),
    "areas": ListOf(Name(), default=list, doc="areas this user may arm/disarm (empty = all)"),
    "enabled": Bool(default=True, doc="false: the user's code, duress code and cards are "
                                      "refused (kept in the file, e.g. a guard on leave)"),
})

LOCKOUT_SCHEMA = Section({
    "attempts": Int(default=5, min=1, max=20, doc="wrong codes in a row before a lockout"),
    "lock_s": Int(default=90, min=10, max=86400, doc="first lockout; doubles each time"),
    "max_lock_s": Int(default=3600, min=10, max=86400, doc="longest lockout"),
}, default=dict)


def hash_code(code: str, iterations: int = ITERATIONS, salt: Optional[bytes] = None) -> str:
    """The storable hash line of ``code``."""
    if not code or not code.isdigit() or not 4 <= len(code) <= 12:
        raise ValueError(Msg("a code is 4 to 12 digits"))
    salt = salt or os.urandom(12)
    dk = hashlib.pbkdf2_hmac("sha256", code.encode(), salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"pbkdf2_sha256${iterations}${b64(salt)}${b64(dk)}"


def verify_code(code: str, stored: str) -> bool:
    """True when ``code`` matches the stored hash line (constant-time compare)."""
    try:
        algo, it, salt, dk = stored.split("$")
        if algo != "pbkdf2_sha256":
            return False
        want = base64.b64decode(dk)
        got = hashlib.pbkdf2_hmac("sha256", code.encode(), base64.b64decode(salt), int(it))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(want, got)


@dataclass(frozen=True)
class Match:
    user: str
    level: int
    duress: bool = False
    areas: tuple = ()

    def may_use_area(self, area: str) -> bool:
        return not self.areas or area in self.areas


class CodeBook:
    """The users from config. ``check(code)`` and ``card(number)`` return a Match or None."""

    def __init__(self, users: list[dict]):
        self._users = [u for u in users if u.get("enabled", True)]
        self._cards = {}
        for u in self._users:
            for c in u.get("cards", []):
                self._cards[c.lower().lstrip("0") or "0"] = u

    @staticmethod
    def _match(u: dict, duress: bool) -> Match:
        level = LEVEL_INSTALLER if u.get("level") == "installer" else LEVEL_USER
        return Match(u["name"], level, duress, tuple(u.get("areas", [])))

    def check(self, code: str) -> Optional[Match]:
        if not code or not code.isdigit():
            return None
        found = None
        # Check every user (no early exit) so timing does not tell which slot matched.
        for u in self._users:
            if u.get("code_hash") and verify_code(code, u["code_hash"]) and found is None:
                found = self._match(u, False)
            if u.get("duress_hash") and verify_code(code, u["duress_hash"]) and found is None:
                found = self._match(u, True)
        return found

    def card(self, number: str) -> Optional[Match]:
        u = self._cards.get(str(number).lower().lstrip("0") or "0")
        return self._match(u, False) if u else None

    def __len__(self) -> int:
        return len(self._users)


class Lockout:
    """Wrong-code lockout: after ``attempts`` wrong codes in a row, refuse every code for
    ``lock_s``, doubling at each further lockout up to ``max_lock_s``. Time is passed in
    (monotonic seconds), so it is testable without sleeping.

    With a ``store`` (an AuthStore) the counts and the running lockout are persisted under
    ``key`` at every change, so a restart does not reopen the door to guessing: after a
    restart in the same boot the lockout ends when it would have; after a reboot (monotonic
    time restarted) a lockout that was running starts again in full."""

    def __init__(self, attempts: int = 5, lock_s: int = 90, max_lock_s: int = 3600, *,
                 store=None, key: str = "keypad", now: Optional[float] = None):
        self.attempts, self.lock_s, self.max_lock_s = attempts, lock_s, max_lock_s
        self.failures = 0
        self.lockouts = 0
        self.locked_until = 0.0
        self.store, self.key = store, f"lockout:{key}"
        if store is not None:
            self._load(time.monotonic() if now is None else now)

    def _load(self, now: float) -> None:
        st = self.store.get(self.key)
        if not st:
            return
        self.failures = int(st.get("failures", 0))
        self.lockouts = int(st.get("lockouts", 0))
        until, length = float(st.get("until", 0.0)), float(st.get("length", 0.0))
        if st.get("boot") == boot_id() and boot_id():
            self.locked_until = until
        elif until > 0:
            self.locked_until = now + length

    def _save(self, length: float = 0.0) -> None:
        if self.store is None:
            return
        prev = self.store.get(self.key) or {}
        self.store.put(self.key, {
            "failures": self.failures, "lockouts": self.lockouts, "boot": boot_id(),
            "until": self.locked_until,
            "length": length or (prev.get("length", 0.0) if self.locked_until else 0.0)})

    def remaining(self, now: float) -> float:
        """Seconds left of the current lockout (0 when codes may be tried)."""
        return max(0.0, self.locked_until - now)

    def failure(self, now: float) -> float:
        """Record a wrong code; returns the lockout length it started (0 if none)."""
        self.failures += 1
        if self.failures < self.attempts:
            self._save()
            return 0.0
        self.failures = 0
        length = min(self.max_lock_s, self.lock_s * (2 ** self.lockouts))
        self.lockouts += 1
        self.locked_until = now + length
        self._save(float(length))
        return float(length)

    def success(self) -> None:
        changed = self.failures or self.lockouts
        self.failures = 0
        self.lockouts = 0
        if changed:
            self._save()
