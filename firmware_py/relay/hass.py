"""Home Assistant MQTT discovery: one ``alarm_control_panel`` per area, one ``binary_sensor``
per zone, a ``sensor`` and an ``event`` entity with the last command result, all with
availability from the controller's ``status`` topic and values read from the retained ``state``
JSON (``{"areas": {name: {"state": ..., "open_alarm": bool}}, "zones": {name: {...}}}``).

Arming from Home Assistant sends a code-authenticated command on ``cmd`` (``code:
REMOTE_CODE``: HA asks the user for the code and passes it through; the controller checks it).
Every template here must render in Home Assistant's sandboxed Jinja2 (ranges of at most
100 000 items, no attribute tricks): tests/relay/test_hass_templates.py renders each one.
"""
from __future__ import annotations

import json
import re

from .topics import Topics

# zone type -> binary_sensor device_class
DEVICE_CLASS = {"panic": "safety", "duress": "safety", "tamper": "tamper",
                "perimeter": "motion", "entry_exit": "door", "interior": "motion",
                "technical": "problem", "keyswitch": "lock"}

# guardroom area state -> Home Assistant alarm state (an open alarm incident in the area wins:
# ``triggered``, whatever the area state; see docs/operator/home-assistant.md)
AREA_MAP = {"disarmed": "disarmed", "exit_delay": "arming", "armed_away": "armed_away",
            "armed_stay": "armed_home", "entry_delay": "pending", "alarm": "triggered"}

#: the ``sender`` of HA's commands: its ``ts`` counter is kept apart from other senders'
SENDER = "homeassistant"

# HA renders the command template with ``action`` (the payload_* below) and ``code``.
# ts: Unix ms (the controller's replay counter: HA's ms clock only moves forward).
# nonce: microseconds + a small random number (a sandbox range holds at most 100 000 items).
_CMD_TEMPLATE = (
    '{"cmd": "{{ action }}", "area": AREA, "code": {{ code | string | tojson }}, '
    '"sender": "' + SENDER + '", "ts": {{ (now().timestamp() * 1000) | int }}, '
    '"nonce": "ha-{{ (now().timestamp() * 1000000) | int }}-'
    '{{ range(10000, 100000) | random }}"}')

_PANEL_STATE = ("{% set a = value_json.areas.get(AREA, {}) %}"
                "{% if a.get('open_alarm') %}triggered"
                "{% else %}{{ MAP.get(a.get('state'), '') }}{% endif %}")

_RESULT_STATE = ("{% if value_json.ok %}ok: {{ value_json.cmd }}"
                 "{% else %}{{ ('refused: ' ~ (value_json.reason | default('?')) ~ ' ('"
                 " ~ (value_json.cmd | default('?')) ~ ')')[:250] }}{% endif %}")

_RESULT_EVENT = ("{{ {'event_type': 'accepted' if value_json.ok else 'refused', "
                 "'cmd': value_json.cmd | default(''), "
                 "'reason': value_json.reason | default('')} | tojson }}")


def _obj_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _device(controller: str, site: str) -> dict:
    return {"identifiers": [f"guardroom_{_obj_id(controller)}"],
            "name": f"guardroom {site}/{controller}", "manufacturer": "guardroom",
            "model": "edge alarm controller"}


def panel_config(topics: Topics, area: str, dev: dict, avail: dict) -> dict:
    node = _obj_id(topics.controller)
    a = json.dumps(area)
    return {
        "name": f"Area {area}", "unique_id": f"guardroom_{node}_area_{_obj_id(area)}",
        "state_topic": topics.state,
        "value_template": _PANEL_STATE.replace("AREA", a).replace("MAP", json.dumps(AREA_MAP)),
        "command_topic": topics.cmd, "command_template": _CMD_TEMPLATE.replace("AREA", a),
        "code": "REMOTE_CODE", "code_arm_required": True, "code_disarm_required": True,
        "payload_arm_away": "arm_away", "payload_arm_home": "arm_stay",
        "payload_disarm": "disarm", "supported_features": ["arm_away", "arm_home"],
        "device": dev, **avail,
    }


def zone_config(topics: Topics, zone: dict, dev: dict, avail: dict) -> dict:
    node = _obj_id(topics.controller)
    name = str(zone["name"])
    zn = json.dumps(name)
    cfg = {
        "name": f"Zone {name}", "unique_id": f"guardroom_{node}_zone_{_obj_id(name)}",
        "state_topic": topics.state,
        "value_template": ("{{ 'ON' if (value_json.zones[" + zn + "].state | "
                           "default('normal')) not in ('normal', 'offline') else 'OFF' }}"),
        "device": dev, **avail,
    }
    dc = DEVICE_CLASS.get(str(zone.get("type", "")))
    if dc:
        cfg["device_class"] = dc
    return cfg


def result_configs(topics: Topics, dev: dict, avail: dict) -> tuple[dict, dict]:
    """The last command result: a sensor (state text + every field as attributes) and an
    event entity (``accepted`` / ``refused``) for automations and notifications."""
    node = _obj_id(topics.controller)
    sensor = {"name": "Last command", "unique_id": f"guardroom_{node}_last_command",
              "state_topic": topics.cmd_result, "value_template": _RESULT_STATE,
              "json_attributes_topic": topics.cmd_result, "icon": "mdi:shield-key",
              "device": dev, **avail}
    event = {"name": "Command result", "unique_id": f"guardroom_{node}_command_result",
             "state_topic": topics.cmd_result, "value_template": _RESULT_EVENT,
             "event_types": ["accepted", "refused"], "device": dev, **avail}
    return sensor, event


def discovery_messages(prefix: str, topics: Topics, areas: list[str],
                       zones: list[dict]) -> list[tuple[str, str]]:
    """(topic, retained JSON payload) for every entity."""
    node = _obj_id(topics.controller)
    dev = _device(topics.controller, topics.site)
    avail = {"availability_topic": topics.status, "payload_available": "online",
             "payload_not_available": "offline"}
    out = []
    for area in areas:
        out.append((f"{prefix}/alarm_control_panel/{node}/{_obj_id(area)}/config",
                    json.dumps(panel_config(topics, area, dev, avail))))
    for z in zones:
        out.append((f"{prefix}/binary_sensor/{node}/{_obj_id(str(z['name']))}/config",
                    json.dumps(zone_config(topics, z, dev, avail))))
    sensor, event = result_configs(topics, dev, avail)
    out.append((f"{prefix}/sensor/{node}/last_command/config", json.dumps(sensor)))
    out.append((f"{prefix}/event/{node}/command_result/config", json.dumps(event)))
    return out
