"""Config schema of ``[drivers.gpio]``: the pin factory, input points and outputs.

Field checks live on each field; checks that span fields (a pin used twice, pull "none"
without an explicit active level) run over the whole section and name the key at fault."""
from __future__ import annotations

from guardroom.schema import Choice, Float, Int, ListOf, Name, Section, Str

from .pins import BCM_MAX, BCM_MIN

FACTORIES = ("lgpio", "rpigpio", "native", "mock")
OUTPUT_KINDS = ("siren", "strobe", "buzzer", "relay", "led")

INPUT = Section({
    "point": Name(doc="point name the zones refer to"),
    "pin": Int(min=BCM_MIN, max=BCM_MAX, doc="BCM GPIO number"),
    "pull": Choice(["up", "down", "none"], default="up",
                   doc="internal pull resistor; 'none' needs an external one"),
    "active": Choice(["low", "high", "auto"], default="auto",
                     doc="electrical level that means ACTIVE; 'auto' = the opposite of the "
                         "pull (pull up -> low). With pull 'none' say it explicitly"),
})

OUTPUT = Section({
    "name": Name(doc="output name the siren policy and console refer to"),
    "pin": Int(min=BCM_MIN, max=BCM_MAX, doc="BCM GPIO number"),
    "kind": Choice(OUTPUT_KINDS, default="relay", doc="what is wired to it"),
    "active": Choice(["high", "low"], default="high",
                     doc="level that turns the load on (many relay boards are active low)"),
})


def _cross_check(section: dict) -> list[tuple[str, str]]:
    """Problems no single field can see, each with the key at fault."""
    problems = []
    used: dict[int, str] = {}
    names: dict[str, str] = {}
    for group in ("input", "output"):
        for i, item in enumerate(section.get(group) or []):
            key = f"{group}[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("pin"), int):
                continue
            pin = item["pin"]
            if pin in used:
                problems.append((f"{key}.pin", f"GPIO{pin} is already used by {used[pin]}"))
            else:
                used[pin] = key
            label = item.get("point") if group == "input" else item.get("name")
            if isinstance(label, str):
                if label in names:
                    problems.append((f"{key}.{'point' if group == 'input' else 'name'}",
                                     f"name {label!r} is already used by {names[label]}"))
                else:
                    names[label] = key
            if group == "input" and item.get("pull") == "none" and item.get("active") == "auto":
                problems.append((f"{key}.active", "with pull 'none' the active level must be "
                                 "given ('low' or 'high')"))
    addr = section.get("control")
    if isinstance(addr, str):
        from .mockctl import parse_address

        try:
            parse_address(addr)
        except ValueError as e:
            problems.append(("control", str(e)))
    return problems


CONFIG_SCHEMA = Section({
    "factory": Choice(FACTORIES, default="lgpio",
                      doc="gpiozero pin factory: lgpio (Pi 5 / bookworm), rpigpio, native, "
                          "mock (any PC, with the control channel)"),
    "control": Str(default="127.0.0.1:0",
                   doc="mock only: control channel address, host:port (port 0 = any free) "
                       "or unix:/path"),
    "control_file": Str(default="", doc="mock only: write the bound control address here"),
    "chatter_rate": Int(default=200, min=0, max=1_000_000,
                        doc="chatter guard: an input with more edges per second than this, "
                            "sustained over chatter_window_ms, is a fault: its edges are no "
                            "longer listened to, its level is sampled, and a sensor trouble "
                            "(CID 380) is raised for its zones. 0 turns the guard off"),
    "chatter_window_ms": Int(default=100, min=10, max=10_000,
                             doc="chatter guard: the window the rate is counted over"),
    "chatter_sample_ms": Int(default=100, min=10, max=10_000,
                             doc="chatter guard: level sampling period while an input chatters"),
    "chatter_quiet_s": Float(default=10.0, min=0.1, max=3600,
                             doc="chatter guard: edges are listened to again after this long; "
                                 "the trouble restores once the input stayed under the rate "
                                 "for as long again"),
    "input": ListOf(INPUT, default=list, doc="input points (panic buttons, beam relays)"),
    "output": ListOf(OUTPUT, default=list, doc="outputs (sirens, strobes, buzzers, relays)"),
}, cross=_cross_check)
