"""What the driver knows about one reader (an OSDP peripheral device): its points, its last
reported levels, its link state, counters, door and keypad. Loop-side state only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..base import ACTIVE, NORMAL, OFFLINE
from .credentials import PinCollector
from .door import Door


@dataclass
class ReaderState:
    cfg: dict
    port: str
    idx: int  # libosdp PD index on its bus
    input_pids: list  # per input index: point id or None
    tamper_pid: Optional[int] = None
    power_pid: Optional[int] = None
    online_pid: Optional[int] = None
    forced_pid: Optional[int] = None
    held_pid: Optional[int] = None
    online: bool = False
    sc_active: bool = False
    inputs: list = field(default_factory=list)  # last reported level per input (0/1)
    tamper: int = NORMAL
    power: int = NORMAL
    door: Optional[Door] = None
    pins: Optional[PinCollector] = None
    pin_timer: object = None
    desired: dict = field(default_factory=dict)  # output -> last set_output state
    counts: dict = field(default_factory=lambda: {
        "cards": 0, "pins": 0, "keys": 0, "input_reports": 0, "local_reports": 0,
        "went_offline": 0, "came_online": 0, "commands": 0, "commands_failed": 0,
        "card_errors": 0, "forced": 0, "held": 0})
    last_event: str = ""
    last_event_ns: int = 0
    changed_ns: int = 0  # when ``online`` last changed (monotonic ns)
    chatter: dict = field(default_factory=dict)  # input index -> PolledChatter
    chatter_timers: dict = field(default_factory=dict)  # input index -> TimerHandle

    @property
    def name(self) -> str:
        return self.cfg["name"]

    def point_values(self) -> list[tuple[int, int]]:
        """``(point id, value)`` of every point of this reader, as things stand now."""
        out = []
        if self.online_pid is not None:
            out.append((self.online_pid, NORMAL if self.online else ACTIVE))
        if not self.online:
            return out + [(p, OFFLINE) for p in self._data_pids()]
        for i, pid in enumerate(self.input_pids):
            if pid is not None:
                out.append((pid, ACTIVE if i < len(self.inputs) and self.inputs[i]
                            else NORMAL))
        if self.tamper_pid is not None:
            out.append((self.tamper_pid, self.tamper))
        if self.power_pid is not None:
            out.append((self.power_pid, self.power))
        if self.door is not None:
            v = self.door.values()
            if self.forced_pid is not None:
                out.append((self.forced_pid, v["forced"]))
            if self.held_pid is not None:
                out.append((self.held_pid, v["held"]))
        return out

    def _data_pids(self) -> list[int]:
        pids = [p for p in self.input_pids if p is not None]
        pids += [p for p in (self.tamper_pid, self.power_pid, self.forced_pid, self.held_pid)
                 if p is not None]
        return pids
