"""Every template guardroom publishes for Home Assistant renders in a sandbox like HA's
(Jinja2's ImmutableSandboxedEnvironment: ranges of at most 100 000 items) with HA-like
``now()`` and the ``random`` filter, and what it renders is what the controller accepts."""
import json
from datetime import datetime, timezone

import pytest

jinja2 = pytest.importorskip("jinja2")
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

from guardroom.cmdauth import CommandVerifier  # noqa: E402
from guardroom.relay.hass import discovery_messages  # noqa: E402
from guardroom.relay.topics import Topics  # noqa: E402

TOPICS = Topics("guardroom", "north-school", "ctl-1")
AREAS = ["building", "perimeter yard"]
ZONES = [{"name": "panic_reception", "type": "panic", "area": "building"},
         {"name": "front_door", "type": "entry_exit", "area": "building"}]


def ha_env():
    env = ImmutableSandboxedEnvironment()
    env.globals["now"] = lambda: datetime.now(timezone.utc)   # HA: aware local time
    return env


def configs():
    return [(t, json.loads(p)) for t, p in
            discovery_messages("homeassistant", TOPICS, AREAS, ZONES)]


def render(src, **variables):
    return ha_env().from_string(src).render(**variables)


def state(**areas):
    return {"areas": {name: dict(a) for name, a in areas.items()},
            "zones": {"panic_reception": {"state": "active"}, "front_door": {"state": "normal"}}}


def test_the_sandbox_has_home_assistants_range_limit():
    # the nonce expression the first release published: HA refused every command with it
    with pytest.raises(OverflowError):
        render('{{ range(10**17, 10**18) | random }}')


def test_every_published_template_renders_in_the_sandbox():
    sample = state(**{"building": {"state": "disarmed", "open_alarm": False},
                      "perimeter yard": {"state": "armed_away", "open_alarm": False}})
    result = {"cmd": "arm_away", "nonce": "x" * 16, "ok": False, "reason": "wrong code"}
    seen = 0
    for topic, cfg in configs():
        for key, src in cfg.items():
            if not key.endswith("_template"):
                continue
            seen += 1
            if key == "command_template":
                for action in (cfg["payload_arm_away"], cfg["payload_arm_home"],
                               cfg["payload_disarm"]):
                    json.loads(render(src, action=action, code="1234"))
            else:
                value_json = result if cfg["state_topic"] == TOPICS.cmd_result else sample
                render(src, value_json=value_json, value=json.dumps(value_json))
    assert seen == 2 * len(AREAS) + len(ZONES) + 2     # panels: state + command; sensor, event


def _panel(area):
    return next(c for t, c in configs() if t.endswith(f"/alarm_control_panel/ctl-1/{area}/config"))


def test_commands_from_the_panel_pass_the_controller_check():
    cfg = _panel("building")
    verifier = CommandVerifier(None, lambda code: "guard" if code == "1234" else None)
    nonces = set()
    for action in ("arm_away", "arm_stay", "disarm"):
        msg = json.loads(render(cfg["command_template"], action=action, code="1234"))
        out = verifier.verify(json.dumps(msg))
        assert out["cmd"] == action and out["area"] == "building" and out["user"] == "guard"
        assert out["sender"] == "homeassistant"
        nonces.add(msg["nonce"])
    assert len(nonces) == 3
    wrong = json.loads(render(cfg["command_template"], action="disarm", code="0000"))
    with pytest.raises(Exception) as err:
        verifier.verify(json.dumps(wrong))
    assert getattr(err.value, "reason", "") == "wrong code"


def test_a_code_with_quotes_still_makes_valid_json():
    cfg = _panel("perimeter_yard")
    msg = json.loads(render(cfg["command_template"], action="disarm", code='12"3\\4'))
    assert msg["code"] == '12"3\\4' and msg["area"] == "perimeter yard"


def test_nonces_differ_and_fit_the_controller_rule():
    cfg = _panel("building")
    got = [json.loads(render(cfg["command_template"], action="disarm", code="1"))["nonce"]
           for _ in range(300)]
    assert len(set(got)) == len(got)
    assert all(16 <= len(n) <= 128 for n in got)


@pytest.mark.parametrize("area_state,open_alarm,shown", [
    ("disarmed", False, "disarmed"), ("disarmed", True, "triggered"),
    ("exit_delay", False, "arming"), ("armed_away", False, "armed_away"),
    ("armed_stay", False, "armed_home"), ("armed_stay", True, "triggered"),
    ("entry_delay", False, "pending"), ("alarm", True, "triggered"),
])
def test_panel_state_mapping(area_state, open_alarm, shown):
    cfg = _panel("building")
    v = state(building={"state": area_state, "open_alarm": open_alarm})
    assert render(cfg["value_template"], value_json=v).strip() == shown


def test_panel_of_an_area_missing_from_the_state_renders_nothing():
    # HA ignores an empty payload: the panel keeps its last state instead of guessing
    assert render(_panel("building")["value_template"], value_json=state()).strip() == ""


def test_refusals_show_in_the_sensor_and_the_event_entity():
    cfgs = dict(configs())
    sensor = cfgs["homeassistant/sensor/ctl-1/last_command/config"]
    event = cfgs["homeassistant/event/ctl-1/command_result/config"]
    refused = {"cmd": "disarm", "nonce": "n" * 16, "ok": False, "reason": "wrong code"}
    ok = {"cmd": "arm_away", "nonce": "m" * 16, "ok": True, "decisions": ["area"]}
    assert render(sensor["value_template"], value_json=refused) == "refused: wrong code (disarm)"
    assert render(sensor["value_template"], value_json=ok) == "ok: arm_away"
    ev = json.loads(render(event["value_template"], value_json=refused))
    assert ev == {"event_type": "refused", "cmd": "disarm", "reason": "wrong code"}
    assert json.loads(render(event["value_template"], value_json=ok))["event_type"] == \
        "accepted"
    assert set(event["event_types"]) == {"accepted", "refused"}
    assert sensor["state_topic"] == event["state_topic"] == TOPICS.cmd_result
