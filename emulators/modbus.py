"""Emulated Modbus devices (the built-in profiles or any profile file) behind a real pymodbus
server, over TCP or RTU (RTU through ``NullModem``: the daemon opens one pty path, the
emulator the other).

Library (tests, the demo)::

    emu = ModbusEmulator()
    emu.add_device(1, "fence")                 # profile name or path; points start at 'rest'
    host, port = await emu.start_tcp("127.0.0.1", 0)
    emu.set(1, "voltage", 3000)                # a profile point (or "ir:0", "di:2", ...)
    emu.coil(1, "siren")                       # -> bool: did the driver switch the siren on?
    emu.power(1, False)                        # stop answering; power(1, True) to come back
    emu.exceptions(1, 4)                       # answer every request with exception 4
    path = await emu.start_rtu()               # over a new NullModem; emu.cable.corrupt(3)
    emu.execute("set voltage 3000")            # the same control as one text line

CLI (wired to ``guardroom emulate modbus``)::

    python -m guardroom.emulators.modbus --profile fence --tcp 127.0.0.1:1502
    python -m guardroom.emulators.modbus --profile di8 --address 1 --device 2:eol4 --rtu

then type control lines on stdin (``help`` lists them).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import threading

try:
    import pymodbus  # noqa: F401 - the server below; imported where used
except ImportError:  # a runtime-only install: the daemon's Modbus master does not need it
    raise ImportError("the Modbus emulator needs pymodbus, which the runtime-only install "
                      "leaves out: pip install 'guardroom[emulators]'") from None

from guardroom.drivers.modbus.profiles import BIT_TABLES, Profile, load
from guardroom.i18n import env_gettext as _

_FC_TABLE = {1: "coils", 5: "coils", 15: "coils", 2: "discrete_inputs",
             3: "holding_registers", 6: "holding_registers", 16: "holding_registers",
             22: "holding_registers", 23: "holding_registers", 4: "input_registers"}
_SHORT = {"co": "coils", "di": "discrete_inputs", "hr": "holding_registers",
          "ir": "input_registers"}

HELP = ("set [ADDR] NAME VALUE | get [ADDR] NAME | power [ADDR] on|off | "
        "exception [ADDR] CODE|off | corrupt on|off|N | noise N | cut on|off | show | help "
        "(NAME: a profile point or output, or co:N di:N hr:N ir:N)")


class EmulatedDevice:
    """One device: four sparse tables initialised from its profile."""

    def __init__(self, address: int, profile: Profile):
        self.address = address
        self.profile = profile
        self.tables: dict[str, dict[int, int]] = {t: {} for t in _SHORT.values()}
        self.powered = True
        self.exception_code = 0
        self.requests = 0
        self.writes: list[tuple[str, int, int]] = []
        for p in profile.points.values():
            table = self.tables[p["table"]]
            if p["table"] in BIT_TABLES:
                table[p["address"]] = 1 if p["rest"] else 0
            elif p["map"] == "bit" and p["bit"] >= 0:
                table[p["address"]] = table.get(p["address"], 0) | \
                    ((1 if p["rest"] else 0) << p["bit"])
            else:
                table[p["address"]] = p["rest"]
        for o in profile.outputs.values():
            self.tables["coils"][o["address"]] = 0

    def _where(self, name: str) -> tuple[str, int, int]:
        """NAME -> (table, address, bit or -1)."""
        if ":" in name:
            short, _, addr = name.partition(":")
            if short not in _SHORT:
                raise ValueError(f"{name!r}: table must be one of {', '.join(_SHORT)}")
            return _SHORT[short], int(addr), -1
        if name in self.profile.points:
            p = self.profile.points[name]
            return p["table"], p["address"], p["bit"]
        if name in self.profile.outputs:
            return "coils", self.profile.outputs[name]["address"], -1
        raise ValueError(f"profile {self.profile.name!r} has no point or output {name!r}")

    def set(self, name: str, value: int) -> None:
        table, addr, bit = self._where(name)
        value = int(value)
        if table in BIT_TABLES:
            self.tables[table][addr] = 1 if value else 0
        elif bit >= 0:
            old = self.tables[table].get(addr, 0)
            self.tables[table][addr] = (old | (1 << bit)) if value else (old & ~(1 << bit))
        else:
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"{value} does not fit a 16-bit register")
            self.tables[table][addr] = value

    def get(self, name: str) -> int:
        table, addr, bit = self._where(name)
        v = self.tables[table].get(addr, 0)
        return (v >> bit) & 1 if bit >= 0 else v

    def read(self, table: str, address: int, count: int):
        data = self.tables[table]
        top = max(data) if data else -1
        if address < 0 or address + count - 1 > top:
            return None                      # -> illegal data address
        return [data.get(a, 0) for a in range(address, address + count)]


def _context_class():
    """A pymodbus server context that answers from the emulated devices (and stays silent
    for a powered-off or unknown device, with ``ignore_missing_devices``)."""
    from pymodbus.constants import ExcCodes
    from pymodbus.datastore import ModbusServerContext
    from pymodbus.exceptions import NoSuchIdException

    class EmulatorContext(ModbusServerContext):
        def __init__(self, emulator: "ModbusEmulator"):   # no super(): no pymodbus store
            self.emulator = emulator
            self.old_simulator = True
            self.simdevices = []
            self._devices = {}

        def _device(self, device_id: int) -> EmulatedDevice:
            dev = self.emulator.devices.get(device_id)
            if dev is None or not dev.powered:
                raise NoSuchIdException(f"device {device_id} is not answering")
            dev.requests += 1
            return dev

        async def async_getValues(self, device_id, func_code, address, count=1):
            dev = self._device(device_id)
            if dev.exception_code:
                return ExcCodes(dev.exception_code)
            table = _FC_TABLE.get(func_code)
            if table is None:
                return ExcCodes.ILLEGAL_FUNCTION
            values = dev.read(table, address, count)
            if values is None:
                return ExcCodes.ILLEGAL_ADDRESS
            return [bool(v) for v in values] if table in BIT_TABLES else values

        async def async_setValues(self, device_id, func_code, address, values):
            dev = self._device(device_id)
            if dev.exception_code:
                return ExcCodes(dev.exception_code)
            table = _FC_TABLE.get(func_code)
            if table not in ("coils", "holding_registers"):
                return ExcCodes.ILLEGAL_FUNCTION
            values = values if isinstance(values, list) else [values]
            if dev.read(table, address, len(values)) is None:
                return ExcCodes.ILLEGAL_ADDRESS
            for i, v in enumerate(values):
                dev.tables[table][address + i] = int(v)
                dev.writes.append((table, address + i, int(v)))
            return None

        def device_ids(self):
            return list(self.emulator.devices)

    return EmulatorContext


class ModbusEmulator:
    """Devices behind pymodbus servers; controls work while serving (same event loop)."""

    def __init__(self):
        self.devices: dict[int, EmulatedDevice] = {}
        self.servers: list = []
        self.cable = None              # the NullModem of start_rtu()
        self._own_cable = False

    def add_device(self, address: int, profile: str | Profile, base_dir: str | None = None
                   ) -> EmulatedDevice:
        if not 1 <= address <= 247:
            raise ValueError(f"address {address} is not within 1-247")
        if address in self.devices:
            raise ValueError(f"address {address} is already used")
        prof = profile if isinstance(profile, Profile) else load(profile, base_dir)
        dev = self.devices[address] = EmulatedDevice(address, prof)
        return dev

    def device(self, address: int | None = None) -> EmulatedDevice:
        if address is None:
            if len(self.devices) != 1:
                raise ValueError(f"{len(self.devices)} devices: say which address")
            return next(iter(self.devices.values()))
        try:
            return self.devices[address]
        except KeyError:
            raise ValueError(f"no device at address {address}") from None

    # -- controls ---------------------------------------------------------------------------
    def set(self, address: int, name: str, value: int) -> None:
        self.device(address).set(name, value)

    def get(self, address: int, name: str) -> int:
        return self.device(address).get(name)

    def coil(self, address: int, output: str) -> bool:
        return bool(self.device(address).get(output))

    def power(self, address: int, on: bool) -> None:
        self.device(address).powered = bool(on)

    def exceptions(self, address: int, code: int = 4) -> None:
        """Answer every request of ``address`` with exception ``code`` (0 = normal again)."""
        if code and not 1 <= code <= 11:
            raise ValueError("exception code must be 1-11 (or 0/off)")
        self.device(address).exception_code = int(code)

    # -- serving ----------------------------------------------------------------------------
    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        from pymodbus.server import ModbusTcpServer

        server = ModbusTcpServer(_context_class()(self), address=(host, port),
                                 ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self.servers.append(server)
        sock = server.transport.sockets[0].getsockname()
        return sock[0], sock[1]

    async def start_rtu(self, path: str | None = None, baudrate: int = 9600) -> str:
        """Serve RTU on ``path``; without a path, on a new NullModem (``self.cable``) whose
        other end (returned) is for the driver."""
        from pymodbus.framer import FramerType
        from pymodbus.server import ModbusSerialServer

        driver_end = path
        if path is None:
            from .nullmodem import NullModem

            self.cable = NullModem().start()
            self._own_cable = True
            path, driver_end = self.cable.path_b, self.cable.path_a
        server = ModbusSerialServer(_context_class()(self), framer=FramerType.RTU, port=path,
                                    baudrate=baudrate, ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self.servers.append(server)
        return driver_end

    async def stop(self) -> None:
        for server in self.servers:
            try:
                await server.shutdown()
            except Exception:  # pragma: no cover - best effort
                pass
        self.servers.clear()
        if self.cable is not None and self._own_cable:
            self.cable.stop()
            self.cable = None

    # -- text control (CLI, demo) ------------------------------------------------------------
    def execute(self, line: str) -> str:
        """One control line -> one answer line (``ok ...`` / ``err ...``)."""
        words = line.split()
        if not words:
            return "err empty line"
        cmd, args = words[0].lower(), words[1:]
        try:
            return getattr(self, "_cmd_" + cmd, self._unknown)(cmd, args)
        except (ValueError, IndexError) as e:
            return f"err {e or 'bad arguments'}; {HELP}"

    def _unknown(self, cmd, args):
        return f"err unknown command {cmd!r}; {HELP}"

    def _addr(self, args: list[str], n: int) -> tuple[int | None, list[str]]:
        """Split an optional leading device address off ``args`` (which then has n items)."""
        if len(args) == n + 1:
            return int(args[0]), args[1:]
        if len(args) != n:
            raise ValueError("wrong number of arguments")
        return None, args

    def _cmd_set(self, cmd, args):
        a, (name, value) = self._addr(args, 2)
        dev = self.device(a)
        dev.set(name, int(value, 0))
        return f"ok {dev.address} {name} {dev.get(name)}"

    def _cmd_get(self, cmd, args):
        a, (name,) = self._addr(args, 1)
        dev = self.device(a)
        return f"ok {dev.address} {name} {dev.get(name)}"

    def _cmd_power(self, cmd, args):
        a, (state,) = self._addr(args, 1)
        dev = self.device(a)
        dev.powered = _on_off(state)
        return f"ok {dev.address} power {'on' if dev.powered else 'off'}"

    def _cmd_exception(self, cmd, args):
        a, (code,) = self._addr(args, 1)
        dev = self.device(a)
        self.exceptions(dev.address, 0 if code.lower() == "off" else int(code))
        return f"ok {dev.address} exception {dev.exception_code or 'off'}"

    def _need_cable(self):
        if self.cable is None:
            raise ValueError("no RTU cable (start with --rtu) to corrupt, cut or add noise to")
        return self.cable

    def _cmd_corrupt(self, cmd, args):
        (how,) = args
        cable = self._need_cable()
        cable.corrupt(int(how) if how.isdigit() else _on_off(how))
        return f"ok corrupt {how}"

    def _cmd_noise(self, cmd, args):
        (n,) = args
        import os

        self._need_cable().noise(os.urandom(int(n)))
        return f"ok noise {int(n)}"

    def _cmd_cut(self, cmd, args):
        (how,) = args
        self._need_cable().cut(_on_off(how))
        return f"ok cut {how}"

    def _cmd_show(self, cmd, args):
        parts = []
        for dev in self.devices.values():
            vals = " ".join(f"{n}={dev.get(n)}" for n in
                            list(dev.profile.points) + list(dev.profile.outputs))
            state = "on" if dev.powered else "off"
            exc = f" exception={dev.exception_code}" if dev.exception_code else ""
            parts.append(f"[{dev.address} {dev.profile.name} power={state}{exc} {vals}]")
        return "ok " + " ".join(parts)

    def _cmd_help(self, cmd, args):
        return "ok " + HELP


def _on_off(word: str) -> bool:
    w = word.lower()
    if w in ("on", "1", "true", "yes"):
        return True
    if w in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{word!r} is not on or off")


async def _serve(args) -> int:
    emu = ModbusEmulator()
    emu.add_device(args.address, args.profile)
    for spec in args.device or []:
        addr, _, prof = spec.partition(":")
        emu.add_device(int(addr), prof)
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        h, p = await emu.start_tcp(host or "127.0.0.1", int(port))
        print(f"tcp {h}:{p}", flush=True)
    else:
        path = await emu.start_rtu(args.rtu_path or None, args.baudrate)
        print(f"rtu {path}", flush=True)
    for dev in emu.devices.values():
        print(f"device {dev.address} {dev.profile.name}", flush=True)
    print("ready (type help)", flush=True)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()

    def reader():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, daemon=True, name="stdin").start()
    try:
        while True:
            line = await lines.get()
            if line is None:
                if args.exit_on_eof:
                    return 0
                await asyncio.Event().wait()      # stdin closed: serve until killed
            line = line.strip()
            if line in ("quit", "exit"):
                return 0
            if line:
                print(emu.execute(line), flush=True)
    finally:
        await emu.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="guardroom emulate modbus",
                                 description=_("Emulated Modbus devices over TCP or RTU (pty)."))
    ap.add_argument("--profile", default="di8", help=_("profile of the first device (name/path)"))
    ap.add_argument("--address", type=int, default=1, help=_("address of the first device"))
    ap.add_argument("--device", action="append", metavar="ADDR:PROFILE",
                    help=_("another device on the same line (repeatable)"))
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", metavar="HOST:PORT", help=_("serve Modbus TCP here (port 0: any)"))
    where.add_argument("--rtu", action="store_true",
                       help=_("serve RTU on a new null-modem pty pair; prints the driver's path"))
    ap.add_argument("--rtu-path", help=_("with --rtu: serve on this existing serial device instead"))
    ap.add_argument("--baudrate", type=int, default=9600)
    ap.add_argument("--exit-on-eof", action="store_true", help=_("stop when stdin closes"))
    args = ap.parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # profile errors, address in use
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
