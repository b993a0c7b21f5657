"""The site config: one TOML file, one schema per section, checked strictly at start-up.

``load(path)`` / ``parse_text(text)`` return the validated config (plain dicts, defaults filled
in) or raise ``ConfigError`` listing every problem with its key path. Cross-references (a zone
naming a missing area, profile, group or point; a siren that is not an output) are checked in
``check_site`` once the drivers have declared their points and outputs, which needs no hardware.
``site_for_engine`` turns the config into the engine's site description.
"""
from __future__ import annotations

import tomllib
from typing import Optional

from .codes import LOCKOUT_SCHEMA, USER_SCHEMA
from .errors import ConfigError
from .schema import (Bool, Choice, Field, Int, ListOf, MapOf, Name, Section, Str,
                     Problems)

ZONE_TYPES = ["panic", "duress", "tamper", "perimeter", "entry_exit", "interior", "technical",
              "keyswitch"]

ENGINE_OUTPUT_KINDS = ("siren", "strobe", "buzzer", "relay")

#: Debounce profiles every site has; a [profiles.NAME] table with the same name replaces one.
BUILTIN_PROFILES = {
    "panic": {"active_ms": 50, "restore_ms": 500, "pulses": 1, "pulse_window_ms": 0},
    "contact": {"active_ms": 100, "restore_ms": 100, "pulses": 1, "pulse_window_ms": 0},
    "beam": {"active_ms": 300, "restore_ms": 300, "pulses": 1, "pulse_window_ms": 0},
    "pir": {"active_ms": 200, "restore_ms": 1000, "pulses": 1, "pulse_window_ms": 0},
    "polled": {"active_ms": 0, "restore_ms": 0, "pulses": 1, "pulse_window_ms": 0},
    "technical": {"active_ms": 5000, "restore_ms": 5000, "pulses": 1, "pulse_window_ms": 0},
}
DEFAULT_PROFILE = {"panic": "panic", "duress": "panic", "tamper": "contact", "perimeter": "beam",
                   "entry_exit": "contact", "interior": "pir", "technical": "technical",
                   "keyswitch": "contact"}

SITE_SCHEMA = Section({
    "name": Name(doc="site name, part of every MQTT topic"),
    "controller": Name(doc="this controller's id, unique on the platform"),
    "description": Str(default="", doc="free text shown in the console banner"),
})

STORAGE_SCHEMA = Section({
    "dir": Str(default="/var/lib/guardroom", doc="outbox, event log and state live here"),
    "fsync_ms": Int(default=50, min=5, max=1000,
                    doc="group commit interval of the outbox: the most a power cut can lose"),
    "log_keep": Int(default=100_000, min=1000, max=10_000_000,
                    doc="event log rows kept before the oldest rotate out"),
}, default=dict)

PROFILE_SCHEMA = Section({
    "active_ms": Int(default=100, min=0, max=60_000, doc="a change to active must hold this long"),
    "restore_ms": Int(default=100, min=0, max=60_000, doc="a change back to normal must hold"),
    "pulses": Int(default=1, min=1, max=20, doc="activations needed within pulse_window_ms"),
    "pulse_window_ms": Int(default=0, min=0, max=600_000),
})

AREA_SCHEMA = Section({
    "entry_delay_s": Int(default=30, min=0, max=255),
    "exit_delay_s": Int(default=30, min=0, max=255),
    "bell_cutoff_s": Int(default=600, min=30, max=15300, doc="siren stops after this (1-255 min)"),
    "fallback_s": Int(default=30, min=0, max=3600,
                      doc="a silent alarm sounds the local siren if the platform has not "
                          "acknowledged it within this time (or at once when the uplink is down)"),
    "swinger_limit": Int(default=3, min=0, max=14, doc="trips per armed period before a zone is "
                                                       "shut down (0 = never)"),
    "sirens": ListOf(Name(), default=list, unique=True, doc="outputs of kind siren"),
    "strobes": ListOf(Name(), default=list, unique=True, doc="outputs of kind strobe"),
})

GROUP_SCHEMA = Section({
    "window_s": Int(default=1800, min=1, max=7200,
                    doc="a second distinct zone of the group within this time verifies"),
    "siren_on_verify": Bool(default=False, doc="sound the area's sirens once verified"),
})

