"""guardroom's MQTT discovery in a real Home Assistant (slow, opt-in): the emulated school
site with its daemon, HA started against the same Mosquitto, driven as a user would: arm and
disarm with a code, a wrong code (the refusal must reach HA), a hold-up press on the disarmed
building (the panel must say ``triggered``). Needs a Home Assistant install: ``make hass-venv``
then ``make test-hass`` (or set GUARDROOM_HASS to its ``hass`` executable); skipped otherwise.
Tried with Home Assistant 2024.3.3 (packaging/hass-2024.3.txt)."""
import os
import shutil
import tempfile

import pytest

from guardroom.emulators.site import EmulatedSite

from .hass_rig import HomeAssistant

HASS = os.environ.get("GUARDROOM_HASS", "")

pytestmark = [
    pytest.mark.hass,
    pytest.mark.skipif(not (HASS and os.access(HASS, os.X_OK)),
                       reason="no Home Assistant: set GUARDROOM_HASS to a `hass` executable "
                              "(make hass-venv; make test-hass)"),
]


def patch(doc):
    doc["mqtt"]["hass_discovery"] = True
    doc["areas"]["building"]["exit_delay_s"] = 0
    doc["areas"]["building"]["fallback_s"] = 600


@pytest.fixture(scope="module")
def rig():
    workdir = tempfile.mkdtemp(prefix="guardroom-hass-")
    with EmulatedSite(patch=patch) as site:
        ha = HomeAssistant(HASS, os.path.join(workdir, "ha"), site.broker.port).start()
        try:
            yield site, ha
        finally:
            ha.stop()
            if not os.environ.get("GUARDROOM_KEEP_SITE"):
                shutil.rmtree(workdir, ignore_errors=True)


def test_discovery_arm_disarm_refusal_and_panic(rig):
    site, ha = rig
    panel = ha.entity("alarm_control_panel", "area_building", timeout=120)
    ha.entity("alarm_control_panel", "area_perimeter")
    panic = ha.entity("binary_sensor", "zone_panic_reception")
    last = ha.entity("sensor", "last_command")
    ha.wait_state(panel, "disarmed")
    ha.wait_state(panic, "off")

    ha.call("alarm_control_panel.alarm_arm_away", entity_id=panel, code="1234")
    ha.wait_state(panel, "armed_away")
    ha.wait_state(last, "ok: arm_away")
    ha.call("alarm_control_panel.alarm_disarm", entity_id=panel, code="1234")
    ha.wait_state(panel, "disarmed")

    ha.call("alarm_control_panel.alarm_arm_away", entity_id=panel, code="9999")
    ha.wait_state(last, "refused: wrong code (arm_away)")
    assert ha.states[panel] == "disarmed"
    ev = ha.entity("event", "command_result")
    ha.wait(lambda: ha.attrs.get(ev, {}).get("event_type") == "refused", 20,
            "the event entity's refused event")

    site.press("panic_reception")                     # the building stays disarmed
    ha.wait_state(panic, "on")
    ha.wait_state(panel, "triggered")
    site.release("panic_reception")
    site.platform.wait_for(lambda e: e["kind"] == "restore"
                           and e["zone"] == "panic_reception", 10)
    ha.wait_state(panic, "off")
    assert ha.states[panel] == "triggered"            # latched until reset
    msg = site.platform.send_cmd(site.config["site"]["controller"], "reset", area="building",
                                 code="1234", site=site.config["site"]["name"])
    r = site.platform.wait_result(lambda r: r.get("nonce") == msg["nonce"], 10)
    assert r["ok"], r
    ha.wait_state(panel, "disarmed")

    log = ha.log_text()
    for bad in ("TemplateError", "MqttCommandTemplateException", "Range too big",
                "Received unexpected payload"):
        assert bad not in log, ha.log_tail()
