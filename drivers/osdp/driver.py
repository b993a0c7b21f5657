"""The OSDP driver: guardroom is the control panel (CP) of the access readers on one or more
RS-485 buses.

Turns reader reports into samples (inputs, tamper, power, online, door forced / held) and
credentials (card reads, keypad PINs) into ``sink.put_event`` dicts; drives the reader's LED,
buzzer and door strike. libosdp runs in one thread per bus (``bus.Bus``); all state here is
owned by the event loop."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Optional

from osdp import CardFormat, Event, StatusReportType

from ..base import ACTIVE, NORMAL, Driver, PointTable, SampleBuffer
from ..chatter import PolledChatter, chatter_event
from . import outputs as out
from .bus import Bus
from .channel import SerialChannel
from .credentials import CardFormatError, PinCollector, card_value
from .door import Door
from .errors import OsdpCommandError, OsdpUnavailable
from .reader import ReaderState

log = logging.getLogger("guardroom.drivers.osdp")

OUTPUT_KINDS = {"led": "led", "buzzer": "buzzer", "strike": "relay"}


class OsdpDriver(Driver):
    """Built from the validated ``[drivers.osdp]`` section. Public beyond the Driver
    contract: ``grant(reader, ms=None)``."""

    kind = "osdp"

    def __init__(self, config: dict, points: PointTable, sink: SampleBuffer):
        super().__init__(config, points, sink)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._buses: dict[str, Bus] = {}
        self._channels: dict[str, SerialChannel] = {}
        self._port_readers: dict[str, list[ReaderState]] = {}
        self._port_cfg: dict[str, dict] = {p["name"]: p for p in config.get("port", [])}
        self._offline_timers: dict[tuple, asyncio.TimerHandle] = {}
        self.readers: dict[str, ReaderState] = {}
        self._started = False
        self._stopped = False
        for port in config.get("port", []):
            states = []
            for idx, rc in enumerate(port["reader"]):
                st = self._build_reader(port["name"], idx, rc)
                states.append(st)
                self.readers[rc["name"]] = st
            self._port_readers[port["name"]] = states

    def _build_reader(self, port: str, idx: int, rc: dict) -> ReaderState:
        owner = f"osdp:{rc['name']}"

        def reg(name: str) -> Optional[int]:
            return self.points.register(name, owner) if name else None

        st = ReaderState(cfg=rc, port=port, idx=idx,
                         input_pids=[reg(n) for n in rc["inputs"]],
                         tamper_pid=reg(rc["tamper_point"]), power_pid=reg(rc["power_point"]),
                         online_pid=reg(rc["online_point"]),
                         forced_pid=reg(rc["forced_point"]), held_pid=reg(rc["held_point"]))
        st.inputs = [0] * len(rc["inputs"])
        st.pins = PinCollector(rc["pin_timeout_s"])
        pc = self._port_cfg[port]
        if pc.get("chatter_changes", 8):
            st.chatter = {i: PolledChatter(pc.get("chatter_changes", 8),
                                           pc.get("chatter_window_ms", 1000),
                                           pc.get("chatter_quiet_s", 10.0),
                                           pc.get("chatter_sample_ms", 1000))
                          for i, pid in enumerate(st.input_pids) if pid is not None}
        return st

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        t = time.monotonic_ns()
        for st in self.readers.values():
            if st.cfg["door_input"] >= 0:
                st.door = Door(st.cfg["held_s"], st.cfg["grant_ms"], self._loop.call_later,
                               self._door_emitter(st))
            for pid, value in st.point_values():  # offline until the reader answers
                self.sink.put(t, pid, value)
        for port in self.config.get("port", []):
            name = port["name"]
            ch = SerialChannel(port["device"], port["baudrate"])
            try:
                ch.open()
            except Exception as e:  # noqa: BLE001 - the channel keeps retrying by itself
                ch._fail(e)
                self._notice(name, f"serial port {port['device']} cannot be opened "
                                   f"({type(e).__name__}: {e}); retrying")
            self._channels[name] = ch
            bus = Bus(name, ch, port["reader"], port["reconnect_s"], self._post,
                      on_event=lambda i, t, e, n=name: self._on_event(n, i, t, e),
                      on_link=lambda i, t, o, s, n=name: self._on_link(n, i, t, o, s),
                      on_completion=lambda i, c, ok, n=name: self._on_completion(n, i, c, ok))
            try:
                bus.start()
            except Exception as e:
                await self.stop()
                raise OsdpUnavailable(f"libosdp could not set up port {name!r}: {e}") from e
            self._buses[name] = bus

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for handle in self._offline_timers.values():
            handle.cancel()
        self._offline_timers.clear()
        buses = list(self._buses.values())
        if buses:
            await asyncio.gather(*(asyncio.to_thread(b.stop) for b in buses))
        for ch in self._channels.values():
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - releasing, nothing left to report to
                pass
        for st in self.readers.values():
            if st.door is not None:
                st.door.close()
            if st.pin_timer is not None:
                st.pin_timer.cancel()
                st.pin_timer = None
            for handle in st.chatter_timers.values():
                handle.cancel()
            st.chatter_timers.clear()

    def _post(self, fn, *args) -> None:
        """From a bus thread into the loop (dropped once the loop is gone)."""
        loop = self._loop
        if loop is None or self._stopped:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed while stopping
            pass

    # -- from the buses (in the loop) -----------------------------------------------------
    def _reader_at(self, port: str, idx: int) -> Optional[ReaderState]:
        states = self._port_readers.get(port, [])
        return states[idx] if 0 <= idx < len(states) else None

    def _on_link(self, port: str, idx: int, t_ns: int, online: bool, sc: bool) -> None:
        st = self._reader_at(port, idx)
        if st is None or self._stopped:
            return
        was = st.online
        st.online, st.sc_active = online, sc
        if online != was:
            st.changed_ns = time.monotonic_ns()
        if online == was:
            if online:
                self._notice(port, f"reader {st.name}: secure channel "
                                   f"{'active' if sc else 'NOT active'}")
            return
        if online:
            st.counts["came_online"] += 1
            how = "secure channel active" if sc else "WITHOUT secure channel"
            if st.cfg["install_mode"]:
                how += "; install mode: the configured key is given to the reader, set " \
                       "install_mode = false now"
            self._notice(port, f"reader {st.name} (address {st.cfg['address']}) online, {how}")
            self._reapply_outputs(st)
            self._cancel_offline(port, idx)
        else:
            st.counts["went_offline"] += 1
            st.pins.clear()
            self._notice(port, f"reader {st.name} (address {st.cfg['address']}) offline")
            delay = self._port_cfg[port]["offline_after_s"]
            if delay > 0:
                # report the outage only if it lasts: a few polls lost to line noise are not
                # an offline reader (nor, with its four points, a sabotage)
                loop = asyncio.get_running_loop()
                self._offline_timers[(port, idx)] = loop.call_later(
                    delay, self._report_offline, port, idx, t_ns)
                return
        for pid, value in st.point_values():
            self.sink.put(t_ns, pid, value)

    def _report_offline(self, port: str, idx: int, t_ns: int) -> None:
        self._offline_timers.pop((port, idx), None)
        st = self._reader_at(port, idx)
        if st is None or self._stopped or st.online:
            return
        for pid, value in st.point_values():
            self.sink.put(t_ns, pid, value)  # stamped when the reader fell silent

    def _cancel_offline(self, port: str, idx: int) -> None:
        handle = self._offline_timers.pop((port, idx), None)
        if handle is not None:
            handle.cancel()

    def _on_completion(self, port: str, idx: int, command, ok: bool) -> None:
        st = self._reader_at(port, idx)
        if st is not None and not ok:
            st.counts["commands_failed"] += 1

    def _on_event(self, port: str, idx: int, t_ns: int, ev: dict) -> None:
        st = self._reader_at(port, idx)
        if st is None or self._stopped or not isinstance(ev, dict):
            return
        kind = ev.get("event")
        if kind == Event.Status:
            self._on_status(st, t_ns, ev)
        elif kind == Event.CardRead:
            self._on_card(st, t_ns, ev)
        elif kind == Event.KeyPress:
            self._on_keys(st, t_ns, ev)
        else:
            return  # notifications, manufacturer replies: nothing for the alarm logic
        st.last_event_ns = t_ns

    def _on_status(self, st: ReaderState, t_ns: int, ev: dict) -> None:
        report = bytes(ev.get("report") or b"")
        rtype = ev.get("type")
        if rtype == StatusReportType.Input:
            st.counts["input_reports"] += 1
            st.last_event = "input"
            self._on_inputs(st, t_ns, report)
        elif rtype == StatusReportType.Local and len(report) >= 2:
            st.counts["local_reports"] += 1
            st.last_event = "local"
            for attr, byte in (("tamper", report[0]), ("power", report[1])):
                value = ACTIVE if byte else NORMAL
                if getattr(st, attr) != value:
                    setattr(st, attr, value)
                    pid = getattr(st, attr + "_pid")
                    if pid is not None and st.online:
                        self.sink.put(t_ns, pid, value)

    def _on_inputs(self, st: ReaderState, t_ns: int, report: bytes) -> None:
        levels = [1 if b else 0 for b in report[:len(st.inputs)]]
        levels += st.inputs[len(levels):]
        rex, door = st.cfg["rex_input"], st.cfg["door_input"]
        # REX first: a REX press and the door opening in one report is an authorised exit.
        if rex >= 0 and levels[rex] and not st.inputs[rex] and st.door is not None:
            st.door.grant(t_ns)
        changed = [i for i, v in enumerate(levels) if v != st.inputs[i]]
        st.inputs = levels
        for i in changed:
            pid = st.input_pids[i]
            value = ACTIVE if levels[i] else NORMAL
            g = st.chatter.get(i)
            if g is not None:
                if g.offer(t_ns, value) is None:
                    value = None
                if g.tripped:
                    g.tripped = False
                    self._chatter(st, i, g, True, t_ns)
                    st.chatter_timers[i] = self._loop.call_later(
                        g.sample_ns / 1e9, self._chatter_tick, st, i)
            if pid is not None and st.online and value is not None:
                self.sink.put(t_ns, pid, value)
        if st.door is not None and door >= 0:
            st.door.contact(t_ns, bool(levels[door]))

    # -- the chatter guard (drivers/chatter.py) ----------------------------------------------
    def _chatter_tick(self, st: ReaderState, i: int) -> None:
        """While an input chatters: its level once per sample period; restore when quiet."""
        st.chatter_timers.pop(i, None)
        g = st.chatter[i]
        if self._stopped:
            return
        t = time.monotonic_ns()
        value = g.tick(t)
        pid = st.input_pids[i]
        if value is not None and st.online:
            self.sink.put(t, pid, value)
        if g.restored:
            g.restored = False
            self._chatter(st, i, g, False, t)
        elif g.guard.active:
            st.chatter_timers[i] = self._loop.call_later(g.sample_ns / 1e9,
                                                         self._chatter_tick, st, i)

    def _chatter(self, st: ReaderState, i: int, g: PolledChatter, active: bool,
                 t: int) -> None:
        name = st.cfg["inputs"][i]
        if active:
            text = (f"input {name} of reader {st.name} is chattering: more than "
                    f"{g.guard.limit} changes in {g.guard.window_ns // 1_000_000} ms; its "
                    f"level is reported every {g.sample_ns / 1e9:g} s until it settles")
        else:
            text = f"input {name} of reader {st.name} stopped chattering"
        log.warning("osdp: %s", text)
        self.sink.put_event(chatter_event("osdp", name, active, t, g.guard, text))

    def point_stats(self) -> dict:
        """Per reader input point: chatter state and counts."""
        return {st.cfg["inputs"][i]: g.stats() for st in self.readers.values()
                for i, g in st.chatter.items()}

    def _door_emitter(self, st: ReaderState):
        def emit(t_ns: int, which: str, value: int) -> None:
            if value == ACTIVE:
                st.counts[which] += 1
            pid = st.forced_pid if which == "forced" else st.held_pid
            if pid is not None and st.online:
                self.sink.put(t_ns, pid, value)
        return emit

    def _on_card(self, st: ReaderState, t_ns: int, ev: dict) -> None:
        fmt = ev.get("format")
        bits = ev.get("length") if fmt in (CardFormat.Unspecified, CardFormat.Wiegand) else None
        try:
            value = card_value(bytes(ev.get("data") or b""), bits, st.cfg["card_format"])
        except CardFormatError as e:
            st.counts["card_errors"] += 1
            self._notice(st.port, f"reader {st.name}: unreadable card ({e})")
            return
        st.counts["cards"] += 1
        st.last_event = "card"
        self._credential(st, t_ns, "card", value)

    def _on_keys(self, st: ReaderState, t_ns: int, ev: dict) -> None:
        st.counts["keys"] += 1
        st.last_event = "keys"
        for t_first, pin in st.pins.feed(bytes(ev.get("data") or b""), t_ns):
            self._credential(st, t_first, "pin", pin)
        if st.pin_timer is not None:
            st.pin_timer.cancel()
            st.pin_timer = None
        if st.pins.pending:
            st.pin_timer = self._loop.call_later(st.pins.timeout_s, self._pin_expired, st)

    def _pin_expired(self, st: ReaderState) -> None:
        st.pin_timer = None
        done = st.pins.expire()
        if done is not None:
            self._credential(st, done[0], "pin", done[1])

    def _credential(self, st: ReaderState, t_ns: int, kind: str, value: str) -> None:
        if kind == "pin":
            st.counts["pins"] += 1
        # the value is a secret: it goes to the daemon only, never to a log
        self.sink.put_event({"type": "credential", "t_ns": t_ns, "reader": st.name,
                             "kind": kind, "value": value})

    def _notice(self, device: str, text: str) -> None:
        log.info("osdp %s: %s", device, text)
        self.sink.put_event({"type": "notice", "t_ns": time.monotonic_ns(), "driver": "osdp",
                             "device": device, "text": text})

    # -- outputs and grants (from the daemon) ---------------------------------------------
    def outputs(self) -> dict[str, str]:
        res = {}
        for name, st in self.readers.items():
            res[f"{name}.led"] = "led"
            res[f"{name}.buzzer"] = "buzzer"
            if st.cfg["strike_output"] >= 0:
                res[f"{name}.strike"] = "relay"
        return res

    def _output(self, name: str) -> tuple[ReaderState, str]:
        reader, _, what = name.rpartition(".")
        st = self.readers.get(reader)
        if st is None or what not in OUTPUT_KINDS or \
                (what == "strike" and st.cfg["strike_output"] < 0):
            raise KeyError(name)
        return st, what

    def _command(self, st: ReaderState, what: str, on: bool, ms: Optional[int]) -> dict:
        color = st.cfg["led_color"]
        if what == "led":
            return out.led(on, color) if ms is None else out.led_pulse(ms, color)
        if what == "buzzer":
            return out.buzzer(on) if ms is None else out.buzzer_pulse(ms)
        n = st.cfg["strike_output"]
        return out.output(n, on) if ms is None else out.output_pulse(n, ms)

    async def _submit(self, st: ReaderState, command: dict) -> bool:
        if not self._started or self._stopped:
            raise OsdpCommandError("the OSDP driver is not running")
        if not st.online:
            return False
        st.counts["commands"] += 1
        fut = self._buses[st.port].submit(st.idx, command)
        ok = await asyncio.wrap_future(fut)
        if not ok:
            st.counts["commands_failed"] += 1
        return ok

    async def set_output(self, name: str, on: bool) -> None:
        """Steady state of an output. Remembered, and applied again whenever the reader
        comes back online (an 'armed' LED survives a reader reboot). A reader that is offline
        now gets it when it returns."""
        st, what = self._output(name)
        st.desired[what] = bool(on)
        await self._submit(st, self._command(st, what, bool(on), None))

    async def pulse_output(self, name: str, ms: int) -> None:
        """An output on for ``ms`` (a chirp, a strike pulse). Lost if the reader is offline
        (raises OsdpCommandError then)."""
        st, what = self._output(name)
        if not await self._submit(st, self._command(st, what, True, int(ms))):
            raise OsdpCommandError(f"{name}: reader {st.name} is offline or refused the pulse")

    async def grant(self, reader: str, ms: Optional[int] = None) -> bool:
        """Let one person through ``reader``'s door: opens the grant window (the next opening
        within ``ms``, default ``grant_ms``, is not 'forced') and pulses the strike for as
        long. Returns whether the strike command was taken (False: reader offline / no
        strike; the window is open all the same)."""
        st = self.readers.get(reader)
        if st is None:
            raise KeyError(reader)
        ms = st.cfg["grant_ms"] if ms is None else int(ms)
        if st.door is not None:
            st.door.grant(time.monotonic_ns(), ms)
        if st.cfg["strike_output"] < 0:
            return False
        return await self._submit(st, out.output_pulse(st.cfg["strike_output"], ms))

    def _reapply_outputs(self, st: ReaderState) -> None:
        for what, on in st.desired.items():
            cmd = self._command(st, what, on, None)
            st.counts["commands"] += 1
            self._buses[st.port].submit(st.idx, cmd)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict:
        now = time.monotonic_ns()
        ports = {}
        for name, states in self._port_readers.items():
            ch = self._channels.get(name)
            bus = self._buses.get(name)
            ports[name] = {
                "serial": ch.stats() if ch else {"open": False},
                "refresh_errors": bus.refresh_errors if bus else 0,
                "wakeups": bus.wakeups if bus else 0,
                "readers": [s.name for s in states],
            }
        readers = {}
        for name, st in self.readers.items():
            bus = self._buses.get(st.port)
            readers[name] = {
                "port": st.port, "address": st.cfg["address"], "online": st.online,
                "secure_channel": st.sc_active,
                "mode": "insecure" if st.cfg["insecure"] else
                        "install" if st.cfg["install_mode"] else "secure",
                "last_event": st.last_event,
                "last_event_age_s": round((now - st.last_event_ns) / 1e9, 1)
                if st.last_event_ns else None,
                "since_age_s": round((now - st.changed_ns) / 1e9, 1) if st.changed_ns
                else None,
                "reconnects": bus.reconnects[st.idx] if bus else 0,
                "inputs": list(st.inputs), "tamper": st.tamper, "power": st.power,
                "door": None if st.door is None else {
                    "open": st.door.open, "forced": st.door.forced, "held": st.door.held},
                "outputs": dict(st.desired),
                "counts": dict(st.counts),
            }
        return {"kind": self.kind, "running": self._started and not self._stopped,
                "ports": ports, "readers": readers}
