"""Config schema of ``[drivers.osdp]``: serial ports (RS-485 buses) and the readers (OSDP
peripheral devices) on each.

Single-field rules live on the fields. Rules that span fields (two readers on one address, a
door input that does not exist, a reader without a secure channel key) run in ``_Port`` and
``_Root`` below and report the exact key at fault, e.g. ``port[0].reader[1].address``."""
from __future__ import annotations

import re

from guardroom.schema import Bool, Choice, Float, Int, ListOf, Name, Problems, Section, Str

BAUDRATES = (9600, 19200, 38400, 57600, 115200)
LED_COLORS = ("red", "green", "amber", "blue", "magenta", "cyan", "white")
CARD_FORMATS = ("raw", "h10301")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_POINT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})?$")


def _scbk_check(value: str):
    if value == "":
        return None
    if not _HEX.fullmatch(value):
        return "must be hexadecimal digits only (0-9, a-f)"
    if len(value) != 32:
        return f"must be exactly 32 hex digits (a 16-byte key), not {len(value)}"
    return None


def _point_check(value: str):
    if not _POINT.fullmatch(value):
        return f"{value!r} is not a point name (letters, digits, _ - ., at most 64)"
    return None


def _inputs_check(value: list):
    for i, v in enumerate(value):
        if isinstance(v, str) and not _POINT.fullmatch(v):
            return f"[{i}] {v!r} is not a point name (or \"\" for an unused input)"
    return None


def PointName(doc: str) -> Str:
    """A point name, or "" for "not reported"."""
    return Str(default="", max_len=64, check=_point_check, doc=doc)


READER = Section({
    "name": Name(doc="reader name: outputs are '<name>.led', '<name>.buzzer', "
                     "'<name>.strike'; credentials carry it"),
    "address": Int(min=0, max=126, doc="OSDP address set on the reader (0-126, unique per bus)"),
    "scbk": Str(default="", max_len=64, secret=True, check=_scbk_check,
                doc="secure channel base key, 32 hex digits (secret: never shown or logged)"),
    "install_mode": Bool(default=False,
                         doc="commissioning: open the secure channel with the reader's default "
                             "install key and give it 'scbk' (KEYSET); turn off afterwards"),
    "insecure": Bool(default=False,
                     doc="accept a reader without secure channel (card numbers and PINs in "
                         "clear on the wire); must be said explicitly"),
    "inputs": ListOf(Str(max_len=64), default=list, max_len=32, check=_inputs_check,
                     doc="input status index -> point name (\"\" = unused)"),
    "tamper_point": PointName("point for the reader's tamper (local status byte 0)"),
    "power_point": PointName("point for the reader's power failure (local status byte 1)"),
    "online_point": PointName("point that is ACTIVE while the reader does not answer "
                              "(all other points of the reader report OFFLINE meanwhile)"),
    "door_input": Int(default=-1, min=-1, max=31,
                      doc="input index of the door contact (active = open), -1 = no door"),
    "rex_input": Int(default=-1, min=-1, max=31,
                     doc="input index of the request-to-exit button, -1 = none"),
    "forced_point": PointName("point ACTIVE while the door is open without a grant"),
    "held_point": PointName("point ACTIVE while a granted door stays open past held_s"),
    "held_s": Float(default=30.0, min=0.1, max=3600,
                    doc="seconds a granted door may stay open before 'held'"),
    "grant_ms": Int(default=5000, min=100, max=25_500,
                    doc="how long a grant (REX, a granted card) covers an opening; also the "
                        "strike pulse"),
    "strike_output": Int(default=-1, min=-1, max=31,
                         doc="OSDP output number of the door strike relay, -1 = none"),
    "led_color": Choice(LED_COLORS, default="red", doc="colour of '<name>.led' when on"),
    "card_format": Choice(CARD_FORMATS, default="raw",
                          doc="'raw': card number = the card bits as one decimal number; "
                              "'h10301': 26-bit Wiegand, parity checked, 'facility:card'"),
    "pin_timeout_s": Float(default=5.0, min=0.5, max=60,
                           doc="keypad digits without '#' are sent as a PIN after this pause"),
})


def _port_cross(port: dict) -> Problems:
    """A port's readers against each other (addresses, names, door wiring, keys)."""
    problems = Problems()
    if not isinstance(port.get("reader"), list):
        return problems
    seen: dict[int, str] = {}
    for i, r in enumerate(port["reader"]):
        if not isinstance(r, dict):
            continue
        key = f"reader[{i}]"
        addr = r.get("address")
        if isinstance(addr, int):
            if addr in seen:
                problems.add(f"{key}.address", f"address {addr} is already used by "
                             f"reader {seen[addr]!r} on this port")
            else:
                seen[addr] = r.get("name")
        _check_reader(r, key, problems)
    return problems


