"""A real Home Assistant for the discovery test: its own config dir (MQTT set up as a config
entry for the test broker, ``mqtt_statestream`` publishing every entity state back to MQTT, an
automation that calls any service asked for on ``hatest/call``), run as a process with
``--skip-pip`` and stopped by its pid. Nothing in it knows guardroom: the test drives HA as a
user would (service calls) and reads what HA shows (entity states)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CALL_TOPIC = "hatest/call"
STATE_BASE = "hatest/state"

_CONFIG = f"""
homeassistant:
  name: guardroom test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
logger:
  default: warning
mqtt_statestream:
  base_topic: {STATE_BASE}
  publish_attributes: true
automation:
  - id: guardroom_test_call
    mode: queued
    trigger:
      - platform: mqtt
        topic: {CALL_TOPIC}
    action:
      - service: "{{{{ trigger.payload_json.service }}}}"
        data: "{{{{ trigger.payload_json.data }}}}"
"""


def _entries(port: int) -> dict:
    return {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {
        "entries": [{"entry_id": "guardroomtestmqtt", "version": 1, "minor_version": 1,
                     "domain": "mqtt", "title": "test broker",
                     "data": {"broker": "127.0.0.1", "port": port, "discovery": True},
                     "options": {}, "source": "user", "unique_id": None,
                     "disabled_by": None, "pref_disable_new_entities": False,
                     "pref_disable_polling": False}]}}


class HomeAssistant:
    def __init__(self, hass_exe: str, workdir: str, broker_port: int):
        self.exe, self.dir, self.port = hass_exe, workdir, broker_port
        self.proc = None
        self.states: dict[str, str] = {}           # entity_id -> state
        self.attrs: dict[str, dict] = {}           # entity_id -> {attribute: value}
        self._cond = threading.Condition()
        self._client = None

    def start(self) -> "HomeAssistant":
        os.makedirs(os.path.join(self.dir, ".storage"), exist_ok=True)
        with open(os.path.join(self.dir, "configuration.yaml"), "w") as fh:
            fh.write(_CONFIG)
        with open(os.path.join(self.dir, ".storage", "core.config_entries"), "w") as fh:
            json.dump(_entries(self.port), fh)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, *a: cl.subscribe(STATE_BASE + "/#", 1)
        c.on_message = self._on_message
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        self._client = c
        self._log = open(os.path.join(self.dir, "ha.log"), "ab")
        self.proc = subprocess.Popen([self.exe, "-c", self.dir, "--skip-pip"],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if getattr(self, "_log", None):
            self._log.close()

    def _on_message(self, cl, u, msg):
        # <base>/<domain>/<object_id>/state or .../<attribute>
        parts = msg.topic[len(STATE_BASE) + 1:].split("/")
        if len(parts) != 3:
            return
        entity = f"{parts[0]}.{parts[1]}"
        text = msg.payload.decode(errors="replace")
        with self._cond:
            if parts[2] == "state":
                self.states[entity] = text
            else:
                try:
                    self.attrs.setdefault(entity, {})[parts[2]] = json.loads(text)
                except ValueError:
                    self.attrs.setdefault(entity, {})[parts[2]] = text
            self._cond.notify_all()

    def wait(self, cond, timeout: float, what: str = "condition"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = cond()
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    raise AssertionError(f"Home Assistant: timed out waiting for {what}; "
                                         f"states: {self.states}\nlog:\n{self.log_tail()}")
                self._cond.wait(left)

    def entity(self, domain: str, suffix: str, timeout: float = 60.0) -> str:
        """The entity id of ``domain`` whose object id ends with ``suffix``, once it exists."""
        return self.wait(lambda: next((e for e in self.states if e.startswith(domain + ".")
                                       and e.endswith(suffix)), None), timeout,
                         f"{domain}.*{suffix}")

    def wait_state(self, entity: str, state: str, timeout: float = 20.0) -> None:
        self.wait(lambda: self.states.get(entity) == state, timeout, f"{entity} == {state}")

    def call(self, service: str, **data) -> None:
        """A service call, as the UI makes it (through an automation: no API token needed)."""
        self._client.publish(CALL_TOPIC, json.dumps({"service": service, "data": data}), qos=1)

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(os.path.join(self.dir, "home-assistant.log"), "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        try:
            with open(os.path.join(self.dir, "home-assistant.log"), "rb") as fh:
                return fh.read().decode(errors="replace")
        except OSError:
            return ""
