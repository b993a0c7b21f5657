"""OSDP readers for the lab: libosdp peripheral devices (PDs) on a pty, one RS-485 bus.

The PDs use the pty's master end; the daemon (the OSDP control panel) opens the slave path
with pyserial, exactly as it opens a real RS-485 adapter. Several readers can share the bus
(each with its own address), as on a real multi-drop line::

    bus = OsdpBus()                                  # opens the pty
    front = bus.add_reader(101, scbk=key, inputs=4)  # door contact, REX, ...
    bus.start()
    print(bus.path)                                  # -> /dev/pts/7 for [[drivers.osdp.port]]
    front.door(True); front.card("12345678"); front.keys("1234#")
    front.led, front.buzzer, front.outputs           # what the control panel commanded
    bus.noise(64)                                    # garbage on the wire towards the CP
    front.set_offline(True)                          # stops answering
    bus.stop()

CLI: ``python -m guardroom.emulators.osdp --address 101 --scbk <32 hex>`` prints the pty path
and reads commands on stdin (``help`` lists them)."""
from __future__ import annotations

import argparse
import os
import random
import select
import signal
import sys
import threading
import time
import tty
from typing import Callable, Optional

import osdp_sys
from osdp import (CardFormat, Capability, Channel, Command, Event, LibFlag, PDCapabilities,
                  PDInfo, StatusReportType)

from guardroom.i18n import env_gettext as _

REFRESH_S = 0.020
LOG_LEVEL = osdp_sys.LOG_ERROR  # quiet; never debug (it can show key material)
# the keys of a real reader: digits as ASCII, '*' as 0x7F, '#' as 0x0D (OSDP osdp_KEYPAD)
_KEYMAP = {"*": 0x7F, "#": 0x0D}
COLORS = {0: "off", 1: "red", 2: "green", 3: "amber", 4: "blue", 5: "magenta", 6: "cyan",
          7: "white"}


class OsdpBus:
    """A pty pair playing one RS-485 bus; the readers on it share the master end."""

    def __init__(self):
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self.readers: list[EmulatedReader] = []
        self.noise_bytes = 0
        self._running = False
        self._closed = False

    def add_reader(self, address: int, **kw) -> "EmulatedReader":
        r = EmulatedReader(self, address, **kw)
        self.readers.append(r)
        return r

    def reader(self, address: int) -> "EmulatedReader":
        for r in self.readers:
            if r.address == address:
                return r
        raise KeyError(address)

    def start(self) -> "OsdpBus":
        self._running = True
        for r in self.readers:
            r.start()
        return self

    def stop(self) -> None:
        self._running = False
        for r in self.readers:
            r.stop()
        if not self._closed:
            self._closed = True
            os.close(self._master)
            os.close(self._slave)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the wire -------------------------------------------------------------------------
    def _pump(self) -> None:
        """Move whatever the CP sent into every reader's inbox (all readers hear all)."""
        while True:
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            for r in self.readers:
                r._inbox.extend(data)

    def _read(self, reader: "EmulatedReader", n: int) -> bytes:
        with self._lock:
            if self._closed:
                return b""
            self._pump()
            data = bytes(reader._inbox[:n])
            del reader._inbox[:n]
        return b"" if reader.offline else data

    def _write(self, reader: "EmulatedReader", buf: bytes) -> int:
        if reader.offline:
            return len(buf)  # a dead reader's words never reach the wire
        return self._send(bytes(buf))

    def _send(self, buf: bytes) -> int:
        with self._lock:
            if self._closed:
                return 0
            sent = 0
            deadline = time.monotonic() + 1.0
            while sent < len(buf) and time.monotonic() < deadline:
                try:
                    sent += os.write(self._master, buf[sent:])
                except BlockingIOError:
                    select.select([], [self._master], [], 0.05)
                except OSError:
                    break
            return sent

    def noise(self, n: int, rng: Optional[random.Random] = None) -> bytes:
        """Put ``n`` random bytes on the line towards the control panel."""
        rng = rng or random.Random()
        junk = bytes(rng.getrandbits(8) for _ in range(n))
        self._send(junk)
        self.noise_bytes += n
        return junk


