"""Every console command in a Chinese session, over the real pty: no English word reaches the
screen except what stays English by design (command names and their syntax, names from the
site config, protocol names, machine values). This drives the code; test_marked.py reads it."""
from __future__ import annotations

import re

from guardroom.console.commands import REGISTRY

from .sitecfg import INSTALLER_CODE
from .test_lang import wcswidth

#: names from the test site (zones, areas, users, outputs, points, drivers) and what stays
#: English on purpose: command names and arguments, protocol and unit names, config keys
KEEP = {
    "school", "ctrl-01", "main", "alice", "ian", "door_main", "panic_reception", "beam_north",
    "beam_south", "siren_main", "strobe_main", "gpio", "mock", "guardroom", "python", "zh",
    "en", "zh-CN", "UTC", "NTP", "MQTT", "TLS", "CRC", "OSDP", "Modbus", "DC-09", "SC", "CID",
    "sha256", "ms", "ctrl", "Ctrl-C", "Ctrl-D", "Test", "compiled", "interpreted", "HTML",
    "PDF", "UTF-8", "PuTTY", "picocom", "screen", "RS-485", "I/O", "EN", "ID", "LED", "JSONL",
    "CSV", "BEGIN", "END", "FROM-TO", "SECONDS", "MS", "SECTION", "KEY", "VALUE", "USER",
    "NAME", "AREA", "ZONE", "COMMAND", "FILE", "Code", "Pi", "Home", "Assistant", "ISO",
    "SHA-256", "N", "Z", "A", "K", "D", "exports", "reports", "storage", "timedatectl",
    "systemd", "toml", "site", "controller", "bak", "hidden", "HH", "MM", "SS", "YYYY", "DD",
    "ERR", "EXC", "Contact", "Python", "sha256sum", "true", "false", "rows", "building",
    "alarm", "restore", "trouble", "area", "bypass", "walktest", "access", "kind",
    "areas.main.entry_delay_s", "zones.door1.profile", "slow", "areas.garage", "door1",
    "language",
}
#: the words of the command syntax (usage lines): what an installer types stays English
SYNTAX = {w for c in REGISTRY.values() for w in re.findall(r"[a-z][a-z_]+", c.usage)}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]*")


def _foreign(out: str) -> list[str]:
    """Lines holding a word that is neither Chinese nor kept on purpose."""
    bad = []
    names = set(REGISTRY)
    kept = False
    for line in out.split("\n")[1:]:                 # [0]: the command line, echoed
        if line.lstrip().startswith(("用法：", "|", "guardroom(")):
            continue                                  # the syntax one types, the prompt
        if kept:                                      # an event's English, kept on purpose
            kept, line = "）" not in line, ""
        elif "（英文原文：" in line:
            line, _, rest = line.partition("（英文原文：")
            kept = "）" not in rest
        text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z?|\S*/\S*", "", line)  # ISO times, paths
        text = re.sub(r"'[^']*'|`[^`]*`|\[[^\]]*\]|\"[^\"]*\"|“[^”]*”", "", text)  # quoted
        words = [w.strip(".-/") for w in _WORD.findall(text)]
        odd = [w for w in words if len(w) > 1 and w not in KEEP | SYNTAX and w not in names
               and not re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+|[a-z]+_[a-z_]+|[0-9a-f]{8,}|v?\d.*",
                                    w)]
        if odd:
            bad.append(f"{odd}: {line}")
    return bad


def test_every_command_speaks_chinese(rig_factory):
    rig = rig_factory(extra=True)
    t = rig.term
    t.cmd("lang zh", "anyone")
    assert "已登录：ian" in rig.login(INSTALLER_CODE, "installer")
    outs = {}
    for line in ["help", *[f"help {name}" for name in sorted(REGISTRY)], "status", "zones",
                 "time", "version", "log", "log 5 zone door_main", "log verify", "mqtt status",
                 "health", "modbus stats", "osdp status", "output", "user list",
                 "config check", "config diff", "walktest report", "bypass panic_reception",
                 "bypass beam_north", "bypass beam_north", "unbypass beam_north",
                 "unbypass beam_north", "arm main", "arm main", "disarm main", "disarm main",
                 "reset", "silence", "drill stop main", "zones nowhere", "zone nowhere", "zone door_main",
                 "config set areas.main.exit_delay_s soon", "config set areas.nowhere.x 1",
                 "user add alice", "time set 2026-02-30 10:00", "siren test 99",
                 "output siren_main pulse 5", "lang"]:
        outs[line] = t.cmd(line, "installer")
    bad = [f"{line!r}: {b}" for line, out in outs.items() for b in _foreign(out)]
    bad += [f"{line!r}: {wcswidth(row)} columns: {row}" for line, out in outs.items()
            for row in out.split("\n") if wcswidth(row) > 80]
    assert not bad, "English in a Chinese session:\n" + "\n".join(bad)
    # the refusals came from the engine and were translated, not dropped
    assert "不能旁路" in outs["bypass panic_reception"], outs["bypass panic_reception"]
    assert "已经旁路" in outs["bypass beam_north"] or "已经旁路" in outs["unbypass beam_north"]
    assert "已经撤防" in outs["disarm main"], outs["disarm main"]
