"""Authentication of what arrives from the platform: commands on ``cmd``, acks on ``ack``.

A command is JSON::

    {"cmd": "arm_away", "area": "ground", "ts": 1700000000000, "nonce": "<16+ chars>",
     "code": "1234"}                                     # a user's code, or:
    {"cmd": "arm_away", "area": "ground", "ts": ..., "nonce": "...", "sig": "<hex>"}

An ack is JSON, always signed::

    {"incident": 7, "user": "J. Smith", "ts": ..., "nonce": "...", "sig": "<hex>"}

``sig`` is hex(HMAC-SHA256(key, canonical JSON of every other field)), canonical = sorted keys,
no spaces (``canonical_bytes``). An optional ``sender`` (signed with the rest) names who sends,
when several platform processes share the key. ``verify(payload)`` / ``verify_ack(payload)``
return the message (without ``code``/``sig``) with ``user`` set to the code's user or
``"platform:hmac"``, or raise ``AuthError`` whose ``reason`` is one of REASONS.

Checks, in order: size (MAX_PAYLOAD bytes) and JSON depth, field types and lengths, unknown
command or missing target, both/neither of code and sig, too old (``ts`` more than
``max_age_s`` behind this controller's clock), from the future (more than ``max_age_s`` ahead,
only while ``clock_trusted()``: a controller without a real-time clock boots with its clock
behind, never ahead), the signature (constant-time) or the code, then the sender's counter:

**Replay.** ``ts`` is the sender's counter: it must be greater than the ``ts`` of every
message accepted before from the same sender (key = kind + ``sender`` + the code's user). The
newest accepted ``ts`` per sender is kept in an AuthStore, fsynced before the message is acted
on, so a message accepted once is refused forever after, across restarts and SIGKILLs, without
trusting this controller's wall clock. The nonce identifies the message in ``cmd/result``.

Codes are never logged nor kept. After ``max_wrong`` wrong codes, code commands are refused
for ``lockout_s`` (growing; persisted; signed commands still pass).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional

from .authstore import AuthStore
from .codes import Lockout
from .errors import AuthError

REASONS = ("malformed", "unknown command", "missing auth", "bad signature", "wrong code",
           "not allowed", "locked out", "stale", "replayed", "busy")

# command -> fields that must be present (besides ts/nonce/auth)
COMMANDS: dict[str, tuple[str, ...]] = {
    "arm_away": ("area",), "arm_stay": ("area",), "disarm": ("area",), "reset": ("area",),
    "silence": ("area",), "drill_start": ("area",), "drill_stop": ("area",),
    "bypass": ("zone",), "unbypass": ("zone",), "siren_test": (),
    "report": ("report",),   # drill|inspection report made on the controller (summary back)
}
# optional fields and their types
OPTIONAL: dict[str, type | tuple[type, ...]] = {"area": str, "zone": str, "force": bool,
                                                 "arg": int, "sender": str, "report": str,
                                                 "lang": str}
ACK_FIELDS: dict[str, type] = {"incident": int, "user": str, "sender": str}
# longest accepted text of each string field (a message is refused, not cut)
MAX_LEN = {"cmd": 32, "code": 12, "sig": 128, "nonce": 128, "area": 64, "zone": 64,
           "sender": 64, "user": 64, "report": 16, "lang": 4}
NONCE_MIN, NONCE_MAX = 16, 128
MAX_NONCES = 10_000
MAX_PAYLOAD = 4096           # bytes: a command or ack is a few hundred
MAX_DEPTH = 4                # JSON nesting: every field is a scalar
_SENDER = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
_ts_lock = threading.Lock()
_last_ts = 0


def next_ts() -> int:
    """Unix milliseconds now, strictly greater than the last value this process handed out
    (two messages signed within one millisecond still count up)."""
    global _last_ts
    with _ts_lock:
        _last_ts = max(int(time.time() * 1000), _last_ts + 1)
        return _last_ts


def canonical_bytes(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def signature(fields: dict, key: bytes) -> str:
    """hex HMAC-SHA256 over the canonical JSON of ``fields`` (which must not hold ``sig``)."""
    return hmac.new(key, canonical_bytes(fields), hashlib.sha256).hexdigest()


def sign(payload: dict, key: bytes) -> dict:
    """A signed copy of a command or ack: fills ``ts`` (``next_ts()``) and ``nonce`` when
    absent, drops any ``code``, adds ``sig``. For the platform emulator, tools and tests."""
    out = {k: v for k, v in payload.items() if k not in ("sig", "code")}
    out.setdefault("ts", next_ts())
    out.setdefault("nonce", secrets.token_hex(12))
    out["sig"] = signature(out, key)
    return out


def with_code(payload: dict, code: str) -> dict:
    """A code-authenticated copy of a command (fills ``ts`` and ``nonce`` when absent)."""
    out = {k: v for k, v in payload.items() if k != "sig"}
    out.setdefault("ts", next_ts())
    out.setdefault("nonce", secrets.token_hex(12))
    out["code"] = code
    return out


def _refuse(reason: str, detail: str = "") -> AuthError:
    err = AuthError(f"{reason}: {detail}" if detail else reason)
    err.reason = reason  # type: ignore[attr-defined]
    err.detail = detail  # type: ignore[attr-defined]
    return err


def _too_deep(text: str, limit: int) -> bool:
    """True when brackets nest deeper than ``limit`` (outside strings): checked before
    json.loads, which would recurse once per level."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def parse_json(payload: bytes | str, max_bytes: int = MAX_PAYLOAD,
               max_depth: int = MAX_DEPTH) -> Any:
    """Bounded JSON: refuses (AuthError 'malformed') a payload over ``max_bytes``, nested
    deeper than ``max_depth``, or not JSON. Never raises anything else."""
    if len(payload) > max_bytes:
        raise _refuse("malformed", f"larger than {max_bytes} bytes")
    try:
        text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
    except UnicodeDecodeError:
        raise _refuse("malformed", "not UTF-8") from None
    if _too_deep(text, max_depth):
        raise _refuse("malformed", f"nested deeper than {max_depth}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _refuse("malformed", "not JSON") from None


class CommandVerifier:
    """Verifies command and ack payloads; thread-safe (the relay runs it off the loop because
    a code check may take tens of ms and the counter is fsynced).

    ``check_code(code)`` returns the user name (a str), an object with a ``user`` attribute
    (and optionally ``may_use_area(area)``), or None for a wrong code. ``store`` keeps the
    sender counters and the code lockout (in memory when None). ``clock_trusted()`` says
    whether this controller's wall clock may judge a message "from the future"."""

    def __init__(self, hmac_key: Optional[bytes], check_code: Optional[Callable[[str], Any]],
                 max_age_s: float = 30, now: Callable[[], float] = time.time, *,
                 commands: Optional[dict[str, tuple[str, ...]]] = None,
                 max_wrong: int = 5, lockout_s: float = 60.0, max_nonces: int = MAX_NONCES,
                 store: Optional[AuthStore] = None,
                 clock_trusted: Callable[[], bool] = lambda: True,
                 mono: Optional[Callable[[], float]] = None):
        self.hmac_key = hmac_key or None
        self.check_code = check_code
        self.max_age_s = float(max_age_s)
        self.now = now
        self.mono = mono or now
        self.commands = dict(COMMANDS if commands is None else commands)
        self.max_nonces = max_nonces
        self.store = store if store is not None else AuthStore(None)
        self.clock_trusted = clock_trusted
        self.lockout = Lockout(max_wrong, int(lockout_s), int(max(lockout_s, 3600)),
                               store=store, key="remote", now=self.mono())
        self._nonces: OrderedDict[str, float] = OrderedDict()   # nonce -> forget after
        self._lock = threading.Lock()
        self.counts = {"accepted": 0, "refused": 0}

    def verify(self, payload: bytes | str) -> dict:
        """A command (see the module doc)."""
        return self._counted(self._verify, payload)

    def verify_ack(self, payload: bytes | str) -> dict:
        """An ack: ``{"incident": int, "user": str, "sender": str}`` once verified."""
        return self._counted(self._verify_ack, payload)

    def _counted(self, fn, payload) -> dict:
        try:
            out = fn(payload)
        except AuthError:
            with self._lock:
                self.counts["refused"] += 1
            raise
        with self._lock:
            self.counts["accepted"] += 1
        return out

    # ------------------------------------------------------------------ the checks
    def _verify(self, payload: bytes | str) -> dict:
        msg = parse_json(payload)
        if not isinstance(msg, dict):
            raise _refuse("malformed", "not a JSON object")
        cmd = msg.get("cmd")
        if not isinstance(cmd, str) or not cmd:
            raise _refuse("malformed", "no 'cmd'")
        self._check_fields(msg, OPTIONAL, ("cmd", "code", "sig", "nonce"))
        if cmd not in self.commands:
            raise _refuse("unknown command", cmd)
        for need in self.commands[cmd]:
            if not msg.get(need):
                raise _refuse("unknown command", f"{cmd} needs {need!r}")
        has_code, has_sig = "code" in msg, "sig" in msg
        if not has_code and not has_sig:
            raise _refuse("missing auth", "needs 'code' or 'sig'")
        if has_code and has_sig:
            raise _refuse("malformed", "give 'code' or 'sig', not both")
        now = self._fresh(msg)
        duress = False
        if has_sig:
            user = self._check_sig(msg)
            key = f"cmd:{msg.get('sender') or 'platform'}"
        else:
            user, found = self._check_code(msg)
            duress = bool(getattr(found, "duress", False))
            key = f"cmd:{msg.get('sender') or 'remote'}:code:{user}"
        self._accept(key, msg, now)
        out = {k: v for k, v in msg.items() if k not in ("code", "sig")}
        out["user"] = user
        if duress:
            out["duress"] = True   # acts as the user's code; the daemon adds the silent 121
        return out

    def _verify_ack(self, payload: bytes | str) -> dict:
        msg = parse_json(payload)
        if not isinstance(msg, dict):
            raise _refuse("malformed", "not a JSON object")
        if "sig" not in msg:
            raise _refuse("missing auth", "an ack must be signed ('sig')")
        self._check_fields(msg, ACK_FIELDS, ("sig", "nonce"))
        if not isinstance(msg.get("incident"), int) or msg["incident"] < 1:
            raise _refuse("malformed", "needs an integer 'incident' (1 or more)")
        now = self._fresh(msg)
        self._check_sig(msg)
        self._accept(f"ack:{msg.get('sender') or 'platform'}", msg, now)
        return {"incident": msg["incident"], "user": msg.get("user") or "platform",
                "sender": msg.get("sender") or "platform", "nonce": msg["nonce"]}

    def _check_fields(self, msg: dict, optional: dict, strings: tuple) -> None:
        for key, val in msg.items():
            if key in strings:
                if not isinstance(val, str):
                    raise _refuse("malformed", f"{key!r} must be a string")
            elif key == "ts":
                if isinstance(val, bool) or not isinstance(val, int):
                    raise _refuse("malformed", "'ts' must be unix milliseconds (integer)")
            elif key in optional:
                t = optional[key]
                if not isinstance(val, t) or (t is int and isinstance(val, bool)):
                    raise _refuse("malformed", f"{key!r} has the wrong type")
            else:
                raise _refuse("malformed", f"unknown field {str(key)[:32]!r}")
            if isinstance(val, str) and len(val) > MAX_LEN.get(key, 64):
                raise _refuse("malformed", f"{key!r} longer than {MAX_LEN.get(key, 64)}")
        if "ts" not in msg or "nonce" not in msg:
            raise _refuse("malformed", "'ts' and 'nonce' are required")
        if not NONCE_MIN <= len(msg["nonce"]) <= NONCE_MAX:
            raise _refuse("malformed", f"nonce must be {NONCE_MIN}..{NONCE_MAX} characters")
        if "sender" in msg and not _SENDER.fullmatch(msg["sender"]):
            raise _refuse("malformed", "'sender' is 1-64 of A-Z a-z 0-9 _ . : @ -")

    def _fresh(self, msg: dict) -> float:
        """Too old against this clock, or (trusted clock only) too far ahead: 'stale'."""
        now = self.now()
        age = now - msg["ts"] / 1000.0
        if age > self.max_age_s:
            raise _refuse("stale", f"{age:+.1f} s old (max {self.max_age_s:g})")
        if age < -self.max_age_s and self.clock_trusted():
            raise _refuse("stale", f"{-age:.1f} s in the future (max {self.max_age_s:g})")
        with self._lock:
            self._forget_nonces(now)
            if msg["nonce"] in self._nonces:
                raise _refuse("replayed", "nonce already used")
        return now

    def _accept(self, key: str, msg: dict, now: float) -> None:
        """Advance the sender's counter (durably) and remember the nonce."""
        nonce = msg["nonce"]
        with self._lock:
            if nonce in self._nonces:  # a twin passed meanwhile (another thread)
                raise _refuse("replayed", "nonce already used")
            self._forget_nonces(now)
            if len(self._nonces) >= self.max_nonces:
                raise _refuse("busy", "too many messages in the age window")
        try:
            fresh = self.store.advance(key, msg["ts"])
        except OverflowError:
            raise _refuse("busy", "too many senders") from None
        except OSError as e:
            raise _refuse("busy", f"cannot record the sender's counter: {e.strerror}") from None
        if not fresh:
            raise _refuse("replayed", "'ts' not newer than the last accepted from this sender")
        with self._lock:
            self._nonces[nonce] = now + 2 * self.max_age_s

    def _check_sig(self, msg: dict) -> str:
        if self.hmac_key is None:
            raise _refuse("bad signature", "signed messages are not enabled (no cmd_hmac_key)")
        sig = msg["sig"]
        fields = {k: v for k, v in msg.items() if k != "sig"}
        want = signature(fields, self.hmac_key)
        if not hmac.compare_digest(want.encode(), sig.lower().encode()):
            raise _refuse("bad signature")
        return "platform:hmac"

    def _check_code(self, msg: dict) -> tuple[str, Any]:
        if self.check_code is None:
            raise _refuse("wrong code", "codes are not accepted here (no code checker)")
        with self._lock:
            left = self.lockout.remaining(self.mono())
        if left > 0:
            raise _refuse("locked out", f"{left:.0f} s left")
        found = self.check_code(msg["code"])
        if found is None or found is False:
            with self._lock:
                self.lockout.failure(self.mono())
            raise _refuse("wrong code")
        with self._lock:
            self.lockout.success()
        user = found if isinstance(found, str) else str(getattr(found, "user", "") or "user")
        may = getattr(found, "may_use_area", None)
        if callable(may) and msg.get("area") and not may(msg["area"]):
            raise _refuse("not allowed", f"user may not use area {msg['area']!r}")
        return user, found

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