ZONE_SCHEMA = Section({
    "name": Name(),
    "point": Name(doc="the input point (declared by a driver) this zone watches"),
    "type": Choice(ZONE_TYPES),
    "area": Name(),
    "profile": Name(default="", doc="debounce profile; empty = the type's default"),
    "invert": Bool(default=False, doc="normally closed contact: swap active and normal"),
    "silent": Bool(default=None, doc="omit for the type's default (panic/duress silent)"),
    "groups": ListOf(Name(), default=list, unique=True),
    "offline_grace_s": Int(default=60, min=0, max=86400),
    "offline_alarm": Bool(default=False, doc="an offline zone past its grace is an alarm"),
    "watch_days": Int(default=0, min=0, max=365, doc="trouble if never active for N days"),
    "cid": Int(default=0, min=0, max=999, doc="Contact ID code override (0 = by type)"),
    "momentary": Bool(default=False, doc="keyswitch: each press toggles (else held = armed)"),
})

SABOTAGE_SCHEMA = Section({
    "count": Int(default=3, min=0, max=64, doc="zones going offline together (0 = off)"),
    "window_s": Int(default=60, min=1, max=3600),
}, default=dict)

READER_SCHEMA = Section({
    "area": Name(doc="the area a PIN or card at this reader arms and disarms"),
    "card_action": Choice(["grant", "toggle", "none"], default="grant",
                          doc="a known card: open the door, or arm/disarm the area"),
    "pin_action": Choice(["toggle", "none"], default="toggle",
                         doc="a valid PIN followed by #: arm/disarm the area"),
    "show_armed": Bool(default=True, doc="reader LED on while the area is armed"),
})


def _registry():
    from guardroom.drivers import registry

    return registry


class _DriversSection(Section):
    """[drivers.<kind>] sections, each validated by its driver's own schema (loaded lazily)."""

    def __init__(self):
        super().__init__({}, default=dict)

    def _convert(self, value, path, problems):
        if not isinstance(value, dict):
            problems.add(path, "must be a table")
            return None
        reg = _registry()
        out = {}
        for kind, section in value.items():
            sub = f"{path}.{kind}"
            if kind not in reg.DRIVERS:
                problems.add(sub, f"unknown driver (known: {', '.join(reg.DRIVERS)})")
                continue
            try:
                schema = reg.schema_for(kind)
            except ImportError as e:
                problems.add(sub, f"driver cannot be loaded on this machine: {e}")
                continue
            out[kind] = schema._validate(section, sub, problems)
        return out


def _top_schema() -> Section:
    from .relay import MQTT_SCHEMA

    fields: dict[str, Field] = {
        "site": SITE_SCHEMA,
        "storage": STORAGE_SCHEMA,
        "mqtt": MQTT_SCHEMA,
        "lockout": LOCKOUT_SCHEMA,
        "users": ListOf(USER_SCHEMA, default=list),
        "profiles": MapOf(PROFILE_SCHEMA, default=dict),
        "areas": MapOf(AREA_SCHEMA, min_len=1),
        "groups": MapOf(GROUP_SCHEMA, default=dict),
        "zones": ListOf(ZONE_SCHEMA, min_len=1),
        "sabotage": SABOTAGE_SCHEMA,
        "readers": MapOf(READER_SCHEMA, default=dict),
        "drivers": _DriversSection(),
    }
    try:
        from .console import CONSOLE_SCHEMA

        fields["console"] = Section(CONSOLE_SCHEMA.fields, default=None)
    except ImportError:  # console not built into this install
        pass
    return Section(fields)


