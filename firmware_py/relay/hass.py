"""Home Assistant MQTT discovery: one ``alarm_control_panel`` per area, one ``binary_sensor``
per zone, all with availability from the controller's ``status`` topic and values read from the
retained ``state`` JSON (``{"areas": {name: {"state": ...}}, "zones": {name: {"state": ...}}}``).

Arming from Home Assistant sends a code-authenticated command on ``cmd`` (``code:
REMOTE_CODE``: HA asks the user for the code and passes it through; the controller checks it).
"""
from __future__ import annotations

import json
import re

from .topics import Topics

# zone type -> binary_sensor device_class
DEVICE_CLASS = {"panic": "safety", "duress": "safety", "tamper": "tamper",
                "perimeter": "motion", "entry_exit": "door", "interior": "motion",
                "technical": "problem", "keyswitch": "lock"}

# guardroom area state -> Home Assistant alarm state
_AREA_MAP = {"disarmed": "disarmed", "exit_delay": "arming", "armed_away": "armed_away",
             "armed_stay": "armed_home", "entry_delay": "pending", "alarm": "triggered"}


def _obj_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _device(controller: str, site: str) -> dict:
    return {"identifiers": [f"guardroom_{_obj_id(controller)}"],
            "name": f"guardroom {site}/{controller}", "manufacturer": "guardroom",
            "model": "edge alarm controller"}


def discovery_messages(prefix: str, topics: Topics, areas: list[str],
                       zones: list[dict]) -> list[tuple[str, str]]:
    """(topic, retained JSON payload) for every entity."""
    node = _obj_id(topics.controller)
    dev = _device(topics.controller, topics.site)
    avail = {"availability_topic": topics.status, "payload_available": "online",
             "payload_not_available": "offline"}
    out = []
    amap = json.dumps(_AREA_MAP)
    for area in areas:
        a = json.dumps(area)
        cmd_tpl = ('{"cmd": "{{ action }}", "area": ' + a + ', "code": "{{ code }}", '
                   '"ts": {{ (now().timestamp() * 1000) | int }}, '
                   '"nonce": "{{ range(10**17, 10**18) | random }}"}')
        cfg = {
            "name": f"Area {area}", "unique_id": f"guardroom_{node}_area_{_obj_id(area)}",
            "state_topic": topics.state,
            "value_template": ("{% set m = " + amap + " %}"
                               "{{ m.get(value_json.areas[" + a + "].state, 'disarmed') }}"),
            "command_topic": topics.cmd, "command_template": cmd_tpl,
            "code": "REMOTE_CODE", "code_arm_required": True, "code_disarm_required": True,
            "payload_arm_away": "arm_away", "payload_arm_home": "arm_stay",
            "payload_disarm": "disarm", "supported_features": ["arm_away", "arm_home"],
            "device": dev, **avail,
        }
        out.append((f"{prefix}/alarm_control_panel/{node}/{_obj_id(area)}/config",
                    json.dumps(cfg)))
    for z in zones:
        name = str(z["name"])
        zn = json.dumps(name)
        cfg = {
            "name": f"Zone {name}", "unique_id": f"guardroom_{node}_zone_{_obj_id(name)}",
            "state_topic": topics.state,
            "value_template": ("{{ 'ON' if (value_json.zones[" + zn + "].state | "
                               "default('normal')) not in ('normal', 'offline') else 'OFF' }}"),
            "device": dev, **avail,
        }
        dc = DEVICE_CLASS.get(str(z.get("type", "")))
        if dc:
            cfg["device_class"] = dc
        out.append((f"{prefix}/binary_sensor/{node}/{_obj_id(name)}/config", json.dumps(cfg)))
    return out
