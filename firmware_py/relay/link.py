"""One MQTT connection: a paho client used for a single session, never reconnected.

paho keeps unacknowledged QoS 1 messages in memory and re-sends them itself after a reconnect,
which would race the relay's own in-order replay from the outbox. So every connection gets a
fresh client (``reconnect_on_failure=False``); when it ends, the relay throws it away and builds
the next one. paho's network thread runs the session (``loop_start``); every callback is handed
to the asyncio loop by the relay, with the monotonic time it happened.
"""
from __future__ import annotations

import logging
import socket
import ssl
import time
from typing import Callable, Optional

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

# QoS 1 messages on the wire at once. paho cannot change it once connected, and a v5 broker
# disconnects a client that exceeds its Receive Maximum (Mosquitto advertises 20).
MAX_INFLIGHT = 20


class Link:
    """A single session. ``hop(fn, *args)`` must call ``fn(*args)`` in the relay's loop."""

    def __init__(self, *, host: str, port: int, client_id: str, protocol: str,
                 keepalive_s: int, username: str, password: str, tls: bool, ca_file: str,
                 cert_file: str, key_file: str, will_topic: str, hop: Callable,
                 handlers: dict):
        self.host, self.port, self.protocol = host, port, protocol
        self.keepalive_s = keepalive_s
        self.hop = hop
        self.h = handlers               # connack, closed, puback, message
        self.tcp_ok = False             # TCP (and TLS) connected, CONNECT sent
        self.got_connack = False
        self.connacked = False          # CONNACK success
        self.refusal = ""               # broker's reason when CONNACK failed
        self.closed_reason = ""
        self.ended = False
        self.inflight: dict[int, tuple] = {}   # mid -> (kind, seq, t_sent, future)
        self.torn = False
        self.done = None                # asyncio future set by the relay when the session ends
        proto = mqtt.MQTTv5 if protocol == "v5" else mqtt.MQTTv311
        kw = {} if protocol == "v5" else {"clean_session": True}
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto,
                        reconnect_on_failure=False, **kw)
        c.max_inflight_messages_set(MAX_INFLIGHT)
        c.max_queued_messages_set(0)
        if username:
            c.username_pw_set(username, password or None)
        if tls:
            c.tls_set(ca_certs=ca_file or None, certfile=cert_file or None,
                      keyfile=key_file or None, cert_reqs=ssl.CERT_REQUIRED)
        c.will_set(will_topic, "offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c

    # ------------------------------------------------------------------ blocking, off-loop
    def open(self) -> None:
        """TCP (+TLS) connect and send CONNECT. Blocking: run it in an executor."""
        kw = {"clean_start": True} if self.protocol == "v5" else {}
        self.client.connect(self.host, self.port, self.keepalive_s, **kw)
        self.tcp_ok = True
        self.client.loop_start()

    def close(self, clean: bool = True) -> None:
        """End the session and its thread. Blocking: run it in an executor."""
        if self.torn:
            return
        self.torn = True
        c = self.client
        try:
            if clean:
                c.disconnect()
        except Exception:  # noqa: BLE001 - closing must always finish
            pass
        th = getattr(c, "_thread", None)
        if th is not None:
            th.join(1.0)
            if th.is_alive():   # a hung broker never closes: cut the socket under paho
                sock = c.socket()
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                th.join(3.0)
        try:
            c.loop_stop()
        except Exception:  # noqa: BLE001
            pass
        if not self.tcp_ok:
            return
        try:  # no thread ever ran (open failed after connect): drop the socket
            sock = c.socket()
            if sock is not None and th is None:
                sock.close()
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ paho thread
    def _on_connect(self, client, userdata, flags, reason, properties):
        now = time.monotonic()
        self.got_connack = True
        self.hop(self.h["connack"], self, bool(reason.is_failure), str(reason), now)

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.ended = True
        self.hop(self.h["closed"], self, str(reason))

    def _on_publish(self, client, userdata, mid, reason, properties):
        now = time.monotonic()
        failed = bool(getattr(reason, "is_failure", False))
        self.hop(self.h["puback"], self, mid, failed, str(reason), now)

    def _on_message(self, client, userdata, msg):
        now = time.monotonic()
        self.hop(self.h["message"], self, msg.topic, bytes(msg.payload), now)

    def _on_subscribe(self, client, userdata, mid, reasons, properties):
        now = time.monotonic()
        bad = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        self.hop(self.h["suback"], self, bad, now)

    # ------------------------------------------------------------------ loop thread
    def publish(self, topic: str, payload, *, qos: int = 1, retain: bool = False,
                kind: str = "", seq: Optional[int] = None, fut=None) -> bool:
        """Hand one message to paho. False if paho refused it (not queued)."""
        t = time.monotonic()
        try:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, RuntimeError) as e:
            log.error("publish on %s refused by paho: %s", topic, e)
            return False
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return False
        if qos > 0:
            self.inflight[info.mid] = (kind, seq, t, fut)
        return True

    def subscribe(self, topics: list[str]) -> None:
        if self.protocol == "v5":
            opts = [(t, mqtt.SubscribeOptions(qos=1, noLocal=True)) for t in topics]
            self.client.subscribe(opts)
        else:
            self.client.subscribe([(t, 1) for t in topics])

    def oldest_inflight(self) -> Optional[float]:
        if not self.inflight:
            return None
        return min(v[2] for v in self.inflight.values())
