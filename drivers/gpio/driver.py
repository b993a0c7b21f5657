"""GPIO driver: panic buttons and beam relays in, sirens/strobes/relays out, via gpiozero.

Edges arrive on gpiozero's threads (on a Pi: the factory's event thread; with the mock
factory: the thread that drives the pin, i.e. the control channel's) and do nothing but
``sink.put(t_ns, point, value)``. Everything else (outputs, pulse timers) runs in the daemon's
asyncio loop."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from guardroom.errors import ConfigError

from ..base import ACTIVE, NORMAL, Driver, PointTable, SampleBuffer
from ..chatter import ChatterGuard, chatter_event
from ..errors import DriverConfigError
from .backends import has_control, make_factory
from .errors import GpioConfigError, GpioError
from .pins import active_level
from .schema import CONFIG_SCHEMA

log = logging.getLogger("guardroom.drivers.gpio")


class _Input:
    """One input point. The pin's ``when_changed`` is a bound method of this object (gpiozero
    keeps a weak reference: a lambda would never fire).

    ``on_edge`` runs in gpiozero's thread (lgpio's alert thread on a Pi; the emulated wire's
    thread with the mock factory): it stamps the edge, puts the sample and counts it in the
    chatter guard. When the guard trips it only mutes itself and hands the input over to the
    loop (``on_chatter``), which detaches the pin's callback and samples the level instead."""

    __slots__ = ("point", "point_id", "pin", "pull", "active", "device", "sink", "guard",
                 "muted", "value_sent", "lock", "on_chatter", "gen", "handle", "samples",
                 "__weakref__")

    def __init__(self, cfg: dict, point_id: int, sink: SampleBuffer, guard: ChatterGuard):
        self.point = cfg["point"]
        self.point_id = point_id
        self.pin = cfg["pin"]
        self.pull = cfg["pull"]
        self.active = active_level(self.pull, cfg["active"])
        self.sink = sink
        self.device = None
        self.guard = guard
        self.muted = False          # chattering: edges still in flight are only counted
        self.value_sent: int | None = None
        self.lock = threading.Lock()
        self.on_chatter = None      # set by the driver: hand-over to the loop
        self.gen = 0                # invalidates the loop's timers of an older phase
        self.handle: asyncio.TimerHandle | None = None
        self.samples = 0            # levels reported by sampling while chattering

    def open(self, factory) -> None:
        from gpiozero import InputDevice

        if self.pull == "none":
            self.device = InputDevice(self.pin, pull_up=None, active_state=bool(self.active),
                                      pin_factory=factory)
        else:
            self.device = InputDevice(self.pin, pull_up=(self.pull == "up"),
                                      pin_factory=factory)
        pin = self.device.pin
        pin.bounce = None           # debounce is the engine's (per zone profile)
        pin.edges = "both"

    def listen(self) -> None:
        """Edge detection on: the pin factory calls ``on_edge`` for every edge."""
        self.device.pin.when_changed = self.on_edge

    def deafen(self) -> None:
        """Edge detection off: the pin factory stops delivering this pin's edges."""
        if self.device is not None:
            self.device.pin.when_changed = None

    def on_edge(self, ticks, state):
        if self.muted:
            g = self.guard
            g.changes += 1
            g.held_back += 1
            return
        with self.lock:
            t = time.monotonic_ns()
            v = ACTIVE if int(state) == self.active else NORMAL
            self.value_sent = v
            self.sink.put(t, self.point_id, v)
        if self.guard.change(t):
            self.muted = True
            self.on_chatter(self, t)

    def report_level(self) -> bool:
        """Read the level now and report it if it differs from the last one reported."""
        with self.lock:
            v = self.value()
            if v == self.value_sent:
                return False
            self.value_sent = v
            self.sink.put(time.monotonic_ns(), self.point_id, v)
            return True

    def level(self) -> int:
        return int(self.device.pin.state)

    def value(self) -> int:
        return ACTIVE if self.level() == self.active else NORMAL

    def cancel(self) -> None:
        self.gen += 1
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def close(self) -> None:
        self.cancel()
        if self.device is not None:
            self.deafen()
            self.device.close()
            self.device = None