class _PdChannel(Channel):
    def __init__(self, bus: OsdpBus, reader: "EmulatedReader"):
        super().__init__()
        self._bus, self._reader = bus, reader

    def read(self, max_bytes: int) -> bytes:
        return self._bus._read(self._reader, max_bytes)

    def write(self, buf: bytes) -> int:
        return self._bus._write(self._reader, buf)

    def flush(self) -> None:
        self._reader._inbox.clear()


class EmulatedReader:
    """One reader (OSDP PD) with ``inputs`` contact inputs, ``outputs`` relay outputs, an LED
    and a buzzer. ``scbk`` (16 bytes) enforces the secure channel with that key; ``scbk=None``
    is a reader fresh from the factory (install mode: default key); ``secure=False`` offers no
    secure channel at all."""

    def __init__(self, bus: OsdpBus, address: int, scbk: Optional[bytes] = None,
                 inputs: int = 4, outputs: int = 4, secure: bool = True):
        self.bus = bus
        self.address = address
        self.scbk = scbk
        self.secure = secure
        self.n_inputs, self.n_outputs = inputs, outputs
        self.inputs = [0] * inputs
        self.tamper = 0
        self.power = 0  # 1 = power failure
        self.led = {"color": "off", "temporary": None}
        self.buzzer = {"on": False, "last": None}
        self.outputs = [0] * outputs
        self.output_pulses = [0] * outputs
        self.commands: list[dict] = []
        self.keysets = 0
        self.offline = False
        self.online = False
        self.sc_active = False
        self.changed = threading.Condition()
        self._inbox = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        caps = [(Capability.ContactStatusMonitoring, 1, inputs),
                (Capability.OutputControl, 1, outputs),
                (Capability.LEDControl, 1, 1), (Capability.AudibleControl, 1, 1),
                (Capability.CardDataFormat, 1, 1), (Capability.Readers, 0, 0)]
        if secure:
            caps.append((Capability.CommunicationSecurity, 1, 1))
        flags = [LibFlag.EnforceSecure] if (secure and scbk) else []
        info = PDInfo(address, _PdChannel(bus, self), scbk=scbk if secure else None,
                      name=f"pd-{address}", flags=flags)
        osdp_sys.set_loglevel(LOG_LEVEL)
        self._ctx = osdp_sys.PeripheralDevice(info.get(),
                                              capabilities=PDCapabilities(caps).get())
        self._ctx.set_command_callback(self._on_command)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"osdp-pd-{self.address}")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._ctx.refresh()
                online, sc = bool(self._ctx.is_online()), bool(self._ctx.is_sc_active())
            if online != self.online or sc != self.sc_active:
                came = online and not self.online
                self.online, self.sc_active = online, sc
                if came:
                    self._report_all()  # a real reader tells its state when it connects
                self._changed()
            self._stop.wait(REFRESH_S)

    def _changed(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate()`` (checked on every command and link change)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.1))
        return True

    # -- commands from the control panel (libosdp thread) --------------------------------
    def _on_command(self, cmd: dict):
        self.commands.append(dict(cmd))
        del self.commands[:-200]
        c = cmd.get("command")
        if c == Command.LED:
            color = COLORS.get(cmd.get("on_color"), "?")
            if cmd.get("temporary"):
                self.led["temporary"] = {"color": color,
                                         "ms": cmd.get("timer_count", 0) * 100}
            else:
                self.led["color"] = color
        elif c == Command.Buzzer:
            on = cmd.get("control_code") == 2
            self.buzzer["on"] = on and cmd.get("rep_count") == 0
            self.buzzer["last"] = {"on": on, "on_ms": cmd.get("on_count", 0) * 100,
                                   "repeat": cmd.get("rep_count", 0)}
        elif c == Command.Output:
            n = cmd.get("output_no", 0)
            if 0 <= n < self.n_outputs:
                code = cmd.get("control_code")
                if code in (2, 4):
                    self.outputs[n] = 1
                elif code in (1, 3):
                    self.outputs[n] = 0
                elif code == 5:
                    self.output_pulses[n] += 1
        elif c == Command.Keyset:
            self.keysets += 1  # libosdp switches to the new key itself; never printed
        self._changed()
        return 0, None

    # -- what happens at the reader -------------------------------------------------------
    def _submit(self, event: dict) -> bool:
        with self._lock:
            return bool(self._ctx.submit_event(event))

    def _report_all(self) -> None:
        self._submit({"event": Event.Status, "type": StatusReportType.Input,
                      "report": bytes(self.inputs)})
        self._submit({"event": Event.Status, "type": StatusReportType.Local,
                      "report": bytes([self.tamper, self.power])})

    def set_input(self, index: int, active: bool) -> bool:
        self.inputs[index] = 1 if active else 0
        return self._submit({"event": Event.Status, "type": StatusReportType.Input,
                             "report": bytes(self.inputs)})

    def door(self, is_open: bool, index: int = 0) -> bool:
        return self.set_input(index, is_open)

    def rex(self, index: int = 1, hold_s: float = 0.3) -> bool:
        """Press and release the request-to-exit button (two reports)."""
        ok = self.set_input(index, True)
        time.sleep(hold_s)  # the button is held for a moment (emulator side, not the CP's)
        return self.set_input(index, False) and ok

    def set_tamper(self, on: bool) -> bool:
        self.tamper = 1 if on else 0
        return self._submit({"event": Event.Status, "type": StatusReportType.Local,
                             "report": bytes([self.tamper, self.power])})

    def set_power_lost(self, lost: bool) -> bool:
        self.power = 1 if lost else 0
        return self._submit({"event": Event.Status, "type": StatusReportType.Local,
                             "report": bytes([self.tamper, self.power])})

    def card(self, number: str | int, bits: Optional[int] = None) -> bool:
        """A card read: ``number`` as the card's raw bits (in ``bits`` bits; default the
        fewest whole bytes that hold it)."""
        n = int(number)
        if bits is None:
            bits = max(8, ((n.bit_length() + 7) // 8) * 8)
        nbytes = (bits + 7) // 8
        data = (n << (nbytes * 8 - bits)).to_bytes(nbytes, "big")
        return self._submit({"event": Event.CardRead, "reader_no": 0, "direction": 0,
                             "format": CardFormat.Wiegand, "length": bits, "data": data})

    def keys(self, text: str) -> bool:
        """Key presses, one event per key like a real keypad ('#' enter, '*' clear)."""
        ok = True
        for ch in text:
            code = _KEYMAP.get(ch, ord(ch))
            ok &= self._submit({"event": Event.KeyPress, "reader_no": 0,
                                "data": bytes([code])})
        return ok

    def set_offline(self, offline: bool) -> None:
        """Stop answering (the reader lost power, a cut cable) or answer again."""
        self.offline = offline

    def status(self) -> dict:
        return {"address": self.address, "online": self.online, "secure_channel":
                self.sc_active, "answering": not self.offline, "inputs": list(self.inputs),
                "tamper": self.tamper, "power_lost": self.power, "led": dict(self.led),
                "buzzer": dict(self.buzzer), "outputs": list(self.outputs),
                "output_pulses": list(self.output_pulses), "keysets": self.keysets,
                "commands": len(self.commands)}


# -- CLI ------------------------------------------------------------------------------------
HELP = """commands (prefix '@ADDR ' to pick a reader when there are several):
  door open|close      rex                  input N on|off
  tamper on|off        power lost|ok        card NUMBER [BITS]
  keys DIGITS          (e.g. keys 1234#; '*' clears)
  offline | online     noise N              status
  help | quit"""


def run_command(bus: OsdpBus, line: str) -> str:
    """One control line; returns the answer (raises ValueError on a bad line)."""
    words = line.split()
    if not words:
        return ""
    reader = bus.readers[0]
    if words[0].startswith("@"):
        reader = bus.reader(int(words[0][1:]))
        words = words[1:]
    cmd, args = words[0].lower(), words[1:]

    def arg(i, choices=None):
        if i >= len(args):
            raise ValueError(f"{cmd}: missing argument")
        a = args[i].lower()
        if choices and a not in choices:
            raise ValueError(f"{cmd}: expected one of {', '.join(choices)}")
        return a

    if cmd == "door":
        reader.door(arg(0, ("open", "close")) == "open")
    elif cmd == "rex":
        reader.rex()
    elif cmd == "input":
        reader.set_input(int(arg(0)), arg(1, ("on", "off")) == "on")
    elif cmd == "tamper":
        reader.set_tamper(arg(0, ("on", "off")) == "on")
    elif cmd == "power":
        reader.set_power_lost(arg(0, ("lost", "ok")) == "lost")
    elif cmd == "card":
        reader.card(int(arg(0)), int(args[1]) if len(args) > 1 else None)
    elif cmd == "keys":
        reader.keys(args[0] if args else "")
    elif cmd == "offline":
        reader.set_offline(True)
    elif cmd == "online":
        reader.set_offline(False)
    elif cmd == "noise":
        bus.noise(int(arg(0)))
    elif cmd == "status":
        return "\n".join(f"{k}: {v}" for k, v in reader.status().items())
    elif cmd == "help":
        return HELP
    else:
        raise ValueError(f"unknown command {cmd!r} (try 'help')")
    return "ok"


def _key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("the key must be hexadecimal") from None
    if len(key) != 16:
        raise argparse.ArgumentTypeError("the key must be 32 hex digits (16 bytes)")
    return key


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="guardroom emulate osdp",
        description=_("OSDP readers (libosdp PDs) on a pty: prints the path for "
                    "[[drivers.osdp.port]] device, then reads commands on stdin "
                    "('help' lists them)."))
    ap.add_argument("--address", type=int, action="append",
                    help=_("reader address 0-126 (repeat for several readers on the bus; "
                         "default 101)"))
    keyg = ap.add_mutually_exclusive_group()
    keyg.add_argument("--scbk", type=_key, help=_("secure channel key, 32 hex digits"))
    keyg.add_argument("--install", action="store_true",
                      help=_("a reader fresh from the factory: secure channel with the "
                           "default install key, accepts a new key (KEYSET)"))
    keyg.add_argument("--insecure", action="store_true", help=_("no secure channel at all"))
    ap.add_argument("--inputs", type=int, default=4, help=_("contact inputs (default 4)"))
    ap.add_argument("--outputs", type=int, default=4, help=_("relay outputs (default 4)"))
    ap.add_argument("--path-file", help=_("also write the pty path to this file"))
    args = ap.parse_args(argv)
    if not (args.scbk or args.install or args.insecure):
        ap.error("give --scbk KEY, or --install, or --insecure")
    bus = OsdpBus()
    for addr in args.address or [101]:
        bus.add_reader(addr, scbk=args.scbk, inputs=args.inputs, outputs=args.outputs,
                       secure=not args.insecure)
    bus.start()
    print(bus.path, flush=True)
    if args.path_file:
        with open(args.path_file, "w") as f:
            f.write(bus.path + "\n")
    def _interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            line = sys.stdin.readline()
            if not line:
                threading.Event().wait()  # stdin closed (run in the background): serve
                break                     # until a signal
            line = line.strip()
            if line in ("quit", "exit"):
                break
            try:
                answer = run_command(bus, line)
            except (ValueError, KeyError, IndexError) as e:
                answer = f"error: {e}"
            if answer:
                print(answer, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        bus.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
