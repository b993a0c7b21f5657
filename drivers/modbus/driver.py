"""Modbus driver: polls I/O modules, EOL modules and fence energizers over RTU and TCP and
writes their relay coils.

One thread per bus at the I/O edge (``_Bus``), one transaction at a time on a bus: polls,
and between them the loop's coil writes and scan probes; buses run concurrently. A poll costs
the thread one write and a ``select`` (no asyncio future or timer per request), and reaches
the loop only when something changed. Each device is polled at its own
``poll_ms``; only changes become samples (plus the first good read of every point). After
``offline_after`` failed polls in a row all its points report OFFLINE and a notice is sent;
an offline device is retried with a doubling period up to ``retry_max_ms``, so a dead device
costs its bus one timeout now and then, not one per poll."""
from __future__ import annotations

import array
import asyncio
import collections
import concurrent.futures
import logging
import os
import select
import threading
import time

from guardroom.errors import ConfigError

from ..base import OFFLINE, Driver, PointTable, SampleBuffer
from ..chatter import PolledChatter, chatter_event
from ..threadname import name_thread
from ..errors import DriverConfigError
from . import wire
from .errors import ModbusConfigError, ModbusError, TransactionError
from .plan import BusPlan, DevicePlan, build_plan
from .schema import CONFIG_SCHEMA

log = logging.getLogger("guardroom.drivers.modbus")

try:    # the steady state in C (built by setup.py with Cython); else every poll is Python
    from . import _steady as STEADY
except ImportError:  # pragma: no cover - an install without the compiled module
    STEADY = None

_COUNTERS = ("polls", "good_polls", "failed_polls", "timeouts", "crc_errors", "exceptions",
             "connection_errors", "writes", "write_errors")
_KIND_COUNTER = {"timeout": "timeouts", "crc": "crc_errors", "exception": "exceptions",
                 "connection": "connection_errors"}


class _Read:
    """One read block of a device: its request (prepared once), its points, and the last
    answer the driver decoded and reported (``pdu``/``raw``): a poll whose answers all equal
    the last ones changes nothing and is not decoded again."""

    __slots__ = ("block", "items", "req", "pdu", "raw", "registers", "answer")

    def __init__(self, block, items: list, address: int):
        self.block = block
        self.items = items                          # [(plan.Item, point id)]
        self.req = wire.read_request(block.table, block.start, block.count, address)
        self.pdu = None
        self.answer = b""           # ``pdu`` as it comes on the wire (the steady loop's test)
        self.raw: list[int] = []
        self.registers = block.table.endswith("registers")


class _Device:
    def __init__(self, plan: DevicePlan, point_ids: dict[str, int]):
        self.plan = plan
        self.name = plan.name
        self.address = plan.address
        self.point_ids = point_ids                  # point name -> id
        self.items = [(b, [(it, point_ids[it.point_name]) for it in b.items])
                      for b in plan.blocks]
        self.reads = [_Read(b, items, plan.address) for b, items in self.items]
        self.last: dict[int, int] = {}
        self.online: bool | None = None             # None: no verdict yet
        self.fails_in_row = 0
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self.last_error = ""
        self.last_good_ns = 0
        self.changed_ns = 0                         # when ``online`` last changed
        self.last_poll_ms = 0.0
        self.next_due = 0.0
        self.wanted: dict[str, bool] = {}           # output name -> last ordered state
        self.readings: dict[str, int] = {}          # register point -> last raw value
        polls, sample_ms, quiet_s = plan.chatter
        # "changes on (nearly) every poll": more than `polls` changes within 2 x `polls`
        # poll periods, i.e. on more than half of the recent polls
        window_ms = 2 * polls * plan.poll_ms
        self.names = {pid: name for name, pid in point_ids.items()}
        self.chatter = {pid: PolledChatter(polls, window_ms, quiet_s, sample_ms)
                        for pid in point_ids.values()} if polls else {}
        self.chattering: set[int] = set()
        # the steady loop's counts (_steady.pyx): polls, end of the last one (monotonic ns),
        # its duration (ns); folded into ``counts`` when the loop hands back
        self.live = array.array("q", (0, 0, 0))
        self.steady_polls = 0                       # polls the steady loop did, folded
        self.frames: tuple | None = None            # the reads' requests on the wire

    def fold(self) -> None:
        """Take the steady loop's polls into the counters."""
        live = self.live
        n = live[0]
        if n:
            live[0] = 0
            self.steady_polls += n
            self.counts["polls"] += n
            self.counts["good_polls"] += n
            self.last_good_ns = live[1]
            self.last_poll_ms = live[2] / 1e6

    def period(self, retry_max_ms: int) -> float:
        ms = self.plan.poll_ms
        if self.online is False:
            extra = min(self.fails_in_row - self.plan.offline_after, 16)
            ms = max(ms, min(ms * (2 ** max(extra, 0)), retry_max_ms))
        return ms / 1000

    def stats(self, bus: str) -> dict:
        counts, live = dict(self.counts), self.live
        n, good_ns, poll_ms = live[0], self.last_good_ns, self.last_poll_ms
        if n:       # polls of the steady loop running now, not folded in yet
            counts["polls"] += n
            counts["good_polls"] += n
            good_ns, poll_ms = max(good_ns, live[1]), live[2] / 1e6
        return {"bus": bus, "address": self.address, "profile": self.plan.profile.name,
                "online": self.online, "fails_in_row": self.fails_in_row, **counts,
                "last_error": self.last_error, "last_poll_ms": round(poll_ms, 3),
                "last_good_age_s": (round((time.monotonic_ns() - good_ns) / 1e9, 3)
                                    if good_ns else None),
                "since_age_s": (round((time.monotonic_ns() - self.changed_ns) / 1e9, 3)
                                if self.changed_ns else None),
                "steady_polls": self.steady_polls + n,
                "outputs": dict(self.wanted), "readings": dict(self.readings)}


