"""Command authentication: codes, signatures, staleness, replay, shape, lockout."""
import json

import pytest

from guardroom.cmdauth import CommandVerifier, sign, with_code
from guardroom.errors import AuthError

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")


class Clock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


class Codes:
    def __init__(self):
        self.seen = 0

    def __call__(self, code):
        self.seen += 1
        return {"1234": "alice", "9999": "bob"}.get(code)


def verifier(clock=None, **kw):
    return CommandVerifier(KEY, Codes(), max_age_s=30, now=clock or Clock(), **kw)


def b(obj) -> bytes:
    return json.dumps(obj).encode()


def refused(v, payload, reason):
    with pytest.raises(AuthError) as ei:
        v.verify(payload)
    assert ei.value.reason == reason, str(ei.value)
    return ei.value


def test_code_and_signature_accepted():
    clock = Clock()
    v = verifier(clock)
    ts = int(clock.t * 1000)
    cmd = v.verify(b(with_code({"cmd": "arm_away", "area": "bank", "ts": ts}, "1234")))
    assert cmd["user"] == "alice" and cmd["cmd"] == "arm_away" and cmd["area"] == "bank"
    assert "code" not in cmd
    cmd = v.verify(b(sign({"cmd": "bypass", "zone": "door1", "ts": ts}, KEY)))
    assert cmd["user"] == "platform:hmac" and "sig" not in cmd and cmd["zone"] == "door1"


def test_forged_signature_refused():
    clock = Clock()
    v = verifier(clock)
    good = sign({"cmd": "disarm", "area": "bank", "ts": int(clock.t * 1000)}, KEY)
    tampered = dict(good, area="vault")                        # signed for another area
    refused(v, b(tampered), "bad signature")
    other = sign({"cmd": "disarm", "area": "bank", "ts": int(clock.t * 1000)}, b"k" * 32)
    refused(v, b(other), "bad signature")
    v.verify(b(good))                                          # the genuine one still passes


def test_wrong_code_stale_and_replay():
    clock = Clock()
    v = verifier(clock)
    ts = int(clock.t * 1000)
    refused(v, b(with_code({"cmd": "disarm", "area": "bank", "ts": ts}, "0000")), "wrong code")
    refused(v, b(sign({"cmd": "disarm", "area": "bank", "ts": ts - 31_000}, KEY)), "stale")
    refused(v, b(sign({"cmd": "disarm", "area": "bank", "ts": ts + 31_000}, KEY)), "stale")
    msg = b(sign({"cmd": "disarm", "area": "bank", "ts": ts}, KEY))
    v.verify(msg)
    clock.t += 5
    refused(v, msg, "replayed")
    clock.t += 100                                             # nonce forgotten, but stale
    refused(v, msg, "stale")


def test_shape_checks():
    clock = Clock()
    v = verifier(clock)
    ts = int(clock.t * 1000)
    refused(v, b"not json", "malformed")
    refused(v, b([1, 2]), "malformed")
    refused(v, b({"cmd": "open_vault", "ts": ts, "nonce": "n" * 16, "code": "1234"}),
            "unknown command")
    refused(v, b({"cmd": "arm_away", "ts": ts, "nonce": "n" * 16, "code": "1234"}),
            "unknown command")                                 # needs an area
    refused(v, b({"cmd": "arm_away", "area": "a", "ts": ts, "nonce": "n" * 16}), "missing auth")
    refused(v, b({"cmd": "arm_away", "area": "a", "ts": ts, "nonce": "short", "code": "1"}),
            "malformed")
    refused(v, b({"cmd": "arm_away", "area": "a", "ts": str(ts), "nonce": "n" * 16,
                  "code": "1234"}), "malformed")
    refused(v, b({"cmd": "arm_away", "area": "a", "ts": ts, "nonce": "n" * 16, "code": "1234",
                  "sudo": True}), "malformed")
    both = sign({"cmd": "arm_away", "area": "a", "ts": ts}, KEY)
    both["code"] = "1234"
    refused(v, b(both), "malformed")


def test_no_key_no_checker():
    clock = Clock()
    v = CommandVerifier(None, None, now=clock)
    ts = int(clock.t * 1000)
    refused(v, b(sign({"cmd": "siren_test", "ts": ts}, KEY)), "bad signature")
    refused(v, b(with_code({"cmd": "siren_test", "ts": ts}, "1234")), "wrong code")


def test_wrong_code_lockout_and_area_rights():
    clock = Clock()
    codes = Codes()
    v = CommandVerifier(KEY, codes, now=clock, max_wrong=3, lockout_s=60)
    ts = lambda: int(clock.t * 1000)  # noqa: E731
    for _ in range(3):
        refused(v, b(with_code({"cmd": "disarm", "area": "a", "ts": ts()}, "0000")),
                "wrong code")
    checked = codes.seen
    refused(v, b(with_code({"cmd": "disarm", "area": "a", "ts": ts()}, "1234")), "locked out")
    assert codes.seen == checked                       # not even checked while locked
    v.verify(b(sign({"cmd": "disarm", "area": "a", "ts": ts()}, KEY)))   # signed still works
    clock.t += 61
    assert v.verify(b(with_code({"cmd": "disarm", "area": "a", "ts": ts()}, "1234")))["user"] \
        == "alice"

    class Match:
        user = "carol"

        def may_use_area(self, area):
            return area == "lobby"

    v = CommandVerifier(None, lambda code: Match() if code == "5555" else None, now=clock)
    assert v.verify(b(with_code({"cmd": "arm_away", "area": "lobby", "ts": ts()}, "5555")))[
        "user"] == "carol"
    refused(v, b(with_code({"cmd": "arm_away", "area": "vault", "ts": ts()}, "5555")),
            "not allowed")


def test_nonce_memory_is_bounded():
    clock = Clock()
    v = verifier(clock, max_nonces=50)
    for i in range(50):
        v.verify(b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000)}, KEY)))
    refused(v, b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000)}, KEY)), "busy")
    clock.t += 61                                        # the window passed: memory freed
    v.verify(b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000)}, KEY)))
    assert v.remembered() == 1


def test_refusal_never_carries_the_code():
    clock = Clock()
    v = verifier(clock)
    err = refused(v, b(with_code({"cmd": "disarm", "area": "a", "ts": int(clock.t * 1000)},
                                 "8642")), "wrong code")
    assert "8642" not in str(err) and "8642" not in repr(err.args)