def _check_reader(r: dict, key: str, problems) -> None:
    scbk, install, insecure = r.get("scbk"), r.get("install_mode"), r.get("insecure")
    if insecure is True and (scbk or install is True):
        problems.add(f"{key}.insecure", "cannot be combined with scbk or install_mode: "
                     "remove insecure to use the secure channel")
    elif install is True and not scbk:
        problems.add(f"{key}.scbk", "install_mode needs the key the reader is to be given "
                     "(32 hex digits)")
    elif not scbk and insecure is not True and install is not True:
        problems.add(f"{key}.scbk", "is empty: without a secure channel anyone on the RS-485 "
                     "bus can read card numbers and PINs and fake door contacts. Set a "
                     "32-hex-digit key, or install_mode = true to commission a new reader, or "
                     "insecure = true to accept clear text explicitly")
    inputs = r.get("inputs") if isinstance(r.get("inputs"), list) else []
    for field in ("door_input", "rex_input"):
        idx = r.get(field)
        if isinstance(idx, int) and idx >= len(inputs):
            problems.add(f"{key}.{field}", f"input {idx} is not in inputs "
                         f"(which has {len(inputs)} entries)")
    if r.get("door_input") == r.get("rex_input") and r.get("door_input", -1) >= 0:
        problems.add(f"{key}.rex_input", "is the same input as door_input")
    for field in ("forced_point", "held_point"):
        if r.get(field) and r.get("door_input", -1) < 0:
            problems.add(f"{key}.{field}", "needs door_input (the door contact)")
    names = [n for n in inputs if n] + [r.get(f) for f in
             ("tamper_point", "power_point", "online_point", "forced_point", "held_point")
             if r.get(f)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.add(key, f"point {dup[0]!r} is used twice by this reader")


PORT = Section({
    "name": Name(doc="bus name (status, logs)"),
    "device": Str(doc="serial device of the RS-485 adapter (/dev/ttyUSB1, a pty path, or a "
                      "pyserial URL such as socket://host:port)"),
    "baudrate": Choice(BAUDRATES, default=9600, doc="line speed; every reader on the bus "
                       "must use the same"),
    "reconnect_s": Float(default=5.0, min=1, max=300,
                         doc="longest wait between retries of a reader that stopped "
                             "answering (the first retries come sooner; libosdp alone waits "
                             "300 s)"),
    "offline_after_s": Float(default=3.0, min=0, max=300,
                             doc="a reader's points go OFFLINE only when it stays silent this "
                                 "long (line noise that costs a few polls is not an outage)"),
    "chatter_changes": Int(default=8, min=0, max=1000,
                           doc="chatter guard: a reader input that changes more often than "
                               "this within chatter_window_ms is chattering: its changes "
                               "are held back, its level is reported at most every "
                               "chatter_sample_ms, and a sensor trouble (CID 380) is raised "
                               "for its zones. 0 turns the guard off"),
    "chatter_window_ms": Int(default=1000, min=50, max=60_000,
                             doc="chatter guard: the window the changes are counted in"),
    "chatter_sample_ms": Int(default=1000, min=50, max=600_000,
                             doc="chatter guard: how often a chattering input's level is "
                                 "reported"),
    "chatter_quiet_s": Float(default=10.0, min=0.1, max=3600,
                             doc="chatter guard: the trouble restores once the input has not "
                                 "changed for this long"),
    "reader": ListOf(READER, min_len=1, max_len=126, doc="readers (OSDP PDs) on this bus"),
}, cross=_port_cross)


def _root_cross(root: dict) -> Problems:
    """Names and devices across ports."""
    problems = Problems()
    if not isinstance(root.get("port"), list):
        return problems
    devices: dict[str, str] = {}
    readers: dict[str, str] = {}
    ports: dict[str, str] = {}
    for i, p in enumerate(root["port"]):
        if not isinstance(p, dict):
            continue
        pkey = f"port[{i}]"
        for field, seen in (("device", devices), ("name", ports)):
            v = p.get(field)
            if isinstance(v, str):
                if v in seen:
                    problems.add(f"{pkey}.{field}", f"{v!r} is already used by {seen[v]}")
                else:
                    seen[v] = pkey
        for j, r in enumerate(p.get("reader") or []):
            if isinstance(r, dict) and isinstance(r.get("name"), str):
                n = r["name"]
                if n in readers:
                    problems.add(f"{pkey}.reader[{j}].name",
                                 f"reader name {n!r} is already used by {readers[n]}")
                else:
                    readers[n] = f"{pkey}.reader[{j}]"
    return problems


CONFIG_SCHEMA = Section({
    "port": ListOf(PORT, default=list, doc="RS-485 buses with OSDP readers"),
}, cross=_root_cross)
