"""An alarm receiving centre (ARC), played on a PC: a SIA DC-09 receiver built on pysiaalarm
(the receiver library behind Home Assistant's SIA integration). pysiaalarm checks the CRC, the
account, the key and the time stamp and makes the ACK/NAK/DUH; this module owns the sockets
(so it can go down and come back on the same port, and answer one message per frame) and
prints one line per message received.

    arc = ArcEmulator(port=0, account="1234", key="00112233...")   # in an asyncio loop
    await arc.start(); print(arc.port)
    rec = await arc.wait_for(lambda r: r["code"] == "PA", timeout=5)
    await arc.stop()

    guardroom emulate arc --port 10500 --account 1234 [--key HEX] [--udp]

``mode`` plays a faulty receiver: "ack" (normal), "silent" (never answers), "nak", "duh";
``close_after`` closes each TCP connection after its answer (as many receivers do).
``ArcThread`` runs one in a background thread for the demo.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from typing import Callable, Optional, TextIO

from pysiaalarm import SIAAccount
from pysiaalarm.base_server import BaseSIAServer
from pysiaalarm.event import NAKEvent, SIAEvent
from pysiaalarm.utils import Counter
from guardroom.i18n import env_gettext as _


def _account(account: str, key: str) -> SIAAccount:
    acc = SIAAccount(account_id=account, key=key or None)
    if key:
        acc.key_b = bytes.fromhex(key)   # DC-09 keys are hex; pysiaalarm takes the raw bytes
    return acc


class _Receiver(BaseSIAServer):
    def __init__(self, accounts: dict, counts: Counter):
        super().__init__(accounts, counts)


class ArcEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, account: str = "1234",
                 key: str = "", protocol: str = "tcp", out: Optional[TextIO] = None,
                 mode: str = "ack", name: str = "ARC", close_after: bool = False):
        self.host, self.port, self.protocol, self.name = host, port, protocol, name
        self.accounts = {account.upper(): _account(account, key)}
        self.counts = Counter(list(self.accounts.values()))
        self.sia = _Receiver(self.accounts, self.counts)
        self.out = out
        self.mode = mode
        self.close_after = close_after     # close the connection after each answer
        self.received: list[dict] = []     # messages answered ACK, in arrival order
        self.lines: list[dict] = []        # every message, with the answer given
        self._server: Optional[asyncio.AbstractServer] = None
        self._udp: Optional[asyncio.DatagramTransport] = None
        self._writers: set = set()
        self._cond: Optional[asyncio.Condition] = None
        self.running = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "ArcEmulator":
        if self._cond is None:
            self._cond = asyncio.Condition()
        loop = asyncio.get_running_loop()
        if self.protocol == "udp":
            arc = self

            class Proto(asyncio.DatagramProtocol):
                def connection_made(self, transport):
                    self.transport = transport

                def datagram_received(self, data, addr):
                    for reply in arc._handle(data):
                        self.transport.sendto(reply, addr)

            self._udp, _ = await loop.create_datagram_endpoint(
                Proto, local_addr=(self.host, self.port))
            self.port = self._udp.get_extra_info("sockname")[1]
        else:
            self._server = await asyncio.start_server(self._conn, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        self.running = True
        self._say(f"listening on {self.host}:{self.port}/{self.protocol}")
        return self

    async def stop(self) -> None:
        """Go down like a receiver losing power: the port closes, open connections are cut."""
        self.running = False
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        self._say("stopped")

    # ------------------------------------------------------------------ receiving
    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        buf = b""
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                buf += data
                while b"\r" in buf:
                    frame, buf = buf.split(b"\r", 1)
                    for reply in self._handle(frame):
                        writer.write(reply)
                await writer.drain()
                if self.close_after:
                    break
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def _handle(self, frame: bytes) -> list[bytes]:
        if self.mode == "silent":
            self._note({"raw": frame.decode("ascii", "replace").strip()}, "(no answer)")
            return []
        event = self.sia.parse_and_check_event(frame)
        if event is None:
            return []
        rec = self._record(event)
        if self.mode in ("nak", "duh") and isinstance(event, SIAEvent):
            event = NAKEvent() if self.mode == "nak" else event
            reply = event.create_response() if self.mode == "nak" else \
                self._duh(event)
            answer = self.mode.upper()
        else:
            reply = event.create_response()
            answer = (event.response.value if getattr(event, "response", None) is not None
                      else "nothing (CRC error)")
        self._note(rec, answer)
        if answer == "ACK":
            self.received.append(rec)
            self._notify()
        return [reply]

    @staticmethod
    def _duh(event: SIAEvent) -> bytes:
        from pysiaalarm.utils import ResponseType
        saved = event.sia_code
        event.sia_code = None          # pysiaalarm answers DUH to a code it does not know
        try:
            assert event.response == ResponseType.DUH
            return event.create_response()
        finally:
            event.sia_code = saved

    def _record(self, ev) -> dict:
        mt = getattr(ev, "message_type", None)
        mt = getattr(mt, "value", mt)
        cid = ""
        if getattr(ev, "event_qualifier", None) and getattr(ev, "event_type", None):
            cid = f"{ev.event_qualifier}{ev.event_type}"
        return {"t_ns": time.monotonic_ns(), "wall": time.time(), "type": mt or "?",
                "account": getattr(ev, "account", None), "seq": getattr(ev, "sequence", None),
                "encrypted": bool(getattr(ev, "encrypted", False)),
                "code": getattr(ev, "code", None), "cid": cid,
                "area": getattr(ev, "partition", None) or getattr(ev, "ri", None),
                "zone": getattr(ev, "ri", None) if cid else getattr(ev, "message", None),
                "timestamp": str(getattr(ev, "timestamp", "") or "")}

    def _note(self, rec: dict, answer: str) -> None:
        rec["answer"] = answer
        self.lines.append(rec)
        if rec.get("raw") is not None:
            self._say(f"<- {rec['raw'][:70]}  -> {answer}")
            return
        what = rec["cid"] or rec["code"] or ""
        lock = " encrypted" if rec["encrypted"] else ""
        where = ""
        if rec["type"] != "NULL":
            where = f" area {rec['area']} zone {rec['zone']}"
        self._say(f"<- #{rec['account']} {rec['type']}{lock} seq {rec['seq']} {what} "
                  f"{rec['code'] or ''}{where}  -> {answer}")
        self._notify()

    def _notify(self) -> None:
        cond = self._cond
        if cond is None:
            return

        async def ping():
            async with cond:
                cond.notify_all()
        try:
            asyncio.get_running_loop().create_task(ping())
        except RuntimeError:
            pass

    def _say(self, text: str) -> None:
        if self.out is not None:
            self.out.write(f"{time.strftime('%H:%M:%S')} {self.name} {text}\n")
            self.out.flush()

    async def wait_for(self, pred: Callable[[dict], bool], timeout: float = 10.0,
                       every: bool = False) -> dict:
        """The first ACKed message (or any message with ``every``) matching ``pred``."""
        async def look():
            async with self._cond:
                while True:
                    for r in (self.lines if every else self.received):
                        if pred(r):
                            return r
                    await self._cond.wait()
        return await asyncio.wait_for(look(), timeout)


class ArcThread:
    """An ArcEmulator on its own loop in a daemon thread (for the demo and process tests)."""

    def __init__(self, **kw):
        self.arc = ArcEmulator(**kw)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="arc", daemon=True)

    def start(self) -> "ArcThread":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.arc.start(), self.loop).result(10)
        return self

    @property
    def port(self) -> int:
        return self.arc.port

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self.arc.stop(), self.loop).result(10)

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self.arc.start(), self.loop).result(10)

    def wait_for(self, pred, timeout: float = 10.0, every: bool = False) -> dict:
        fut = asyncio.run_coroutine_threadsafe(self.arc.wait_for(pred, timeout, every),
                                               self.loop)
        try:
            return fut.result(timeout + 1)
        except asyncio.TimeoutError:
            raise TimeoutError("the ARC never received it") from None

    def close(self) -> None:
        if self.loop.is_running():
            if self.arc.running:
                self.down()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


def dc09_section(arcs: list, key: str = "") -> dict:
    """The daemon's [dc09] section for these emulated receivers (primary first): quick
    retries and a short poll so a demo or a test sees failover within seconds."""
    return {"account": "1234", "key": key, "ack_timeout_s": 1.0, "attempts": 2,
            "retry_s": 0.2, "retry_max_s": 1.0, "poll_s": 5,
            "receivers": [{"name": a.name, "host": a.host, "port": a.port,
                           "protocol": a.protocol} for a in arcs]}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom emulate arc",
                                 description=_("an alarm receiving centre: a SIA DC-09 receiver "
                                             "(pysiaalarm) printing every message"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=10500)
    ap.add_argument("--account", default="1234", help=_("account number (hex)"))
    ap.add_argument("--key", default="", help=_("AES key, 32/48/64 hex digits (empty: plain)"))
    ap.add_argument("--udp", action="store_true", help=_("UDP instead of TCP"))
    ap.add_argument("--mode", choices=["ack", "silent", "nak", "duh"], default="ack",
                    help=_("play a faulty receiver"))
    ap.add_argument("--close-after", action="store_true",
                    help=_("close each TCP connection after its answer"))
    ns = ap.parse_args(argv)

    async def serve():
        arc = ArcEmulator(ns.host, ns.port, ns.account, ns.key, "udp" if ns.udp else "tcp",
                          out=sys.stdout, mode=ns.mode, close_after=ns.close_after)
        await arc.start()
        try:
            await asyncio.Event().wait()
        finally:
            await arc.stop()
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
