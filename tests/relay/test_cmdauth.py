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
        v.verify(b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000) + i}, KEY)))
    refused(v, b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000) + 50}, KEY)), "busy")
    clock.t += 61                                        # the window passed: memory freed
    v.verify(b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000)}, KEY)))
    assert v.remembered() == 1


def test_refusal_never_carries_the_code():
    clock = Clock()
    v = verifier(clock)
    err = refused(v, b(with_code({"cmd": "disarm", "area": "a", "ts": int(clock.t * 1000)},
                                 "8642")), "wrong code")
    assert "8642" not in str(err) and "8642" not in repr(err.args)


# ---------------------------------------------------------------- counters, acks, bounds
def test_accepted_once_refused_forever_even_by_a_new_verifier(tmp_path):
    """The sender's counter is on disk: a restarted controller (a new verifier over the same
    file) refuses a command it accepted before, even with the nonce memory gone."""
    from guardroom.authstore import AuthStore

    clock = Clock()
    path = str(tmp_path / "auth.json")
    v = verifier(clock, store=AuthStore(path))
    msg = b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000)}, KEY))
    v.verify(msg)
    v2 = verifier(clock, store=AuthStore(path))
    assert v2.remembered() == 0
    refused(v2, msg, "replayed")
    # an older command, captured and held back, is refused too once a newer one passed
    old = b(sign({"cmd": "disarm", "area": "a", "ts": int(clock.t * 1000) - 5}, KEY))
    refused(v2, old, "replayed")
    v2.verify(b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000) + 1}, KEY)))
    assert (tmp_path / "auth.json").stat().st_mode & 0o777 == 0o600


def test_senders_count_separately_and_sender_is_signed():
    clock = Clock()
    v = verifier(clock)
    ts = int(clock.t * 1000)
    v.verify(b(sign({"cmd": "siren_test", "ts": ts, "sender": "ops-a"}, KEY)))
    v.verify(b(sign({"cmd": "siren_test", "ts": ts, "sender": "ops-b"}, KEY)))
    moved = dict(sign({"cmd": "siren_test", "ts": ts, "sender": "ops-a"}, KEY), sender="ops-c")
    refused(v, b(moved), "bad signature")


def test_wrong_clock_at_boot():
    """A controller without an RTC boots with its clock behind: a fresh command then looks
    "from the future". Refused only while the clock is trusted; never a replay."""
    clock = Clock()
    trusted = [False]
    v = verifier(clock, clock_trusted=lambda: trusted[0])
    ahead = int(clock.t * 1000) + 3 * 3600 * 1000          # the platform's (right) time
    msg = b(sign({"cmd": "siren_test", "ts": ahead}, KEY))
    v.verify(msg)
    refused(v, msg, "replayed")
    trusted[0] = True
    refused(v, b(sign({"cmd": "siren_test", "ts": ahead + 1}, KEY)), "stale")
    # an old command is refused whatever the trust: the clock is behind, never ahead
    trusted[0] = False
    refused(v, b(sign({"cmd": "siren_test", "ts": int(clock.t * 1000) - 60_000}, KEY)),
            "stale")


def test_acks_must_be_signed_fresh_and_new():
    clock = Clock()
    v = verifier(clock)
    ts = int(clock.t * 1000)
    ack = b(sign({"incident": 3, "user": "J. Smith", "ts": ts}, KEY))
    got = v.verify_ack(ack)
    assert got["incident"] == 3 and got["user"] == "J. Smith"
    with pytest.raises(AuthError) as ei:
        v.verify_ack(ack)
    assert ei.value.reason == "replayed"
    for bad, reason in [
        ({"incident": 4, "user": "x", "ts": ts + 1, "nonce": "n" * 16}, "missing auth"),
        (dict(sign({"incident": 4, "ts": ts + 2}, KEY), incident=5), "bad signature"),
        (sign({"incident": 4, "ts": ts - 60_000}, KEY), "stale"),
        (sign({"incident": 4, "ts": ts + 3, "user": "u" * 65}, KEY), "malformed"),
        (sign({"incident": True, "ts": ts + 4}, KEY), "malformed"),
    ]:
        with pytest.raises(AuthError) as ei:
            v.verify_ack(b(bad))
        assert ei.value.reason == reason, (bad, str(ei.value))
    # a signed ack is not a command, nor the reverse
    refused(v, b(sign({"incident": 6, "ts": ts + 5}, KEY)), "malformed")
    with pytest.raises(AuthError):
        v.verify_ack(b(sign({"cmd": "siren_test", "ts": ts + 6}, KEY)))


def test_huge_and_deep_json_refused_cleanly():
    v = verifier()
    refused(v, b"[" * 100_000 + b"]" * 100_000, "malformed")
    refused(v, b'{"cmd": "siren_test", "zone": ' + b"[" * 50 + b"]" * 50 + b"}", "malformed")
    refused(v, b'{"cmd": "siren_test", "x": "' + b"a" * 5000 + b'"}', "malformed")
    refused(v, b"\xff\xfe", "malformed")
    with pytest.raises(AuthError):
        v.verify_ack(b"{" * 3000)


def test_remote_code_lockout_survives_a_restart(tmp_path):
    from guardroom.authstore import AuthStore

    clock = Clock()
    path = str(tmp_path / "auth.json")
    v = CommandVerifier(KEY, Codes(), now=clock, max_wrong=3, lockout_s=60,
                        store=AuthStore(path))
    for i in range(3):
        refused(v, b(with_code({"cmd": "disarm", "area": "a", "ts": int(clock.t * 1000) + i},
                               "0000")), "wrong code")
    v2 = CommandVerifier(KEY, Codes(), now=clock, max_wrong=3, lockout_s=60,
                         store=AuthStore(path))
    refused(v2, b(with_code({"cmd": "disarm", "area": "a", "ts": int(clock.t * 1000) + 9},
                            "1234")), "locked out")