class _Bus:
    """One bus, one thread at the I/O edge: it polls each device when due, and runs the
    loop's jobs (coil writes, scan probes) between polls, so there is one transaction at a
    time on the wire. The thread sleeps in ``select`` until the next poll or a job; results
    reach the loop only as samples and notices through the sink."""

    def __init__(self, driver: "ModbusDriver", plan: BusPlan, devices: list[_Device]):
        self.driver = driver
        self.plan = plan
        self.cfg = plan.config
        self.name = plan.name
        self.devices = devices
        self.client: wire.LeanClient | None = None
        self.watch: wire.CrcWatch | None = None
        self.thread: threading.Thread | None = None
        self.current: _Device | None = None
        self.crc_unattributed = 0
        self._jobs: collections.deque = collections.deque()
        self._wake_r = self._wake_w = -1
        self._stopping = False

    @property
    def where(self) -> str:
        c = self.cfg
        return f"{c['host']}:{c['tcp_port']}" if c["transport"] == "tcp" else c["port"]

    def open(self) -> None:
        if self.client is None:
            self.client = wire.make_client(self.cfg)
            self.watch = wire.CrcWatch(self.client, self._on_crc)

    def _on_crc(self) -> None:
        if self.current is None:
            self.crc_unattributed += 1

    # -- loop side -------------------------------------------------------------------------
    def start(self) -> None:
        self.open()
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.thread = threading.Thread(target=self._run, name=f"modbus-{self.name}",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Blocking (call it in a worker thread): end the thread, close the link."""
        self._stopping = True
        self._wake()
        if self.thread is not None:
            self.thread.join(self.cfg["timeout_ms"] / 1000 + 5)
            self.thread = None
        while self._jobs:
            _, _, fut = self._jobs.popleft()
            if not fut.done():
                fut.set_exception(ModbusError(f"bus {self.name} stopped"))
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        self.close()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    async def call(self, fn, *args):
        """Run ``fn(*args)`` in the bus thread between polls; its result or exception."""
        if self.thread is None:
            raise ModbusError(f"bus {self.name} is not running")
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.append((fn, args, fut))
        self._wake()
        return await asyncio.wrap_future(fut)

    # -- the bus thread --------------------------------------------------------------------
    def connected(self) -> None:
        """Connect if needed; TransactionError('connection') if not."""
        if self.client.connected:
            return
        if not self.client.connect():
            raise TransactionError("connection", f"cannot open {self.where}: "
                                   f"{self.client.last_connect_error or 'refused or not found'}")

    def _run(self) -> None:
        name_thread(f"modbus-{self.name}")
        polled = [d for d in self.devices if d.items]
        now = time.monotonic()
        for d in polled:
            d.next_due = now
        retry_max = self.cfg["retry_max_ms"]
        wake = self._wake_r
        poller = select.poll()          # registered once: no fd lists built per sleep
        poller.register(wake, select.POLLIN)
        only = polled[0] if len(polled) == 1 else None
        steady = STEADY if only is not None and len(only.reads) <= 8 else None
        while not self._stopping:
            if self._jobs:
                self._run_jobs()
            resume = None
            if steady is not None and self._steady_ready(only):
                # unchanged polls run in C with the GIL released (_steady.pyx); back here
                # for a job, stop, or a poll whose answer is not the last one
                resume = self._steady(only)
                if resume is None:
                    try:
                        os.read(wake, 512)
                    except BlockingIOError:
                        pass
                    continue
                dev = only
            elif polled:
                dev = only or min(polled, key=_due)
                delay = dev.next_due - time.monotonic()
                if delay > 0:
                    # ms, rounded up by poll(): a poll is never early
                    if poller.poll(delay * 1000.0):
                        try:
                            os.read(wake, 512)
                        except BlockingIOError:
                            pass
                        continue
            else:
                if poller.poll(None):
                    try:
                        os.read(wake, 512)
                    except BlockingIOError:
                        pass
                continue
            if self._stopping:
                break
            try:
                self.poll(dev, resume)
            except Exception:  # never let one bad answer kill the bus
                log.exception("modbus bus %s: poll of %s failed unexpectedly", self.name,
                              dev.name)
            dev.next_due = max(dev.next_due + dev.period(retry_max), time.monotonic())

    def _steady_ready(self, dev: _Device) -> bool:
        """The steady loop polls a device only while every answer it gets is the one already
        reported: online, not chattering, connected, every read answered once."""
        if dev.online is not True or dev.chattering or not self.client.connected:
            return False
        for rd in dev.reads:
            if not rd.answer:
                return False
        return True

    def _steady(self, dev: _Device):
        """Run the steady loop; None when woken, else where to resume the poll it began:
        ``(index, tid, wrote, data, deadline)``."""
        client = self.client
        if dev.frames is None:
            dev.frames = tuple(client.frame(rd.req, 0) for rd in dev.reads)
        status, dev.next_due, index, tid, wrote, data, deadline = STEADY.steady(
            self._wake_r, client.fd, client.rtu, dev.frames,
            tuple(rd.answer for rd in dev.reads), dev.next_due, dev.plan.poll_ms / 1000,
            client.timeout, client._tid, dev.live)
        dev.fold()
        if status == STEADY.WOKEN:
            return None
        return index, tid, wrote, data, deadline

    def _run_jobs(self) -> None:
        while self._jobs and not self._stopping:
            fn, args, fut = self._jobs.popleft()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
                fut.set_exception(e)

    def poll(self, dev: _Device, resume=None) -> None:
        """One poll of ``dev``; ``resume``: the steady loop's poll to finish (it sent the
        requests before ``index`` and got their usual answers, and began that one)."""
        counts = dev.counts
        counts["polls"] += 1
        self.current = dev
        new = None
        client = self.client
        try:
            self.connected()
            t0 = time.monotonic_ns()
            send = client.send
            for i, rd in enumerate(dev.reads):
                if resume is None:
                    pdu = send(rd.req)
                else:
                    index, tid, wrote, data, deadline = resume
                    if i < index:
                        continue            # its usual answer: nothing new
                    if i == index:
                        pdu = client.resume(rd.req, tid, wrote, data, deadline)
                    else:
                        pdu = send(rd.req)
                if pdu != rd.pdu:
                    raw = wire.decode(pdu, rd.req, rd.block.count)
                    if new is None:
                        new = []
                    new.append((rd, pdu, raw))
        except TransactionError as e:
            self.driver._failed(dev, e)
            return
        finally:
            self.current = None
        t = time.monotonic_ns()
        dev.last_poll_ms = (t - t0) / 1e6
        if new is None and dev.online is True and not dev.chattering:
            # every answer is the one already reported: nothing to decode, map or compare
            counts["good_polls"] += 1
            dev.last_good_ns = t
            return
        if new is not None:
            for rd, pdu, raw in new:
                rd.pdu, rd.raw = pdu, raw
                rd.answer = self.client.answer(rd.req, pdu)
                if rd.registers:
                    # the raw reading (a fence voltage...) for the console's health
                    for it, _ in rd.items:
                        dev.readings[it.point_name] = raw[it.offset]
        values = [(pid, it.mapper(rd.raw[it.offset])) for rd in dev.reads
                  for it, pid in rd.items]
        came_back = self.driver._good(dev, t, values)
        if came_back and any(dev.wanted.values()):
            self.reassert(dev)

    def reassert(self, dev: _Device) -> None:
        """A device that was offline may have rebooted with its relays off: re-send orders."""
        for name, on in list(dev.wanted.items()):
            try:
                self.write(dev, name, on)
            except TransactionError:
                return

    def write(self, dev: _Device, output: str, on: bool) -> None:
        coil = dev.plan.outputs[output][0]
        self.current = dev
        try:
            self.connected()
            wire.write_coil(self.client, coil, on, dev.address, self.watch)
            dev.counts["writes"] += 1
        except TransactionError as e:
            dev.counts["write_errors"] += 1
            counter = _KIND_COUNTER.get(e.kind)
            if counter:
                dev.counts[counter] += 1
            dev.last_error = str(e)
            raise
        finally:
            self.current = None

    def probe(self, address: int, timeout_ms: int) -> bool:
        self.connected()
        return wire.probe(self.client, address, timeout_ms / 1000, self.watch)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _due(dev: _Device) -> float:
    return dev.next_due


class ModbusDriver(Driver):
    """``[drivers.modbus]``: buses of Modbus devices described by profiles."""

    kind = "modbus"

    def __init__(self, config: dict, points: PointTable, sink: SampleBuffer):
        try:   # idempotent on an already validated section
            config = CONFIG_SCHEMA.validate(config, "drivers.modbus")
        except ConfigError as e:
            raise ModbusConfigError(e.problems) from None
        super().__init__(config, points, sink)
        self._buses: dict[str, _Bus] = {}
        self._devices: dict[str, _Device] = {}
        self._output_device: dict[str, _Device] = {}
        self._device_bus: dict[str, _Bus] = {}
        self._pulses: dict[str, asyncio.TimerHandle] = {}
        for b, bus_plan in enumerate(build_plan(config)):
            devices = []
            for d, dp in enumerate(bus_plan.devices):
                ids = {}
                for pp_name in dp.points:
                    try:
                        ids[pp_name] = points.register(pp_name, owner=f"modbus:{dp.name}")
                    except DriverConfigError as e:
                        raise ModbusConfigError(
                            (f"drivers.modbus.bus[{b}].device[{d}].points."
                             f"{dp.points[pp_name]}", str(e))) from None
                dev = _Device(dp, ids)
                devices.append(dev)
                self._devices[dp.name] = dev
                for out in dp.outputs:
                    self._output_device[out] = dev
            bus = _Bus(self, bus_plan, devices)
            self._buses[bus.name] = bus
            for dev in devices:
                self._device_bus[dev.name] = bus
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self.started:
            return
        for bus in self._buses.values():
            bus.start()
        self.started = True
        log.info("modbus started: %d bus(es), %d device(s)", len(self._buses),
                 len(self._devices))

    async def stop(self) -> None:
        for handle in self._pulses.values():
            handle.cancel()
        self._pulses.clear()
        buses = [b for b in self._buses.values() if b.thread is not None]
        if buses:
            await asyncio.gather(*(asyncio.to_thread(b.stop) for b in buses))
        for bus in self._buses.values():
            bus.close()
        self.started = False

    # -- poll results (called by the bus threads) ------------------------------------------
    def _failed(self, dev: _Device, e: TransactionError) -> None:
        dev.counts["failed_polls"] += 1
        counter = _KIND_COUNTER.get(e.kind)
        if counter:
            dev.counts[counter] += 1
        dev.last_error = str(e)
        dev.fails_in_row += 1
        if dev.fails_in_row >= dev.plan.offline_after and dev.online is not False:
            was = dev.online
            dev.online = False
            t = dev.changed_ns = time.monotonic_ns()
            for pid in dev.point_ids.values():
                self.sink.put(t, pid, OFFLINE)
            dev.last.clear()
            text = (f"offline after {dev.fails_in_row} failed polls ({e.kind}: {e})"
                    if was else f"not answering since start ({e.kind}: {e})")
            self._notice(dev, text, t)
            log.warning("modbus device %s: %s", dev.name, text)

    def _good(self, dev: _Device, t: int, values: list[tuple[int, int]]) -> bool:
        """Record a good poll; report changes. True if the device came back from offline."""
        first = dev.online is not True
        came_back = dev.online is False
        if first:
            dev.changed_ns = t
        dev.online = True
        dev.fails_in_row = 0
        dev.counts["good_polls"] += 1
        dev.last_good_ns = t
        last = dev.last
        guards = dev.chatter
        for pid, v in values:
            if first:
                last[pid] = v
                if guards:
                    guards[pid].reset(v)
                self.sink.put(t, pid, v)
            elif last.get(pid) != v:
                last[pid] = v
                g = guards.get(pid)
                if g is None:
                    self.sink.put(t, pid, v)
                    continue
                out = g.offer(t, v)
                if out is not None:
                    self.sink.put(t, pid, out)
                if g.tripped:
                    g.tripped = False
                    dev.chattering.add(pid)
                    self._chatter(dev, pid, g, True, t)
        if dev.chattering:
            for pid in list(dev.chattering):
                g = guards[pid]
                out = g.tick(t)
                if out is not None:
                    self.sink.put(t, pid, out)
                if g.restored:
                    g.restored = False
                    dev.chattering.discard(pid)
                    self._chatter(dev, pid, g, False, t)
        if came_back:
            self._notice(dev, "back online", t)
            log.warning("modbus device %s: back online", dev.name)
        return came_back

    def _chatter(self, dev: _Device, pid: int, g: PolledChatter, active: bool, t: int) -> None:
        name = dev.names[pid]
        polls = dev.plan.chatter[0]
        if active:
            text = (f"point {name} on {dev.name} is chattering: it changed on more than "
                    f"{polls} of the last {2 * polls} polls; its value is reported every "
                    f"{g.sample_ns / 1e9:g} s until it settles")
        else:
            text = f"point {name} on {dev.name} stopped chattering; every change reported again"
        log.warning("modbus: %s", text)
        self.sink.put_event(chatter_event("modbus", name, active, t, g.guard, text))

    def point_stats(self) -> dict:
        """Per point: chatter state and counts (see drivers/chatter.py)."""
        return {dev.names[pid]: g.stats() for dev in self._devices.values()
                for pid, g in dev.chatter.items()}

    def _notice(self, dev: _Device, text: str, t: int) -> None:
        self.sink.put_event({"type": "notice", "t_ns": t, "driver": "modbus",
                             "device": dev.name, "text": text})

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self) -> dict[str, str]:
        return {name: dev.plan.outputs[name][1] for name, dev in self._output_device.items()}

    async def set_output(self, name: str, on: bool) -> None:
        """Write the output's coil. Raises KeyError for an unknown output and
        ``TransactionError`` if the device did not confirm; the order is remembered and
        re-sent when the device comes back online."""
        dev = self._output_device.get(name)
        if dev is None:
            raise KeyError(name)
        if not self.started:
            raise ModbusError(f"output {name!r}: the Modbus driver is not started")
        handle = self._pulses.pop(name, None)
        if handle is not None:
            handle.cancel()
        dev.wanted[name] = bool(on)
        bus = self._device_bus[dev.name]
        await bus.call(bus.write, dev, name, bool(on))

    async def pulse_output(self, name: str, ms: int) -> None:
        """Coil on now, off after ``ms`` (an asyncio timer; returns once 'on' is written)."""
        await self.set_output(name, True)
        loop = asyncio.get_running_loop()
        self._pulses[name] = loop.call_later(max(0, ms) / 1000, self._pulse_end, name)

    def _pulse_end(self, name: str) -> None:
        self._pulses.pop(name, None)
        task = asyncio.get_running_loop().create_task(self._pulse_off(name))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _pulse_off(self, name: str) -> None:
        try:
            dev = self._output_device[name]
            dev.wanted[name] = False
            bus = self._device_bus[dev.name]
            await bus.call(bus.write, dev, name, False)
        except (TransactionError, ModbusError) as e:
            log.warning("modbus output %s: pulse end not confirmed: %s", name, e)

    # -- console ----------------------------------------------------------------------------
    async def scan(self, bus_name: str, first: int = 1, last: int = 247,
                   timeout_ms: int = 100) -> list[int]:
        """Which device addresses answer on ``bus_name`` (any answer counts, an exception
        response too). Probes one address at a time between polls. Raises KeyError for an
        unknown bus, ValueError for a bad range, TransactionError if the bus cannot open."""
        bus = self._buses.get(bus_name)
        if bus is None:
            raise KeyError(bus_name)
        if not 1 <= first <= last <= 247:
            raise ValueError(f"scan range {first}-{last} is not within 1-247")
        found = []
        for address in range(first, last + 1):   # one probe at a time: polls go on between
            if await bus.call(bus.probe, address, timeout_ms):
                found.append(address)
        return found

    def stats(self) -> dict:
        """Counters per device: ``{device name: {bus, address, profile, online, polls,
        good_polls, failed_polls, timeouts, crc_errors, exceptions, connection_errors,
        writes, write_errors, fails_in_row, last_error, last_poll_ms, last_good_age_s,
        steady_polls (of ``polls``, those the C steady loop did), outputs}}``."""
        return {name: dev.stats(self._device_bus[name].name)
                for name, dev in self._devices.items()}

    def status(self) -> dict:
        stats = self.stats()
        return {
            "kind": self.kind,
            "started": self.started,
            "buses": [{
                "name": bus.name, "transport": bus.cfg["transport"], "where": bus.where,
                "connected": bool(bus.client is not None and bus.client.connected),
                "crc_watch": bool(bus.watch and bus.watch.installed),
                "crc_unattributed": bus.crc_unattributed,
                "devices": [{"name": d.name, **stats[d.name]} for d in bus.devices],
            } for bus in self._buses.values()],
        }