class _Output:
    __slots__ = ("name", "pin", "kind", "active_high", "device", "pulse_handle")

    def __init__(self, cfg: dict):
        self.name = cfg["name"]
        self.pin = cfg["pin"]
        self.kind = cfg["kind"]
        self.active_high = cfg["active"] == "high"
        self.device = None
        self.pulse_handle: asyncio.TimerHandle | None = None

    def open(self, factory) -> None:
        from gpiozero import DigitalOutputDevice

        self.device = DigitalOutputDevice(self.pin, active_high=self.active_high,
                                          initial_value=False, pin_factory=factory)

    def set(self, on: bool) -> None:
        if on:
            self.device.on()
        else:
            self.device.off()

    def cancel_pulse(self) -> None:
        if self.pulse_handle is not None:
            self.pulse_handle.cancel()
            self.pulse_handle = None

    def is_on(self) -> bool:
        return bool(self.device.value) if self.device is not None else False

    def close(self) -> None:
        self.cancel_pulse()
        if self.device is not None:
            self.device.off()
            self.device.close()
            self.device = None


class GpioDriver(Driver):
    """``[drivers.gpio]``: inputs and outputs on the Pi's header through one pin factory."""

    kind = "gpio"

    def __init__(self, config: dict, points: PointTable, sink: SampleBuffer):
        try:   # idempotent on an already validated section
            config = CONFIG_SCHEMA.validate(config, "drivers.gpio")
        except ConfigError as e:
            raise GpioConfigError(e.problems) from None
        super().__init__(config, points, sink)
        self.factory_name = config["factory"]
        self._inputs = []
        for i, c in enumerate(config["input"]):
            try:
                point_id = points.register(c["point"], owner="gpio")
            except DriverConfigError as e:
                raise GpioConfigError((f"drivers.gpio.input[{i}].point", str(e))) from None
            inp = _Input(c, point_id, sink, ChatterGuard(
                config["chatter_rate"], config["chatter_window_ms"], config["chatter_quiet_s"]))
            inp.on_chatter = self._chatter_handover
            self._inputs.append(inp)
        self._outputs = {c["name"]: _Output(c) for c in config["output"]}
        self._sample_s = config["chatter_sample_ms"] / 1000
        self._quiet_s = float(config["chatter_quiet_s"])
        self._factory = None
        self._control = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self.started:
            return
        self._loop = asyncio.get_running_loop()
        self._factory = make_factory(self.factory_name)
        try:
            for out in self._outputs.values():
                out.open(self._factory)
            for inp in self._inputs:
                inp.open(self._factory)
            if has_control(self._factory):
                self._start_control()
            for inp in self._inputs:
                inp.listen()
            for inp in self._inputs:           # the first report of every input
                inp.report_level()
        except Exception as e:
            await self.stop()
            if isinstance(e, GpioError):
                raise
            raise GpioError(f"cannot open GPIO with factory {self.factory_name!r}: "
                            f"{type(e).__name__}: {e}") from e
        self.started = True
        log.info("gpio started: factory=%s inputs=%d outputs=%d%s", self.factory_name,
                 len(self._inputs), len(self._outputs),
                 f" control={self._control.address}" if self._control else "")

    def _start_control(self) -> None:
        from .mockctl import ControlPin, MockControl

        pins = {}
        for inp in self._inputs:
            pin = inp.device.pin
            # the emulated contact starts at rest, whatever the pull
            (pin.drive_high if inp.active == 0 else pin.drive_low)()
            pins[inp.pin] = ControlPin(inp.pin, "in", inp.point, inp.active, pin)
        for out in self._outputs.values():
            pins[out.pin] = ControlPin(out.pin, "out", out.name, int(out.active_high),
                                       out.device.pin)
        self._control = MockControl(self._factory, pins, self.config["control"])
        address = self._control.start()
        path = self.config["control_file"]
        if path:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(address + "\n")
            os.replace(tmp, path)

    async def stop(self) -> None:
        if self._control is not None:
            control, self._control = self._control, None
            await asyncio.get_running_loop().run_in_executor(None, control.stop)
        for inp in self._inputs:
            inp.close()
        for out in self._outputs.values():
            out.close()
        if self._factory is not None:
            self._factory.close()
            self._factory = None
        self.started = False

    # -- the chatter guard -------------------------------------------------------------------
    def _chatter_handover(self, inp: _Input, t_ns: int) -> None:
        """In the edge thread: the input has just muted itself; the loop does the rest."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._chatter_tripped, inp, t_ns)
        except RuntimeError:  # loop closed while stopping
            pass

    def _chatter_tripped(self, inp: _Input, t_ns: int) -> None:
        """Detach the pin's callback (the factory stops delivering its edges: with lgpio the
        line's alerts are released), raise the trouble once per episode, sample the level
        instead, and listen again after the quiet time."""
        if inp.device is None:
            return
        inp.deafen()
        inp.cancel()
        g = inp.guard
        if g.trip(t_ns):
            rate = g.limit * 1000 / max(1, g.window_ns // 1_000_000)
            text = (f"input {inp.point} (GPIO{inp.pin}) is chattering: more than {g.limit} "
                    f"edges in {g.window_ns // 1_000_000} ms (> {rate:.0f}/s); edges ignored, "
                    f"level sampled every {self._sample_s * 1000:.0f} ms")
            log.warning("gpio: %s", text)
            self.sink.put_event(chatter_event("gpio", inp.point, True, t_ns, g, text))
        self._sample(inp, inp.gen)
        inp.handle = self._loop.call_later(self._quiet_s, self._listen_again, inp, inp.gen)

    def _sample(self, inp: _Input, gen: int) -> None:
        if gen != inp.gen or inp.device is None:
            return
        if inp.report_level():
            inp.samples += 1
        inp.handle = self._loop.call_later(self._sample_s, self._sample, inp, gen)

    def _listen_again(self, inp: _Input, gen: int) -> None:
        """Quiet time over: edges on again; the trouble stays until the input has stayed
        under the limit for another quiet time (a still-chattering input trips within
        ``limit`` edges and goes back to sampling, without a new trouble)."""
        if gen != inp.gen or inp.device is None:
            return
        inp.cancel()
        inp.guard.reset_window()
        inp.muted = False
        inp.listen()
        inp.report_level()
        inp.handle = self._loop.call_later(self._quiet_s, self._chatter_over, inp, inp.gen)

    def _chatter_over(self, inp: _Input, gen: int) -> None:
        inp.handle = None
        if gen != inp.gen or inp.device is None:
            return
        g = inp.guard
        if g.restore():
            text = f"input {inp.point} (GPIO{inp.pin}) stopped chattering; edges followed again"
            log.warning("gpio: %s", text)
            self.sink.put_event(chatter_event("gpio", inp.point, False, time.monotonic_ns(),
                                              g, text))

    def point_stats(self) -> dict:
        """Per input point: chatter state and counts (``changes`` = edges seen,
        ``held_back`` = edges not reported one by one while chattering, ``samples`` = levels
        reported by sampling meanwhile)."""
        return {i.point: {**i.guard.stats(), "samples": i.samples} for i in self._inputs}

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self) -> dict[str, str]:
        return {name: o.kind for name, o in self._outputs.items()}

    def _output(self, name: str) -> _Output:
        out = self._outputs.get(name)
        if out is None:
            raise KeyError(name)
        if out.device is None:
            raise GpioError(f"output {name!r}: the GPIO driver is not started")
        return out

    async def set_output(self, name: str, on: bool) -> None:
        out = self._output(name)
        out.cancel_pulse()
        out.set(bool(on))

    async def pulse_output(self, name: str, ms: int) -> None:
        """Turn ``name`` on now and off after ``ms`` ms (an asyncio timer: returns at once).
        A later ``set_output`` or ``pulse_output`` on the same output replaces the pulse."""
        out = self._output(name)
        out.cancel_pulse()
        out.set(True)
        out.pulse_handle = asyncio.get_running_loop().call_later(
            max(0, ms) / 1000, self._pulse_end, out)

    @staticmethod
    def _pulse_end(out: _Output) -> None:
        out.pulse_handle = None
        if out.device is not None:
            out.set(False)

    # -- status -----------------------------------------------------------------------------
    @property
    def control_address(self) -> str | None:
        return self._control.address if self._control else None

    def status(self) -> dict:
        running = self._factory is not None
        return {
            "kind": self.kind,
            "factory": self.factory_name,
            "started": self.started,
            "control": self.control_address,
            "inputs": [{
                "point": i.point, "pin": i.pin, "pull": i.pull,
                "active": "high" if i.active else "low",
                "level": i.level() if running and i.device else None,
                "value": i.value() if running and i.device else None,
                "edges": i.guard.changes,
                "chatter": i.guard.active,
                "held_back": i.guard.held_back,
                "chatter_episodes": i.guard.episodes,
                "samples": i.samples,
            } for i in self._inputs],
            "outputs": [{
                "name": o.name, "pin": o.pin, "kind": o.kind,
                "active": "high" if o.active_high else "low",
                "on": o.is_on(), "pulsing": o.pulse_handle is not None,
            } for o in self._outputs.values()],
        }


__all__ = ["GpioDriver", "GpioConfigError"]
