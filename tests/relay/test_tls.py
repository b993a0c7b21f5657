"""TLS with a CA and per-controller username/password; refusals; MQTT v5 -> 3.1.1 fallback
against a broker that only speaks 3.1.1 (a wire-level gate in front of Mosquitto)."""
import asyncio
import socket
import threading

import pytest

from guardroom.emulators.broker import MosquittoBroker
from guardroom.emulators.platform import Platform
from guardroom.errors import RelayError
from guardroom.outbox import Outbox
from guardroom.relay import Relay

from .conftest import event, mqtt_cfg, run, until


@pytest.fixture(scope="module")
def tls_broker():
    b = MosquittoBroker(tls=True, users={"ctl-tls": "s3cret-pw", "platform": "plat-pw"})
    b.start()
    yield b
    b.cleanup()


def test_tls_with_ca_and_password(tls_broker, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pw\n")
    plat = Platform("127.0.0.1", tls_broker.port, out=None, username="platform",
                    password="plat-pw", tls_ca=tls_broker.ca_file)

    async def body():
        box = Outbox(str(tmp_path / "o.sqlite"))
        ups = []
        cfg = mqtt_cfg(tls_broker.port, tls=True, ca_file=tls_broker.ca_file,
                       username="ctl-tls", password_file=str(pw))
        r = Relay(cfg, "ctl-tls", "bank", box, asyncio.get_running_loop(),
                  on_uplink=ups.append)
        await r.start()
        try:
            ev = r.publish_event(event(1))
            await r.wait_delivered(ev["seq"], 15)
            got = await asyncio.to_thread(plat.wait_count, 1, 10, "ctl-tls")
            assert got[0]["id"] == "ctl-tls-1"
            st = r.status()
            assert st["tls"] and st["connected"] and "s3cret" not in repr(st)
        finally:
            await r.stop()
            box.close()
    try:
        run(body())
    finally:
        plat.close()


def test_wrong_password_is_refused_and_retried(tls_broker, tmp_path):
    async def body():
        box = Outbox(str(tmp_path / "o.sqlite"))
        cfg = mqtt_cfg(tls_broker.port, tls=True, ca_file=tls_broker.ca_file,
                       username="ctl-tls", password="wrong")
        r = Relay(cfg, "ctl-tls", "bank", box, asyncio.get_running_loop())
        await r.start()
        try:
            await until(lambda: "refused" in r.status()["last_error"], timeout=10)
            assert r.status()["connected"] is False
            assert "wrong" not in r.status()["last_error"]
        finally:
            await r.stop()
            box.close()
    run(body())


def test_untrusted_ca_never_connects(tls_broker, tmp_path):
    other = MosquittoBroker(tls=True)     # a different throwaway CA
    other._prepare()

    async def body():
        box = Outbox(str(tmp_path / "o.sqlite"))
        cfg = mqtt_cfg(tls_broker.port, tls=True, ca_file=other.ca_file, username="ctl-tls",
                       password="s3cret-pw")
        r = Relay(cfg, "ctl-tls", "bank", box, asyncio.get_running_loop())
        await r.start()
        try:
            await until(lambda: "certificate" in r.status()["last_error"].lower(), timeout=10)
            assert not r.status()["connected"]
        finally:
            await r.stop()
            box.close()
    try:
        run(body())
    finally:
        other.cleanup()


def test_missing_tls_file_is_a_clear_error(tmp_path):
    async def body():
        box = Outbox(str(tmp_path / "o.sqlite"))
        cfg = mqtt_cfg(8883, tls=True, ca_file=str(tmp_path / "nope.crt"))
        r = Relay(cfg, "c", "s", box, asyncio.get_running_loop())
        with pytest.raises(RelayError, match="mqtt.ca_file"):
            await r.start()
        box.close()
    run(body())


class V311OnlyGate:
    """A TCP front for Mosquitto that behaves like a 3.1.1-only broker: a CONNECT with
    protocol level 5 gets CONNACK 'unacceptable protocol version' (3.1.1 format) and a close;
    anything else is piped to the real broker."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.refused_v5 = 0
        self.piped = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_packet(conn) -> bytes:
        head = conn.recv(1)
        length, mult, raw = 0, 1, b""
        while True:
            b = conn.recv(1)
            raw += b
            length += (b[0] & 0x7F) * mult
            mult *= 128
            if not b[0] & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        return head + raw + body, body

    def _serve(self, conn):
        try:
            packet, body = self._read_packet(conn)
            level = body[6]                          # after b"\x00\x04MQTT"
            if level == 5:
                self.refused_v5 += 1
                conn.sendall(b"\x20\x02\x00\x01")
                conn.close()
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            up.sendall(packet)
            self.piped += 1
            threading.Thread(target=self._pipe, args=(up, conn), daemon=True).start()
            self._pipe(conn, up)
        except (OSError, IndexError):
            conn.close()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.srv.close()


def test_auto_falls_back_to_311_when_broker_refuses_v5(tmp_path):
    with MosquittoBroker() as b:
        gate = V311OnlyGate(b.port)
        plat = Platform("127.0.0.1", b.port, out=None)

        async def body():
            box = Outbox(str(tmp_path / "o.sqlite"))
            r = Relay(mqtt_cfg(gate.port, protocol="auto"), "legacy", "bank", box,
                      asyncio.get_running_loop())
            await r.start()
            try:
                ev = r.publish_event(event(1))
                await r.wait_delivered(ev["seq"], 15)
                assert r.status()["protocol"] == "v311"
                assert gate.refused_v5 == 1 and gate.piped >= 1
                await asyncio.to_thread(plat.wait_count, 1, 10, "legacy")
            finally:
                await r.stop()
                box.close()
        try:
            run(body())
        finally:
            plat.close()
            gate.close()
