"""The config reference, generated from the schemas (so it can never drift from the code):
every key with its type, bounds, default and meaning, section by section.

    python -m guardroom.configdoc > docs/installer/config-reference.md
"""
from __future__ import annotations

import sys

from .config import BUILTIN_PROFILES, DEFAULT_PROFILE, ZONE_TYPES, _registry, _top_schema
from .schema import describe

#: what each zone type does, for the reference (the engine's rules: docs/developer/engine.md)
ZONE_TYPE_DOC = {
    "panic": "hold-up / panic button: 24 h (alarms armed or not), silent by default, latched "
             "until reset, cannot be bypassed",
    "duress": "duress input: 24 h, silent, cannot be bypassed",
    "tamper": "tamper switch or loop: 24 h; silent while the area is disarmed, audible when "
              "armed. Use it (or a 24 h type) for a door forced point: a forced door then "
              "reports whether the area is armed or not",
    "perimeter": "instant alarm while the area is armed (away or stay); nothing while "
                 "disarmed",
    "entry_exit": "delayed: opening it while armed starts the entry delay; leaving through it "
                  "during the exit delay is allowed",
    "interior": "instant while armed away, ignored while armed stay (people inside)",
    "technical": "a trouble, never an alarm (mains lost, battery low, a pump); with `cid` its "
                 "own Contact ID code",
    "keyswitch": "arms and disarms its area (held = armed, or momentary: each press toggles)",
    "fire": "24 h, audible in every state (disarm does not stop it; use silence/reset), "
            "CID 110; the siren orders carry the fire cadence",
    "medical": "24 h, silent (the platform calls help), CID 100",
    "audible_24h": "24 h, audible in every state, CID 123",
    "technical_24h": "24 h technical *alarm* (flood, gas, freezer), silent unless "
                     "`silent = false`, CID 150 or the zone's `cid`",
}

#: when to pick each built-in debounce profile
PROFILE_USE = {
    "panic": "hold-up buttons: fast to alarm, slow to restore",
    "contact": "door contacts, tamper switches, keyswitches",
    "beam": "IR beams: a bird or leaf shorter than 300 ms is ignored",
    "pir": "motion detectors (PIR), which hold their output a while",
    "polled": "no debounce: inputs already sampled by a poll (Modbus, OSDP)",
    "technical": "slow signals (mains lost, battery low): 5 s either way",
}

HEADER = """# Config reference

Generated from the schemas by `python -m guardroom.configdoc`; a test fails when this file is
out of date. Keys are TOML paths: `areas.<name>` is a table per area (`[areas.building]`),
`zones[]` an array of tables (`[[zones]]`). Unknown keys are errors. Secrets (`password`,
`scbk`, code hashes) are never logged or shown by `config show`.
"""


def _table(rows) -> list[str]:
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, typ, default, doc in rows:
        out.append(f"| `{key}` | {typ} | `{default}` | {doc.replace('|', '/')} |")
    return out


def render() -> str:
    lines = [HEADER]
    for name, field in _top_schema().fields.items():
        if name == "drivers":
            reg = _registry()
            for kind in reg.DRIVERS:
                try:
                    schema = reg.schema_for(kind)
                except ImportError:
                    continue
                lines += [f"\n## [drivers.{kind}]\n"] + _table(describe(schema,
                                                                           f"drivers.{kind}"))
            continue
        intro = [field.doc, ""] if field.doc else []
        lines += [f"\n## {name}\n"] + intro + _table(describe(field, name))
        if name == "profiles":
            lines += _profiles()
        elif name == "zones":
            lines += _zone_types()
    return "\n".join(lines) + "\n"


def _profiles() -> list[str]:
    out = ["", "### Debounce profiles built in", "",
           "Every site has these; `zones[].profile` names one (or a `[profiles.NAME]` of "
           "your own). A change counts only once it has held for its time (ms).", "",
           "| profile | active_ms | restore_ms | pulses | pulse_window_ms | default for | use |",
           "|---|---|---|---|---|---|---|"]
    for name, p in BUILTIN_PROFILES.items():
        users = ", ".join(t for t, d in DEFAULT_PROFILE.items() if d == name) or "-"
        out.append(f"| `{name}` | {p['active_ms']} | {p['restore_ms']} | {p['pulses']} | "
                   f"{p['pulse_window_ms']} | {users} | {PROFILE_USE.get(name, '')} |")
    return out


def _zone_types() -> list[str]:
    out = ["", "### Zone types", "", "| type | default profile | what it does |",
           "|---|---|---|"]
    for t in ZONE_TYPES:
        out.append(f"| `{t}` | `{DEFAULT_PROFILE.get(t, '-')}` | "
                   f"{ZONE_TYPE_DOC.get(t, 'see docs/developer/engine.md')} |")
    return out


if __name__ == "__main__":
    sys.stdout.write(render())