def parse_text(text: str, source: str = "<config>") -> dict:
    """Validate TOML text; returns the config or raises ConfigError (all problems at once)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError((source, f"not valid TOML: {e}")) from None
    cfg = _top_schema().validate(raw)
    _check_references(cfg)
    return cfg


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise ConfigError((path, f"cannot be read: {e.strerror}")) from None
    return parse_text(text, path)


def profiles_of(cfg: dict) -> dict:
    return {**BUILTIN_PROFILES, **cfg["profiles"]}


def _check_references(cfg: dict) -> None:
    """Everything that can be cross-checked without the drivers."""
    p = Problems()
    profiles = profiles_of(cfg)
    names = set()
    users = set()
    for i, u in enumerate(cfg["users"]):
        if u["name"] in users:
            p.add(f"users[{i}].name", f"duplicate user {u['name']!r}")
        users.add(u["name"])
        for a in u["areas"]:
            if a not in cfg["areas"]:
                p.add(f"users[{i}].areas", f"no area named {a!r}")
    points = {}
    for i, z in enumerate(cfg["zones"]):
        at = f"zones[{i}]"
        if z["name"] in names:
            p.add(f"{at}.name", f"duplicate zone {z['name']!r}")
        names.add(z["name"])
        if z["point"] in points:
            p.add(f"{at}.point", f"point {z['point']!r} is already used by zone "
                                 f"{points[z['point']]!r}")
        points[z["point"]] = z["name"]
        if z["area"] not in cfg["areas"]:
            p.add(f"{at}.area", f"no area named {z['area']!r} (areas: "
                                f"{', '.join(cfg['areas'])})")
        prof = z["profile"] or DEFAULT_PROFILE[z["type"]]
        if prof not in profiles:
            p.add(f"{at}.profile", f"no profile named {prof!r} (built in: "
                                   f"{', '.join(BUILTIN_PROFILES)})")
        for g in z["groups"]:
            if g not in cfg["groups"]:
                p.add(f"{at}.groups", f"no group named {g!r}")
        if z["type"] in ("panic", "duress") and z["offline_grace_s"] > 300:
            p.add(f"{at}.offline_grace_s", "a hold-up device must be supervised within 300 s")
    for name, r in cfg["readers"].items():
        if r["area"] not in cfg["areas"]:
            p.add(f"readers.{name}.area", f"no area named {r['area']!r}")
    if p:
        raise ConfigError(p)


def check_site(cfg: dict, points, outputs: dict[str, str], readers: Optional[set] = None) -> None:
    """Cross-check the config against what the drivers declared: every zone's point exists,
    every area siren/strobe is an output of that kind, every [readers.X] is a reader."""
    p = Problems()
    for i, z in enumerate(cfg["zones"]):
        if z["point"] not in points:
            p.add(f"zones[{i}].point", f"no driver declares a point named {z['point']!r}")
    for name, a in cfg["areas"].items():
        for key, kind in (("sirens", "siren"), ("strobes", "strobe")):
            for o in a[key]:
                if o not in outputs:
                    p.add(f"areas.{name}.{key}", f"no driver declares an output named {o!r}")
                elif outputs[o] != kind:
                    p.add(f"areas.{name}.{key}", f"output {o!r} is a {outputs[o]}, not a {kind}")
    if readers is not None:
        for name in cfg["readers"]:
            if name not in readers:
                p.add(f"readers.{name}", "no OSDP reader of that name in [drivers.osdp]")
    if p:
        raise ConfigError(p)


def site_for_engine(cfg: dict, points, outputs: dict[str, str]) -> dict:
    """The engine's site description: names resolved to point ids, profiles merged."""
    return {
        "controller": cfg["site"]["controller"],
        "profiles": profiles_of(cfg),
        "areas": {n: dict(a) for n, a in cfg["areas"].items()},
        "groups": {n: dict(g) for n, g in cfg["groups"].items()},
        "zones": [{
            "name": z["name"], "point": points.id(z["point"]), "type": z["type"],
            "area": z["area"], "profile": z["profile"] or DEFAULT_PROFILE[z["type"]],
            "invert": z["invert"], "silent": z["silent"], "groups": list(z["groups"]),
            "offline_grace_s": z["offline_grace_s"], "offline_alarm": z["offline_alarm"],
            "watch_days": z["watch_days"], "cid": z["cid"] or None,
            "momentary": z["momentary"],
        } for z in cfg["zones"]],
        "sabotage": dict(cfg["sabotage"]),
        # the engine orders sirens and strobes; any other output (LEDs...) is a plain relay to it
        "outputs": {n: {"kind": k if k in ENGINE_OUTPUT_KINDS else "relay"}
                    for n, k in outputs.items()},
    }


def secret_paths(field: Field = None, path: str = "") -> list[str]:
    """Dotted key paths of secret fields (hidden by `config show`, never logged)."""
    from .schema import Str as _Str

    field = field or _top_schema()
    out = []
    if isinstance(field, _DriversSection):
        reg = _registry()
        for kind in reg.DRIVERS:
            try:
                out += secret_paths(reg.schema_for(kind), f"{path}.{kind}")
            except ImportError:
                pass
    elif isinstance(field, Section):
        for k, f in field.fields.items():
            out += secret_paths(f, f"{path}.{k}" if path else k)
    elif isinstance(field, (ListOf, MapOf)):
        out += secret_paths(field.item, path + ".*")
    elif isinstance(field, _Str) and field.secret:
        out.append(path)
    return out
