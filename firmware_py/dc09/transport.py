"""One receiver's wire: send a frame, wait for the reply. TCP keeps one connection open
between messages (re-opened after any error); UDP sends a datagram per attempt. Stop-and-wait:
one message on the wire at a time, as DC-09 receivers expect."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

log = logging.getLogger(__name__)

READ_GRACE_S = 0.2     # after a reply without CR, wait this long for the rest


class WireError(Exception):
    """No usable answer: refused, reset, timed out. ``stale``: a kept-open connection the
    receiver had closed (worth one immediate retry on a fresh connection)."""

    def __init__(self, text: str, stale: bool = False):
        super().__init__(text)
        self.stale = stale


class TcpWire:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._r: Optional[asyncio.StreamReader] = None
        self._w: Optional[asyncio.StreamWriter] = None

    async def exchange(self, frame: bytes, timeout: float) -> bytes:
        reused = self._w is not None
        try:
            return await self._once(frame, timeout)
        except WireError as e:
            if not (reused and e.stale):
                raise
        # Receivers often close an idle connection: that is no failed attempt.
        return await self._once(frame, timeout)

    async def _once(self, frame: bytes, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        got = False
        try:
            if self._w is None:
                self._r, self._w = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), timeout)
            self._w.write(frame)
            await asyncio.wait_for(self._w.drain(), max(0.01, deadline - loop.time()))
            data = await asyncio.wait_for(self._r.read(4096), max(0.01, deadline - loop.time()))
            if not data:
                raise WireError("connection closed by the receiver", stale=True)
            got = True
            while b"\r" not in data:
                try:
                    more = await asyncio.wait_for(self._r.read(4096), READ_GRACE_S)
                except asyncio.TimeoutError:
                    break
                if not more:
                    break
                data += more
            return data
        except asyncio.TimeoutError:
            self.close()
            raise WireError(f"no answer from {self.host}:{self.port} within {timeout:g} s")
        except OSError as e:
            self.close()
            stale = isinstance(e, (ConnectionResetError, BrokenPipeError)) and not got
            raise WireError(f"{self.host}:{self.port}: {e.strerror or e}", stale) from None
        except WireError:
            self.close()
            raise

    def close(self) -> None:
        w, self._w, self._r = self._w, None, None
        if w is not None:
            try:
                w.transport.abort()
            except Exception:  # noqa: BLE001
                pass


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc) -> None:
        self.queue.put_nowait(exc)


class UdpWire:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._t: Optional[asyncio.DatagramTransport] = None
        self._p: Optional[_Datagrams] = None

    async def exchange(self, frame: bytes, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            if self._t is None:
                self._t, self._p = await loop.create_datagram_endpoint(
                    _Datagrams, remote_addr=(self.host, self.port))
            while not self._p.queue.empty():      # a late answer to an earlier attempt
                self._p.queue.get_nowait()
            self._t.sendto(frame)
            got = await asyncio.wait_for(self._p.queue.get(), timeout)
        except asyncio.TimeoutError:
            raise WireError(f"no answer from {self.host}:{self.port}/udp within {timeout:g} s")
        except OSError as e:
            self.close()
            raise WireError(f"{self.host}:{self.port}/udp: {e.strerror or e}") from None
        if isinstance(got, Exception):
            self.close()
            raise WireError(f"{self.host}:{self.port}/udp: {got}")
        return got

    def close(self) -> None:
        t, self._t, self._p = self._t, None, None
        if t is not None:
            t.close()


def wire_for(receiver: dict):
    cls = UdpWire if receiver.get("protocol") == "udp" else TcpWire
    return cls(receiver["host"], int(receiver["port"]))
