"""One MQTT connection: a paho client used for a single session, never reconnected, driven
from the relay's asyncio loop (paho's external-loop mode: no network thread).

paho keeps unacknowledged QoS 1 messages in memory and re-sends them itself after a reconnect,
which would race the relay's own in-order replay from the outbox. So every connection gets a
fresh client (``reconnect_on_failure=False``); when it ends, the relay throws it away and builds
the next one.

Who does what (docs/performance.md, "paho's hand-off"):

* ``open()`` runs in an executor thread: TCP (and the TLS handshake) and the CONNECT packet
  are blocking. It never touches the loop.
* ``attach()`` (loop thread) registers the socket with the loop: ``add_reader`` calls
  ``loop_read`` (CONNACK, PUBACK, SUBACK, messages), ``add_writer`` is added only while paho
  has bytes it could not write at once (a full socket buffer), and a timer calls
  ``loop_misc`` (keepalive PINGREQ, a broker that stopped answering pings) every
  ``keepalive_s / 4`` (7.5 s for the default 30 s; see ``misc_period``).
* ``publish()`` (loop thread) writes the PUBLISH to the socket within the call: paho writes at
  once when no network thread runs. The packet leaves before ``publish()`` returns, with no
  wake-up of another thread and no GIL hand-over (with ``loop_start`` the loop thread only
  queued it and woke paho's thread through a socket pair).

paho's callbacks therefore run in the loop thread too (inside ``loop_read``); each is still
handed on with ``hop`` (``call_soon``) so the relay sees them as separate loop callbacks, in
order, with the monotonic time they happened. Only ``open()`` may call back from its thread
(a connection lost while CONNECT is written): ``hop`` is thread-safe for that.
"""
from __future__ import annotations

import asyncio
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
MISC_MIN_S = 0.25       # floor of the loop_misc period (tests run with a 1 s keepalive)


def misc_period(keepalive_s: float) -> float:
    """How often the loop calls paho's ``loop_misc``. Everything it does falls due a whole
    keepalive after something (a PINGREQ after ``keepalive_s`` without traffic either way, a
    disconnect when the PINGRESP is ``keepalive_s`` late), so a call every ``keepalive_s / 4``
    acts at most a quarter keepalive late: the PINGREQ leaves by 1.25 keepalives, well before
    the broker's 1.5 keepalive limit. (paho's own thread looped every second: at idle that was
    the loop's most frequent wake-up, for nothing on all but one call in ``keepalive_s``.) The
    guard room's own uplink supervision (heartbeat probes, relay/supervision.py) does not wait
    for this."""
    return max(MISC_MIN_S, keepalive_s / 4)


