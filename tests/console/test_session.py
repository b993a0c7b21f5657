"""Login, levels, wrong-code lockout and idle timing, with time passed in."""
from guardroom.codes import Lockout, Match
from guardroom.console.session import LEVEL_ANYONE, LEVEL_INSTALLER, LEVEL_USER, Session

ALICE = Match("alice", LEVEL_USER, areas=("main",))
INST = Match("ian", LEVEL_INSTALLER)


def make(**kw):
    return Session(Lockout(kw.get("attempts", 5), kw.get("lock_s", 90), 3600),
                   kw.get("idle", 600))


def test_starts_at_level_one():
    s = make()
    assert s.level == LEVEL_ANYONE and s.level_name == "anyone" and not s.logged_in


def test_login_and_area_rights():
    s = make()
    r = s.attempt(ALICE, 10.0)
    assert r.ok and s.level == LEVEL_USER and s.user == "alice"
    assert s.may_use_area("main") and not s.may_use_area("vault")
    assert s.logout() == ALICE and s.level == LEVEL_ANYONE


def test_five_wrong_codes_lock_and_lock_grows():
    s = make()
    t = 100.0
    for i in range(4):
        r = s.attempt(None, t)
        assert not r.ok and not r.lockout_started and r.locked_s == 0
    r = s.attempt(None, t)
    assert r.lockout_started and r.locked_s == 90
    assert s.locked(t + 1) == 89
    # the right code is refused while locked
    r = s.attempt(INST, t + 10)
    assert not r.ok and r.locked_s == 80 and not s.logged_in
    # after the lock, five more wrong codes: twice as long
    t += 91
    for i in range(5):
        r = s.attempt(None, t)
    assert r.lockout_started and r.locked_s == 180
    t += 181
    assert s.attempt(INST, t).ok and s.level == LEVEL_INSTALLER
    assert s.lockout.lockouts == 0          # success resets the growth


def test_idle_left():
    s = make(idle=60)
    assert s.idle_left(5.0) is None          # nobody logged in: nothing to time out
    s.attempt(ALICE, 100.0)
    assert s.idle_left(130.0) == 30
    s.touch(150.0)
    assert s.idle_left(200.0) == 10
    assert s.idle_left(400.0) == 0
