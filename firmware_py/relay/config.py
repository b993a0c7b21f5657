"""The ``[mqtt]`` config section: broker, TLS, credentials, protocol, supervision, commands,
Home Assistant discovery. Validated by guardroom.schema (unknown keys are errors)."""
from __future__ import annotations

import re

from ..schema import Bool, Choice, Float, Int, ListOf, Section, Str

_HEX_KEY = re.compile(r"(?:[0-9a-fA-F]{2}){16,64}")  # 16..64 bytes of hex


def _hex_key(value: str):
    if value and not _HEX_KEY.fullmatch(value):
        return "must be 32 to 128 hex digits (an even number), or empty"
    return None
_PREFIX = r"[A-Za-z0-9_\-.]+(?:/[A-Za-z0-9_\-.]+)*"  # no wildcards, no empty levels


_ENDPOINT = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::[0-9]{1,5})?"   # host, host:port, [v6]:port


def _check(sec: dict):
    if bool(sec.get("host")) == bool(sec.get("hosts")):
        return "give host (one broker) or hosts (a list of brokers), not both"
    for item in sec.get("hosts") or []:
        port = item.rsplit(":", 1)[1] if item.count(":") == 1 or item.startswith("[") \
            and "]:" in item else ""
        if port and not 0 < int(port) < 65536:
            return f"hosts: port of {item!r} out of range"
    if sec.get("password") and sec.get("password_file"):
        return "give password or password_file, not both"
    if bool(sec.get("cert_file")) != bool(sec.get("key_file")):
        return "cert_file and key_file go together (client certificate)"
    if not sec.get("tls") and (sec.get("ca_file") or sec.get("cert_file")):
        return "ca_file/cert_file are set but tls is false"
    if 0 < sec.get("nonalarm_rate", 0) < 10:
        return "nonalarm_rate: 0 (unpaced) or at least 10 events/s"
    if (sec.get("password") or sec.get("password_file")) and not sec.get("username"):
        return "a password needs a username"
    return None


MQTT_SCHEMA = Section({
    "host": Str(default="", doc="broker host name or address (or give hosts)"),
    "hosts": ListOf(Str(pattern=_ENDPOINT, max_len=262), default=list, max_len=16, unique=True,
                    doc="several brokers, tried in turn: \"host\" or \"host:port\" (\"[v6]:port\"); "
                        "after a failed attempt the controller moves to the next one, keeping "
                        "its outbox order; port defaults to port"),
    "port": Int(default=0, min=0, max=65535,
                doc="broker TCP port; 0 = 1883, or 8883 when tls is true"),
    "tls": Bool(default=False, doc="connect with TLS (server certificate checked)"),
    "ca_file": Str(default="", doc="CA bundle that signed the broker certificate "
                                   "(empty: the system CAs)"),
    "cert_file": Str(default="", doc="client certificate (PEM) for mutual TLS"),
    "key_file": Str(default="", doc="client private key (PEM) for mutual TLS"),
    "username": Str(default="", max_len=256, doc="MQTT user name (per controller)"),
    "password": Str(default="", max_len=1024, secret=True,
                    doc="MQTT password (prefer password_file); never shown nor logged"),
    "password_file": Str(default="", doc="file holding the MQTT password (first line)"),
    "client_id": Str(default="", max_len=128,
                     doc="MQTT client id; empty = the controller id"),
    "protocol": Choice(["auto", "v5", "v311"], default="auto",
                       doc="auto = MQTT v5, falling back to 3.1.1 if the broker refuses v5"),
    "session_expiry_s": Int(default=0, min=0, max=604800,
                            doc="0 = a clean session; > 0 = a persistent session kept this long "
                                "by the broker (acks and commands sent while the controller is "
                                "away wait for it; on a RabbitMQ cluster with quorum session "
                                "queues it can resume on another node). MQTT 3.1.1 has no "
                                "expiry: the broker's own limit applies"),
    "keepalive_s": Int(default=30, min=5, max=3600, doc="MQTT keepalive"),
    "reconnect_max_s": Float(default=2.0, min=0.5, max=600,
                             doc="cap of the jittered reconnect backoff (a random wait up to "
                                 "0.25, 0.5, 1, 2 .. s); raise it for a large fleet on one "
                                 "broker tier"),
    "nonalarm_rate": Int(default=1000, min=0, max=1_000_000,
                         doc="non-alarm events (troubles, restores, tests...) sent per second "
                             "at most; alarm-class events are never paced. Keep it below what "
                             "the platform reads, so the broker's queue to it stays short and "
                             "an alarm is not stuck behind troubles; 0 = unpaced, else at "
                             "least 10"),
    "heartbeat_s": Float(default=10.0, min=0.5, max=3600,
                         doc="uplink declared down after this long without broker contact"),
    "topic_prefix": Str(default="guardroom", pattern=_PREFIX, max_len=128,
                        doc="topic root is <topic_prefix>/<site>/<controller>"),
    "cmd_hmac_key": Str(default="", check=_hex_key, secret=True,
                        doc="hex key (16-64 bytes) for signed platform commands; "
                            "empty = signed commands refused"),
    "cmd_max_age_s": Int(default=30, min=5, max=600,
                         doc="commands and acks older than this (or newer, on a trusted clock) "
                             "are refused as stale"),
    "cmd_clock": Choice(["ntp", "rtc", "none"], default="ntp",
                        doc="when this controller's clock may refuse a command or ack as "
                            "dated in the future: ntp = while NTP says synchronised, rtc = "
                            "always (a real-time clock is fitted), none = never (replays "
                            "are still refused by the sender's counter)"),
    "hass_discovery": Bool(default=False, doc="publish Home Assistant discovery configs"),
    "hass_prefix": Str(default="homeassistant", pattern=_PREFIX, max_len=128,
                       doc="Home Assistant discovery prefix"),
}, check=_check)
