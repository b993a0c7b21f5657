"""Codes are stored hashed, checked by value, and wrong codes lock out for a growing time."""
import pytest

from guardroom.codes import CodeBook, Lockout, hash_code, verify_code


def test_hash_verifies_only_the_right_code():
    h = hash_code("2468")
    assert "2468" not in h
    assert verify_code("2468", h)
    assert not verify_code("2469", h)
    assert not verify_code("2468", "garbage")
    assert hash_code("2468") != h  # salted


@pytest.mark.parametrize("bad", ["", "12", "12a4", "1234567890123"])
def test_hash_refuses_non_codes(bad):
    with pytest.raises(ValueError):
        hash_code(bad)


def test_codebook_user_installer_duress_and_cards():
    book = CodeBook([
        {"name": "guard", "level": "user", "code_hash": hash_code("1234"),
         "duress_hash": hash_code("4321"), "cards": ["00012345"], "areas": ["building"]},
        {"name": "inst", "level": "installer", "code_hash": hash_code("7777"), "cards": []},
        {"name": "gone", "level": "user", "code_hash": hash_code("5555"), "enabled": False},
    ])
    m = book.check("1234")
    assert (m.user, m.level, m.duress) == ("guard", 2, False)
    assert book.check("4321").duress
    assert book.check("7777").level == 3
    assert book.check("5555") is None
    assert book.check("0000") is None
    assert book.card("12345").user == "guard"
    assert book.card("999") is None
    assert m.may_use_area("building") and not m.may_use_area("perimeter")


def test_lockout_grows_and_resets_on_success():
    lk = Lockout(attempts=3, lock_s=10, max_lock_s=25)
    assert lk.failure(0) == 0 and lk.failure(1) == 0
    assert lk.failure(2) == 10
    assert lk.remaining(5) == pytest.approx(7)
    assert lk.remaining(12) == 0
    for t in (13, 14):
        lk.failure(t)
    assert lk.failure(15) == 20          # doubled
    for t in (40, 41):
        lk.failure(t)
    assert lk.failure(42) == 25          # capped
    lk.success()
    lk.failure(100), lk.failure(101)
    assert lk.failure(102) == 10         # back to the first length
