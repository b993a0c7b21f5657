"""A gpiozero mock pin factory whose pins announce every level change.

``wait PIN LEVEL`` on the control channel blocks on the factory's condition instead of
polling, and each pin trims its ``states`` history (gpiozero's mock pins keep every change
forever, which a 50k-edge burst would turn into a memory leak)."""
from __future__ import annotations

import threading

from gpiozero.pins.mock import MockFactory, MockPin

_KEEP_STATES = 64


class WatchedMockPin(MockPin):
    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed:
            if len(self.states) > _KEEP_STATES:
                self.clear_states()
            cond = self._factory.changed
            with cond:
                cond.notify_all()
        return changed


class WatchedMockFactory(MockFactory):
    """``MockFactory`` with ``changed``, a condition notified on any pin level change."""

    def __init__(self):
        super().__init__(pin_class=WatchedMockPin)
        self.changed = threading.Condition()

    def wait_level(self, pin, level: int, timeout_s: float) -> bool:
        """Block until ``pin.state == level`` or the timeout; True if the level was reached."""
        with self.changed:
            return self.changed.wait_for(lambda: int(pin.state) == level, timeout=timeout_s)
