"""Config schema of ``[drivers.modbus]``: buses (RTU or TCP) and the devices on each.

Checks that span fields or need the device profile (a mapped point the profile does not
have, a parameter it does not know) run over the whole section, so ``config check`` finds
them before the daemon starts."""
from __future__ import annotations

from guardroom.schema import Choice, Float, Int, ListOf, MapOf, Name, Section, Str

DEVICE = Section({
    "name": Name(doc="device name (status, notices, scan); unique in [drivers.modbus]"),
    "address": Int(min=1, max=247, doc="Modbus unit / device id"),
    "profile": Str(doc="built-in profile (di8, eol4, fence) or a path to a profile .toml"),
    "poll_ms": Int(default=200, min=20, max=600_000, doc="poll period"),
    "offline_after": Int(default=3, min=1, max=1000,
                         doc="failed polls in a row before its points go OFFLINE"),
    "chatter_polls": Int(default=8, min=0, max=1000,
                         doc="chatter guard: a point that changes on more than this many of "
                             "the last 2 x chatter_polls polls is chattering: its changes are held back, its value is reported at "
                             "most every chatter_sample_ms, and a sensor trouble (CID 380) is "
                             "raised for its zones. 0 turns the guard off"),
    "chatter_sample_ms": Int(default=1000, min=20, max=600_000,
                             doc="chatter guard: how often a chattering point's value is "
                                 "reported"),
    "chatter_quiet_s": Float(default=10.0, min=0.1, max=3600,
                             doc="chatter guard: the trouble restores once the point has not "
                                 "changed for this long"),
    "points": MapOf(Name(), default=dict, doc="profile point -> point name"),
    "outputs": MapOf(Name(), default=dict, doc="profile output -> output name"),
    "params": MapOf(Int(), default=dict, doc="profile parameter overrides"),
})

BUS = Section({
    "name": Name(doc="bus name (console: modbus scan <bus>)"),
    "transport": Choice(["rtu", "tcp"], default="rtu",
                        doc="rtu: RS-485 serial line (port, baudrate...); tcp: Modbus TCP "
                            "(host, tcp_port)"),
    "port": Str(default="", doc="rtu: serial device or pty path"),
    "baudrate": Int(default=9600, min=300, max=921_600,
                    doc="bits/s of the RS-485 line (rtu); every device on the bus the same"),
    "parity": Choice(["N", "E", "O"], default="N",
                     doc="rtu: none, even or odd (Modbus says even; many modules ship N)"),
    "stopbits": Int(default=1, min=1, max=2, doc="rtu: stop bits (2 with parity N per spec)"),
    "bytesize": Int(default=8, min=7, max=8, doc="rtu: data bits (8 for Modbus RTU)"),
    "host": Str(default="127.0.0.1", doc="tcp: server or gateway host"),
    "tcp_port": Int(default=502, min=1, max=65535, doc="tcp: the device's TCP port"),
    "timeout_ms": Int(default=300, min=10, max=10_000, doc="answer timeout per request"),
    "retry_max_ms": Int(default=5000, min=50, max=600_000,
                        doc="an offline device is retried with back-off up to this period"),
    "device": ListOf(DEVICE, default=list),
})


def _cross_check(section: dict) -> list[tuple[str, str]]:
    from .plan import plan_problems

    return plan_problems(section)


CONFIG_SCHEMA = Section({
    "profile_dir": Str(default="", doc="folder for relative profile paths (default: cwd)"),
    "bus": ListOf(BUS, default=list),
}, cross=_cross_check)
