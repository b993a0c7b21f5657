"""GPIO driver: panic buttons and beam relays in, sirens/strobes/relays out, via gpiozero.

Edges arrive on gpiozero's threads (on a Pi: the factory's event thread; with the mock
factory: the thread that drives the pin, i.e. the control channel's) and do nothing but
``sink.put(t_ns, point, value)``. Everything else (outputs, pulse timers) runs in the daemon's
asyncio loop."""
from __future__ import annotations

import asyncio
import logging
import os
import time

from guardroom.errors import ConfigError

from ..base import ACTIVE, NORMAL, Driver, PointTable, SampleBuffer
from ..errors import DriverConfigError
from .backends import has_control, make_factory
from .errors import GpioConfigError, GpioError
from .pins import active_level
from .schema import CONFIG_SCHEMA

log = logging.getLogger("guardroom.drivers.gpio")


class _Input:
    """One input point. Bound methods (not lambdas) are the gpiozero callbacks."""

    __slots__ = ("point", "point_id", "pin", "pull", "active", "device", "sink",
                 "_on_activated_value", "edges", "__weakref__")

    def __init__(self, cfg: dict, point_id: int, sink: SampleBuffer):
        self.point = cfg["point"]
        self.point_id = point_id
        self.pin = cfg["pin"]
        self.pull = cfg["pull"]
        self.active = active_level(self.pull, cfg["active"])
        self.sink = sink
        self.device = None
        self.edges = 0
        self._on_activated_value = ACTIVE

    def open(self, factory) -> None:
        from gpiozero import DigitalInputDevice

        if self.pull == "none":
            self.device = DigitalInputDevice(self.pin, pull_up=None,
                                             active_state=bool(self.active),
                                             bounce_time=None, pin_factory=factory)
            device_active = self.active
        else:
            self.device = DigitalInputDevice(self.pin, pull_up=(self.pull == "up"),
                                             bounce_time=None, pin_factory=factory)
            device_active = 0 if self.pull == "up" else 1
        # gpiozero ties the active level to the pull; a normally-closed contact with a
        # pull-up is active HIGH, so the device's "activated" may mean our rest level.
        self._on_activated_value = ACTIVE if device_active == self.active else NORMAL

    def listen(self) -> None:
        self.device.when_activated = self.on_activated
        self.device.when_deactivated = self.on_deactivated

    def on_activated(self):
        self.edges += 1
        self.sink.put(time.monotonic_ns(), self.point_id, self._on_activated_value)

    def on_deactivated(self):
        self.edges += 1
        self.sink.put(time.monotonic_ns(), self.point_id, 1 - self._on_activated_value)

    def level(self) -> int:
        return int(self.device.pin.state)

    def value(self) -> int:
        return ACTIVE if self.level() == self.active else NORMAL

    def close(self) -> None:
        if self.device is not None:
            self.device.when_activated = None
            self.device.when_deactivated = None
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
            self._inputs.append(_Input(c, point_id, sink))
        self._outputs = {c["name"]: _Output(c) for c in config["output"]}
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
            now = time.monotonic_ns()
            for inp in self._inputs:           # the first report of every input
                self.sink.put(now, inp.point_id, inp.value())
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
                "edges": i.edges,
            } for i in self._inputs],
            "outputs": [{
                "name": o.name, "pin": o.pin, "kind": o.kind,
                "active": "high" if o.active_high else "low",
                "on": o.is_on(), "pulsing": o.pulse_handle is not None,
            } for o in self._outputs.values()],
        }


__all__ = ["GpioDriver", "GpioConfigError"]
