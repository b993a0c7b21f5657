"""The ``open_alarm`` flag of an area in the retained state (what Home Assistant's panel shows
as ``triggered``): set for any open incident in the area, armed or not, 24 h zones included;
never for an incident made only of covert duress alarms."""
from guardroom.views import areas_view

PANIC = {"name": "Reception", "point": 1, "type": "panic"}
TAMPER = {"name": "Lid", "point": 3, "type": "tamper"}
DOOR = {"name": "Door", "point": 4, "type": "perimeter"}
DURESS = {"name": "Till", "point": 2, "type": "duress"}


def view(r):
    return areas_view(r.e.snapshot())["Main"]


def test_panic_on_a_disarmed_area_is_an_open_alarm_until_reset(mk):
    r = mk([PANIC])
    assert view(r)["open_alarm"] is False
    r.feed(1, 1, 1)
    v = view(r)
    assert v["state"] == "disarmed" and v["incident"] >= 1 and v["open_alarm"] is True
    r.feed(2, 1, 0)                       # released: the hold-up stays latched, still open
    assert view(r)["open_alarm"] is True
    r.cmd(3, "reset", area="Main", user="guard")
    assert view(r)["open_alarm"] is False


def test_tamper_while_disarmed_and_intrusion_while_armed_are_open_alarms(mk):
    r = mk([TAMPER, DOOR])
    r.feed(1, 3, 1)
    assert view(r)["open_alarm"] is True
    r.cmd(2, "reset", area="Main", user="guard")
    r.feed(2.5, 3, 0)
    r.cmd(3, "reset", area="Main", user="guard")
    assert view(r)["open_alarm"] is False
    r.arm(10)
    r.feed(2000, 4, 1)
    v = view(r)
    assert v["state"] == "alarm" and v["open_alarm"] is True


def test_duress_alone_never_shows_but_a_later_panic_does(mk):
    r = mk([PANIC, DURESS])
    r.cmd(1, "duress", area="Main", user="keypad:1")
    v = view(r)
    assert v["incident"] >= 1 and v["open_alarm"] is False
    r.feed(2, 2, 1)                       # a duress button: covert too
    assert view(r)["open_alarm"] is False
    r.feed(3, 1, 1)                       # an ordinary hold-up joins the incident: shown
    assert view(r)["open_alarm"] is True
