"""The [mqtt] config section: defaults, bounds, cross-field checks, secrets never echoed."""
import pytest

from guardroom.errors import ConfigError
from guardroom.relay import MQTT_SCHEMA


def test_defaults():
    cfg = MQTT_SCHEMA.validate({"host": "broker.example"}, "mqtt")
    assert cfg["port"] == 0 and cfg["protocol"] == "auto" and cfg["heartbeat_s"] == 10.0
    assert cfg["keepalive_s"] == 30 and cfg["topic_prefix"] == "guardroom"
    assert cfg["cmd_max_age_s"] == 30 and cfg["hass_discovery"] is False


def test_problems_name_the_key_and_hide_secrets():
    with pytest.raises(ConfigError) as ei:
        MQTT_SCHEMA.validate({"host": "b", "protocl": "v5", "keepalive_s": 1,
                              "cmd_hmac_key": "not-hex-secret", "topic_prefix": "a/#"}, "mqtt")
    text = str(ei.value)
    assert "mqtt.protocl: unknown key (did you mean 'protocol'?)" in text
    assert "mqtt.keepalive_s" in text and "mqtt.topic_prefix" in text
    assert "mqtt.cmd_hmac_key: must be 32 to 128 hex digits" in text
    assert "not-hex-secret" not in text


@pytest.mark.parametrize("raw, why", [
    ({"password": "x", "password_file": "/f", "username": "u"}, "not both"),
    ({"cert_file": "/c", "tls": True}, "go together"),
    ({"ca_file": "/ca"}, "tls is false"),
    ({"password": "x"}, "needs a username"),
])
def test_cross_field_checks(raw, why):
    with pytest.raises(ConfigError, match=why) as ei:
        MQTT_SCHEMA.validate({"host": "b", **raw}, "mqtt")
    assert "'x'" not in str(ei.value)