class Link:
    """A single session. ``hop(fn, *args)`` must call ``fn(*args)`` in the relay's loop."""

    def __init__(self, *, host: str, port: int, client_id: str, protocol: str,
                 keepalive_s: int, username: str, password: str, tls: bool, ca_file: str,
                 cert_file: str, key_file: str, will_topic: str, hop: Callable,
                 handlers: dict, loop: Optional[asyncio.AbstractEventLoop] = None,
                 session_expiry_s: int = 0):
        self.host, self.port, self.protocol = host, port, protocol
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s   # 0: clean session
        self.hop = hop
        self.loop = loop
        self.h = handlers               # connack, closed, puback, message, suback
        self.tcp_ok = False             # TCP (and TLS) connected, CONNECT sent
        self.got_connack = False
        self.connacked = False          # CONNACK success
        self.refusal = ""               # broker's reason when CONNACK failed
        self.closed_reason = ""
        self.ended = False
        self.inflight: dict[int, tuple] = {}   # mid -> (kind, seq, t_sent, future)
        self.torn = False
        self.done = None                # asyncio future set by the relay when the session ends
        self._sock = None               # the socket registered with the loop
        self._writing = False           # add_writer in place
        self._misc: Optional[asyncio.TimerHandle] = None
        self.misc_s = misc_period(keepalive_s)
        proto = mqtt.MQTTv5 if protocol == "v5" else mqtt.MQTTv311
        kw = {} if protocol == "v5" else {"clean_session": session_expiry_s == 0}
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
        c.on_socket_close = self._on_socket_close
        self.client = c

    # ------------------------------------------------------------------ blocking, off-loop
    def open(self) -> None:
        """TCP (+TLS) connect and send CONNECT. Blocking: run it in an executor, then call
        ``attach()`` in the loop."""
        kw: dict = {}
        if self.protocol == "v5":
            kw["clean_start"] = self.session_expiry_s == 0
            if self.session_expiry_s:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                kw["properties"] = Properties(PacketTypes.CONNECT)
                kw["properties"].SessionExpiryInterval = self.session_expiry_s
        self.client.connect(self.host, self.port, self.keepalive_s, **kw)
        self.tcp_ok = True
        sock = self.client.socket()
        if self.torn and sock is not None:    # closed (relay stopping) while connecting
            try:
                sock.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ loop thread
    def attach(self) -> None:
        """Hand the connected socket to the loop (after ``open()`` returned)."""
        sock = self.client.socket()
        if self.torn or sock is None:
            if sock is not None:        # closed while open() ran: drop the connection
                self._cut(sock)
            return
        self._sock = sock
        self.loop.add_reader(sock, self._readable)
        self._misc = self.loop.call_later(self.misc_s, self._tick)
        self._io_done()
        if sock.fileno() >= 0 and getattr(sock, "pending", None) and sock.pending():
            self.loop.call_soon(self._readable)   # TLS bytes already decrypted

    def close(self, clean: bool = True) -> None:
        """End the session: a DISCONNECT first when ``clean`` (the broker then drops the will),
        else the socket is cut (the broker publishes the will). Never blocks: a DISCONNECT that
        cannot be written at once is not waited for."""
        if self.torn:
            return
        self.torn = True
        c = self.client
        if clean and self._sock is not None:
            try:
                c.disconnect()      # written now; paho closes the socket and calls back
            except Exception:  # noqa: BLE001 - closing must always finish
                pass
        sock = c.socket()
        if sock is not None:
            self._cut(sock)
        self._detach()

    def _cut(self, sock) -> None:
        """Close the socket under paho; paho sees the connection end and calls back
        ``on_disconnect`` (the relay's ``closed``)."""
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.client.loop_read()     # reads the end: paho closes and reports it
        except Exception:  # noqa: BLE001
            pass
        if self.client.socket() is not None:     # paho did not notice: close it ourselves
            try:
                sock.close()
            except OSError:
                pass
            if not self.ended:
                self._on_disconnect(self.client, None, None, "connection cut", None)

    def _readable(self) -> None:
        c = self.client
        try:
            c.loop_read()
            sock = c.socket()
            while sock is not None and getattr(sock, "pending", None) and sock.pending():
                c.loop_read()       # TLS: records already decrypted are not seen by epoll
                sock = c.socket()
        except Exception:  # noqa: BLE001 - a paho bug must not stop the loop
            log.exception("mqtt: read failed")
            self.close(False)
            return
        self._io_done()

    def _writable(self) -> None:
        try:
            self.client.loop_write()
        except Exception:  # noqa: BLE001
            log.exception("mqtt: write failed")
            self.close(False)
            return
        self._io_done()

    def _tick(self) -> None:
        self._misc = None
        if self._sock is None:
            return
        try:
            self.client.loop_misc()
        except Exception:  # noqa: BLE001
            log.exception("mqtt: keepalive failed")
        self._io_done()
        if self._sock is not None:
            self._misc = self.loop.call_later(self.misc_s, self._tick)

    def _io_done(self) -> None:
        """After any paho call: keep the loop's registrations in step with paho (a writer only
        while bytes wait; nothing once the socket is gone)."""
        if self._sock is None:
            return
        if self.client.socket() is None:
            self._detach()
            return
        want = self.client.want_write()
        if want and not self._writing:
            self._writing = True
            self.loop.add_writer(self._sock, self._writable)
        elif not want and self._writing:
            self._writing = False
            self.loop.remove_writer(self._sock)

    def _detach(self) -> None:
        sock, self._sock = self._sock, None
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if sock is None:
            return
        try:
            self.loop.remove_reader(sock)
            if self._writing:
                self.loop.remove_writer(sock)
        except (ValueError, OSError, RuntimeError):   # closed fd, closed loop
            pass
        self._writing = False

    def _on_socket_close(self, client, userdata, sock) -> None:
        # paho is about to close the socket (inside one of our calls, in the loop thread, or
        # in open()'s thread before anything was registered)
        if sock is self._sock:
            self._detach()

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(self, client, userdata, flags, reason, properties):
        now = time.monotonic()
        self.got_connack = True
        self.hop(self.h["connack"], self, bool(reason.is_failure), str(reason), now)

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        if self.ended:
            return
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

    # ------------------------------------------------------------------ sending (loop thread)
    def publish(self, topic: str, payload, *, qos: int = 1, retain: bool = False,
                kind: str = "", seq: Optional[int] = None, fut=None) -> bool:
        """Hand one message to paho, which writes it to the socket now (or, with the socket
        buffer full, when the loop sees it writable). False if paho refused it or the
        connection broke while writing it (the relay sends it again on the next connection)."""
        t = time.monotonic()
        try:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, RuntimeError) as e:
            log.error("publish on %s refused by paho: %s", topic, e)
            return False
        finally:
            self._io_done()
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return False
        if qos > 0:
            self.inflight[info.mid] = (kind, seq, t, fut)
        return True

    def subscribe(self, topics: list[str]) -> None:
        try:
            if self.protocol == "v5":
                opts = [(t, mqtt.SubscribeOptions(qos=1, noLocal=True)) for t in topics]
                self.client.subscribe(opts)
            else:
                self.client.subscribe([(t, 1) for t in topics])
        finally:
            self._io_done()

    def oldest_inflight(self) -> Optional[float]:
        if not self.inflight:
            return None
        return min(v[2] for v in self.inflight.values())
