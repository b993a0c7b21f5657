"""The MQTT uplink: ``Relay`` (events through the durable outbox, retained state and status,
acks and authenticated commands, uplink supervision, Home Assistant discovery) and
``MQTT_SCHEMA`` (the ``[mqtt]`` config section). The contract is in docs/operator/mqtt.md."""
from .client import Relay
from .config import MQTT_SCHEMA
from .topics import Topics

__all__ = ["Relay", "MQTT_SCHEMA", "Topics"]
