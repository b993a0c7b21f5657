"""Authentication of commands that arrive from the platform on the ``cmd`` topic.

A command is JSON::

    {"cmd": "arm_away", "area": "ground", "ts": 1700000000000, "nonce": "<16+ chars>",
     "code": "1234"}                                     # a user's code, or:
    {"cmd": "arm_away", "area": "ground", "ts": ..., "nonce": "...", "sig": "<hex>"}

``sig`` is hex(HMAC-SHA256(key, canonical JSON of every other field)), canonical = sorted keys,
no spaces (``canonical_bytes``). ``CommandVerifier.verify(payload)`` returns the command (without
``code``/``sig``) with ``user`` set to the code's user or ``"platform:hmac"``, or raises
``AuthError`` whose ``reason`` is one of REASONS. Checks, in order: malformed JSON or field
types, unknown command or missing target, both/neither of code and sig, stale (``|now - ts| >
max_age_s``), replayed nonce, then the signature (constant-time) or the code. A nonce is
remembered only once the command passed, for twice the age window, in bounded memory.
Codes are never logged nor kept. After ``max_wrong`` wrong codes within ``lockout_s``, code
commands are refused for ``lockout_s`` (signed commands still pass).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Optional

from .errors import AuthError

REASONS = ("malformed", "unknown command", "missing auth", "bad signature", "wrong code",
           "not allowed", "locked out", "stale", "replayed", "busy")

# command -> fields that must be present (besides ts/nonce/auth)
COMMANDS: dict[str, tuple[str, ...]] = {
    "arm_away": ("area",), "arm_stay": ("area",), "disarm": ("area",), "reset": ("area",),
    "silence": ("area",), "drill_start": ("area",), "drill_stop": ("area",),
    "bypass": ("zone",), "unbypass": ("zone",), "siren_test": (),
}
# optional fields and their types
OPTIONAL: dict[str, type | tuple[type, ...]] = {"area": str, "zone": str, "force": bool,
                                                 "arg": int}
NONCE_MIN, NONCE_MAX = 16, 128
MAX_NONCES = 10_000


def canonical_bytes(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def signature(fields: dict, key: bytes) -> str:
    """hex HMAC-SHA256 over the canonical JSON of ``fields`` (which must not hold ``sig``)."""
    return hmac.new(key, canonical_bytes(fields), hashlib.sha256).hexdigest()


def sign(payload: dict, key: bytes) -> dict:
    """A signed copy of a command: fills ``ts`` (now, ms) and ``nonce`` when absent, drops any
    ``code``, adds ``sig``. For the platform emulator and tests."""
    out = {k: v for k, v in payload.items() if k not in ("sig", "code")}
    out.setdefault("ts", int(time.time() * 1000))
    out.setdefault("nonce", secrets.token_hex(12))
    out["sig"] = signature(out, key)
    return out


def with_code(payload: dict, code: str) -> dict:
    """A code-authenticated copy of a command (fills ``ts`` and ``nonce`` when absent)."""
    out = {k: v for k, v in payload.items() if k != "sig"}
    out.setdefault("ts", int(time.time() * 1000))
    out.setdefault("nonce", secrets.token_hex(12))
    out["code"] = code
    return out


def _refuse(reason: str, detail: str = "") -> AuthError:
    err = AuthError(f"{reason}: {detail}" if detail else reason)
    err.reason = reason  # type: ignore[attr-defined]
    err.detail = detail  # type: ignore[attr-defined]
    return err


class CommandVerifier:
    """Verifies command payloads; thread-safe (the relay runs it off the loop because a code
    check may take tens of ms).

    ``check_code(code)`` returns the user name (a str), an object with a ``user`` attribute
    (and optionally ``may_use_area(area)``), or None for a wrong code."""

    def __init__(self, hmac_key: Optional[bytes], check_code: Optional[Callable[[str], Any]],
                 max_age_s: float = 30, now: Callable[[], float] = time.time, *,
                 commands: Optional[dict[str, tuple[str, ...]]] = None,
                 max_wrong: int = 5, lockout_s: float = 60.0, max_nonces: int = MAX_NONCES):
        self.hmac_key = hmac_key or None
        self.check_code = check_code
        self.max_age_s = float(max_age_s)
        self.now = now
        self.commands = dict(COMMANDS if commands is None else commands)
        self.max_wrong = max_wrong
        self.lockout_s = lockout_s
        self.max_nonces = max_nonces
        self._nonces: OrderedDict[str, float] = OrderedDict()   # nonce -> forget after
        self._wrong: deque[float] = deque()
        self._locked_until = 0.0
        self._lock = threading.Lock()
        self.counts = {"accepted": 0, "refused": 0}

    def verify(self, payload: bytes | str) -> dict:
        try:
            out = self._verify(payload)
        except AuthError:
            with self._lock:
                self.counts["refused"] += 1
            raise
        with self._lock:
            self.counts["accepted"] += 1
        return out

    # ------------------------------------------------------------------ the checks
    def _verify(self, payload: bytes | str) -> dict:
        try:
            msg = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise _refuse("malformed", "not JSON") from None
        if not isinstance(msg, dict):
            raise _refuse("malformed", "not a JSON object")
        cmd = msg.get("cmd")
        if not isinstance(cmd, str) or not cmd:
            raise _refuse("malformed", "no 'cmd'")
        for key, val in msg.items():
            if key in ("cmd", "code", "sig", "nonce"):
                if not isinstance(val, str):
                    raise _refuse("malformed", f"{key!r} must be a string")
            elif key == "ts":
                if isinstance(val, bool) or not isinstance(val, int):
                    raise _refuse("malformed", "'ts' must be unix milliseconds (integer)")
            elif key in OPTIONAL:
                t = OPTIONAL[key]
                if not isinstance(val, t) or (t is int and isinstance(val, bool)):
                    raise _refuse("malformed", f"{key!r} has the wrong type")
            else:
                raise _refuse("malformed", f"unknown field {key!r}")
        if cmd not in self.commands:
            raise _refuse("unknown command", cmd)
        for need in self.commands[cmd]:
            if not msg.get(need):
                raise _refuse("unknown command", f"{cmd} needs {need!r}")
        if "ts" not in msg or "nonce" not in msg:
            raise _refuse("malformed", "'ts' and 'nonce' are required")
        nonce = msg["nonce"]
        if not NONCE_MIN <= len(nonce) <= NONCE_MAX:
            raise _refuse("malformed", f"nonce must be {NONCE_MIN}..{NONCE_MAX} characters")
        has_code, has_sig = "code" in msg, "sig" in msg
        if not has_code and not has_sig:
            raise _refuse("missing auth", "needs 'code' or 'sig'")
        if has_code and has_sig:
            raise _refuse("malformed", "give 'code' or 'sig', not both")
        now = self.now()
        age = now - msg["ts"] / 1000.0
        if abs(age) > self.max_age_s:
            raise _refuse("stale", f"{age:+.1f} s old (max {self.max_age_s:g})")
        with self._lock:
            self._forget_nonces(now)
            if nonce in self._nonces:
                raise _refuse("replayed", "nonce already used")

        if has_sig:
            user = self._check_sig(msg)
        else:
            user = self._check_code(msg, now)

        with self._lock:
            if nonce in self._nonces:  # a twin passed meanwhile (another thread)
                raise _refuse("replayed", "nonce already used")
            self._forget_nonces(now)
            if len(self._nonces) >= self.max_nonces:
                raise _refuse("busy", "too many commands in the age window")
            self._nonces[nonce] = now + 2 * self.max_age_s
        out = {k: v for k, v in msg.items() if k not in ("code", "sig")}
        out["user"] = user
        return out

    def _check_sig(self, msg: dict) -> str:
        if self.hmac_key is None:
            raise _refuse("bad signature", "signed commands are not enabled (no cmd_hmac_key)")
        sig = msg["sig"]
        fields = {k: v for k, v in msg.items() if k != "sig"}
        want = signature(fields, self.hmac_key)
        if not hmac.compare_digest(want.encode(), sig.lower().encode()):
            raise _refuse("bad signature")
        return "platform:hmac"

    def _check_code(self, msg: dict, now: float) -> str:
        if self.check_code is None:
            raise _refuse("wrong code", "codes are not accepted here (no code checker)")
        with self._lock:
            while self._wrong and self._wrong[0] < now - self.lockout_s:
                self._wrong.popleft()
            if now < self._locked_until:
                raise _refuse("locked out", f"{self._locked_until - now:.0f} s left")
        found = self.check_code(msg["code"])
        if found is None or found is False:
            with self._lock:
                self._wrong.append(now)
                if len(self._wrong) >= self.max_wrong:
                    self._locked_until = now + self.lockout_s
                    self._wrong.clear()
            raise _refuse("wrong code")
        user = found if isinstance(found, str) else str(getattr(found, "user", "") or "user")
        may = getattr(found, "may_use_area", None)
        if callable(may) and msg.get("area") and not may(msg["area"]):
            raise _refuse("not allowed", f"user may not use area {msg['area']!r}")
        return user

    def _forget_nonces(self, now: float) -> None:
        n = self._nonces
        while n:
            first = next(iter(n))
            if n[first] > now:
                break
            n.popitem(last=False)

    def remembered(self) -> int:
        """How many nonces are remembered now (bounded by max_nonces)."""
        return len(self._nonces)
