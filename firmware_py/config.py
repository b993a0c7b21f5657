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
from .i18n import Msg
from .schema import (Bool, Choice, Field, Int, ListOf, MapOf, Name, Section, Str,
                     Problems)

ZONE_TYPES = ["panic", "duress", "tamper", "perimeter", "entry_exit", "interior", "technical",
              "keyswitch", "fire", "medical", "audible_24h", "technical_24h"]

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
                   "keyswitch": "contact", "fire": "contact", "medical": "panic",
                   "audible_24h": "contact", "technical_24h": "technical"}

SITE_SCHEMA = Section({
    "name": Name(doc="site name, part of every MQTT topic"),
    "controller": Name(doc="this controller's id, unique on the platform"),
    "description": Str(default="", doc="free text shown in the console banner"),
    "language": Choice(["en", "zh-CN"], default="en",
                       doc="language of event texts (`text`; the English is kept in "
                           "`text_en`) and the console's start language"),
    "walktest_timeout_s": Int(default=1800, min=0, max=86400,
                              doc="seconds; a walk test ends by itself this long after it "
                                  "started (reported; 0 = never)"),
})

STORAGE_SCHEMA = Section({
    "dir": Str(default="/var/lib/guardroom", doc="outbox, event log and state live here"),
    "fsync_ms": Int(default=50, min=5, max=1000,
                    doc="group commit interval of the outbox: the most a power cut can lose"),
    "log_keep": Int(default=100_000, min=1000, max=10_000_000,
                    doc="event log rows kept before the oldest rotate out"),
    "outbox_reserve_kib": Int(default=1024, min=0, max=1_048_576,
                              doc="space kept free beside the outbox for alarms: released when "
                                  "the disk is full, so alarm-class events are still stored"),
    "outbox_max_mib": Int(default=256, min=0, max=1_048_576,
                          doc="disk cap of the outbox (0 = none): beyond it the oldest "
                              "non-alarm events are shed and the platform is told (cid 1624)"),
}, default=dict)

PROFILE_SCHEMA = Section({
    "active_ms": Int(default=100, min=0, max=60_000,
                     doc="ms; a change to active must hold this long to count (shorter "
                         "glitches vanish)"),
    "restore_ms": Int(default=100, min=0, max=60_000,
                      doc="ms; a change back to normal must hold this long to count"),
    "pulses": Int(default=1, min=1, max=20, doc="activations needed within pulse_window_ms"),
    "pulse_window_ms": Int(default=0, min=0, max=600_000,
                           doc="ms; the window in which `pulses` activations must fall "
                               "(0 = no window: with pulses = 1 each activation counts)"),
})

AREA_SCHEMA = Section({
    "entry_delay_s": Int(default=30, min=0, max=255,
                         doc="seconds; opening an entry_exit zone of the armed area starts "
                             "this delay to disarm before the alarm (0 = instant)"),
    "exit_delay_s": Int(default=30, min=0, max=255,
                        doc="seconds; after arming, the time to leave through entry_exit "
                            "zones before the area is armed"),
    "bell_cutoff_s": Int(default=600, min=30, max=15300,
                         doc="seconds; the siren stops after sounding this long (30 s to 255 "
                             "min; EN 50131-4 allows 90 s to 15 min); the strobe stays on "
                             "until reset"),
    "fallback_s": Int(default=30, min=0, max=3600,
                      doc="seconds; a silent alarm sounds the local siren if the platform has not "
                          "acknowledged it within this time (or at once when the uplink is down)"),
    "swinger_limit": Int(default=3, min=0, max=14, doc="trips per armed period before a zone is "
                                                       "shut down (0 = never)"),
    "sirens": ListOf(Name(), default=list, unique=True,
                     doc="names of outputs of kind siren (declared in [drivers...]) this "
                         "area sounds"),
    "strobes": ListOf(Name(), default=list, unique=True,
                      doc="names of outputs of kind strobe this area lights (a strobe "
                          "listed in sirens is refused)"),
    "bell_rearms": Int(default=3, min=0, max=14,
                       doc="times the siren may sound again after its first sounding in one "
                           "armed period (later audible alarms light the strobes only)"),
    "bell_max_s": Int(default=1200, min=0, max=15300,
                      doc="seconds; total siren sounding per armed period (about 20 minutes "
                          "by local rules; 0 = no total cap)"),
    "abort_window_s": Int(default=30, min=0, max=255,
                          doc="seconds; an intruder alarm disarmed within this time after it "
                              "is followed by a cancel report (CID 406, SIA CP-01; 0 = off)"),
    "recent_closing_s": Int(default=120, min=0, max=3600,
                            doc="seconds; an intruder alarm this soon after the area set also "
                                "sends recent closing (CID 459, once per armed period; 0 = off)"),
    "exit_mode": Choice(["timed", "final_door"], default="timed",
                        doc="timed: the exit time sets the area; final_door (BS 8243): closing "
                            "an entry/exit door during the exit time sets it at once (the exit "
                            "time still caps it)"),
    "holdup_fallback": Choice(["siren", "strobe", "buzzer", "none"], default="siren",
                              doc="local signal when a silent hold-up is not acknowledged by the "
                                  "platform in fallback_s (or the uplink is down): outdoor "
                                  "siren + strobe, strobe only, the area's buzzers only, or "
                                  "none (still reported)"),
    "buzzers": ListOf(Name(), default=list, unique=True,
                      doc="names of outputs of kind buzzer: on during the exit and entry delay "
                          "(and for holdup_fallback = buzzer)"),
    "exit_fault": Choice(["alarm", "fail_to_set"], default="alarm",
                         doc="a zone still open when the exit time ends: exit fault (CID 374) "
                             "and alarm, or the area does not set"),
})

GROUP_SCHEMA = Section({
    "window_s": Int(default=1800, min=1, max=7200,
                    doc="seconds; a second distinct zone of the group tripping within this "
                        "time makes the alarm verified"),
    "siren_on_verify": Bool(default=False, doc="sound the area's sirens once verified"),
})

ZONE_SCHEMA = Section({
    "name": Name(doc="the zone's name, unique: on every event, in the console and the log"),
    "point": Name(doc="the input point this zone watches, as a driver declares it (a GPIO "
                      "input's point, a Modbus profile point, an OSDP reader point)"),
    "type": Choice(ZONE_TYPES, doc="how the zone alarms; see 'Zone types' below"),
    "area": Name(doc="the area (a key of [areas]) this zone belongs to"),
    "profile": Name(default="", doc="debounce profile: a built-in one (see 'Debounce "
                                    "profiles built in' above) or a [profiles.NAME]; empty = "
                                    "the type's default"),
    "invert": Bool(default=False, doc="normally closed contact: swap active and normal"),
    "silent": Bool(default=None, doc="omit for the type's default (panic/duress silent)"),
    "groups": ListOf(Name(), default=list, unique=True,
                     doc="verification groups (keys of [groups]) this zone belongs to"),
    "offline_grace_s": Int(default=60, min=0, max=86400,
                           doc="seconds a zone may stay offline (device not answering) before "
                               "it counts as unavailable (trouble, or alarm with "
                               "offline_alarm); at most 300 for panic/duress"),
    "offline_alarm": Bool(default=None, doc="an offline zone past its grace is an alarm when "
                                            "its type counts in the area's state; omit for the "
                                            "type's default (true for perimeter, entry_exit, "
                                            "interior: an armed zone that goes offline alarms)"),
    "watch_days": Int(default=0, min=0, max=365,
                      doc="days; an 'inactive sensor' trouble if the zone never trips for this "
                          "long (0 = off)"),
    "cid": Int(default=0, min=0, max=999, doc="Contact ID code override (0 = by type)"),
    "momentary": Bool(default=False, doc="keyswitch: each press toggles (else held = armed)"),
})

SABOTAGE_SCHEMA = Section({
    "count": Int(default=3, min=0, max=64,
                 doc="this many zones going offline within window_s raise a sabotage alarm "
                     "(0 = off)"),
    "window_s": Int(default=60, min=1, max=3600,
                    doc="seconds; the time within which `count` zones going offline count "
                        "as one sabotage"),
    "grace_s": Int(default=5, min=0, max=3600,
                   doc="seconds; a zone counts towards sabotage once it has been offline this "
                       "long (a short dropout is not sabotage; 0 = at once)"),
}, default=dict)

READER_SCHEMA = Section({
    "area": Name(doc="the area a PIN or card at this reader arms and disarms. The table's "
                     "name ([readers.NAME]) must be the name of an OSDP reader in "
                     "[[drivers.osdp.port.reader]]"),
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
            problems.add(path, Msg("must be a table"))
            return None
        reg = _registry()
        out = {}
        for kind, section in value.items():
            sub = f"{path}.{kind}"
            if kind not in reg.DRIVERS:
                problems.add(sub, Msg("unknown driver (known: {names})",
                                      names=", ".join(reg.DRIVERS)))
                continue
            try:
                schema = reg.schema_for(kind)
            except ImportError as e:
                problems.add(sub, Msg("driver cannot be loaded on this machine: {e}", e=e))
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
        "profiles": MapOf(PROFILE_SCHEMA, default=dict,
                          doc="Debounce profiles of your own, [profiles.NAME]; a NAME equal "
                              "to a built-in profile replaces it."),
        "areas": MapOf(AREA_SCHEMA, min_len=1,
                       doc="One table per area, [areas.NAME]: a part of the site armed and "
                           "disarmed as one."),
        "groups": MapOf(GROUP_SCHEMA, default=dict,
                        doc="Verification groups, [groups.NAME]: two distinct zones of one "
                            "group tripping within window_s make a verified alarm."),
        "zones": ListOf(ZONE_SCHEMA, min_len=1,
                        doc="One [[zones]] table per zone: an input point watched as a "
                            "panic button, a beam, a door..."),
        "sabotage": SABOTAGE_SCHEMA,
        "readers": MapOf(READER_SCHEMA, default=dict,
                         doc="What a card or PIN at an OSDP reader does, [readers.NAME] where "
                             "NAME is the reader's name in [[drivers.osdp.port.reader]] (a "
                             "table naming no reader is an error)."),
        "drivers": _DriversSection(),
    }
    from .dc09.config import DC09_SCHEMA

    fields["dc09"] = DC09_SCHEMA
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
        raise ConfigError((source, Msg("not valid TOML: {e}", e=e))) from None
    cfg = _top_schema().validate(raw)
    _check_references(cfg)
    return cfg


def read_text(path: str) -> str:
    """The config file's text; a file that cannot be read or is not UTF-8 is a ConfigError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ConfigError((path, Msg("cannot be read: {why}", why=e.strerror))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError((path, Msg("is not UTF-8 text: byte {byte} on line {line} (save the "
                                     "file as UTF-8)", byte=f"0x{data[e.start]:02x}",
                                     line=line))) from None


def load(path: str) -> dict:
    return parse_text(read_text(path), path)


def profiles_of(cfg: dict) -> dict:
    return {**BUILTIN_PROFILES, **cfg["profiles"]}


def _s(v) -> bool:
    """A value that passed its own check (a failed one is reported already: skip it)."""
    return isinstance(v, str)


def reference_problems(cfg: dict) -> Problems:
    """Everything that can be cross-checked without the drivers. Tolerates values that failed
    their own schema check (``guardroom check`` reports every problem at once)."""
    p = Problems()
    areas = cfg.get("areas") if isinstance(cfg.get("areas"), dict) else {}
    groups = cfg.get("groups") if isinstance(cfg.get("groups"), dict) else {}
    profiles = {**BUILTIN_PROFILES, **(cfg.get("profiles") if isinstance(cfg.get("profiles"),
                                                                        dict) else {})}
    names = set()
    users = set()
    for i, u in enumerate(cfg.get("users") if isinstance(cfg.get("users"), list) else []):
        if not isinstance(u, dict):
            continue
        if _s(u.get("name")):
            if u["name"] in users:
                p.add(f"users[{i}].name", Msg("duplicate user {name!r}", name=u["name"]))
            users.add(u["name"])
        for a in u.get("areas") if isinstance(u.get("areas"), list) else []:
            if _s(a) and a not in areas:
                p.add(f"users[{i}].areas", Msg("no area named {name!r}{hint}", name=a,
                                               hint=_near_hint(a, areas)))
    points = {}
    for i, z in enumerate(cfg.get("zones") if isinstance(cfg.get("zones"), list) else []):
        if not isinstance(z, dict):
            continue
        at = f"zones[{i}]"
        if _s(z.get("name")):
            if z["name"] in names:
                p.add(f"{at}.name", Msg("duplicate zone {name!r}", name=z["name"]))
            names.add(z["name"])
        if _s(z.get("point")):
            if z["point"] in points:
                p.add(f"{at}.point", Msg("point {point!r} is already used by zone {zone!r}",
                                         point=z["point"], zone=points[z["point"]]))
            points[z["point"]] = z.get("name")
        if _s(z.get("area")) and z["area"] not in areas:
            p.add(f"{at}.area", Msg("no area named {name!r}{hint} (areas: {names})",
                                    name=z["area"], hint=_near_hint(z["area"], areas),
                                    names=", ".join(areas)))
        ztype = z.get("type") if z.get("type") in DEFAULT_PROFILE else None
        prof = z.get("profile") or (DEFAULT_PROFILE[ztype] if ztype else None)
        if _s(prof) and prof not in profiles:
            p.add(f"{at}.profile", Msg("no profile named {name!r}{hint} (built in: {names})",
                                       name=prof, hint=_near_hint(prof, profiles),
                                       names=", ".join(BUILTIN_PROFILES)))
        for g in z.get("groups") if isinstance(z.get("groups"), list) else []:
            if _s(g) and g not in groups:
                p.add(f"{at}.groups", Msg("no group named {name!r}{hint}", name=g,
                                          hint=_near_hint(g, groups)))
        grace = z.get("offline_grace_s")
        if ztype in ("panic", "duress") and isinstance(grace, int) and grace > 300:
            p.add(f"{at}.offline_grace_s",
                  Msg("a hold-up device must be supervised within 300 s"))
    readers = cfg.get("readers") if isinstance(cfg.get("readers"), dict) else {}
    for name, r in readers.items():
        if isinstance(r, dict) and _s(r.get("area")) and r["area"] not in areas:
            p.add(f"readers.{name}.area", Msg("no area named {name!r}{hint}", name=r["area"],
                                              hint=_near_hint(r["area"], areas)))
    return p


def _near_hint(word: str, names) -> str:
    import difflib

    m = difflib.get_close_matches(str(word), [str(n) for n in names], n=1, cutoff=0.6)
    return Msg(" (did you mean {name!r}?)", name=m[0]) if m else ""


def _check_references(cfg: dict) -> None:
    p = reference_problems(cfg)
    if p:
        raise ConfigError(p)


def site_problems(cfg: dict, points, outputs: dict[str, str],
                  readers: Optional[set] = None) -> Problems:
    """Cross-check the config against what the drivers declared: every zone's point exists,
    every area siren/strobe is an output of that kind, every [readers.X] is a reader."""
    p = Problems()
    for i, z in enumerate(cfg.get("zones") if isinstance(cfg.get("zones"), list) else []):
        if isinstance(z, dict) and _s(z.get("point")) and z["point"] not in points:
            known = points.names() if hasattr(points, "names") else list(points)
            p.add(f"zones[{i}].point", Msg("no driver declares a point named {name!r}{hint}",
                                           name=z["point"], hint=_near_hint(z["point"], known)))
    areas = cfg.get("areas") if isinstance(cfg.get("areas"), dict) else {}
    for name, a in areas.items():
        if not isinstance(a, dict):
            continue
        for key, kind in (("sirens", "siren"), ("strobes", "strobe"), ("buzzers", "buzzer")):
            for o in a.get(key) if isinstance(a.get(key), list) else []:
                if not _s(o):
                    continue
                if o not in outputs:
                    p.add(f"areas.{name}.{key}", Msg("no driver declares an output named "
                                                     "{name!r}{hint}", name=o,
                                                     hint=_near_hint(o, outputs)))
                elif outputs[o] != kind:
                    p.add(f"areas.{name}.{key}", Msg("output {name!r} is a {kind}, not a {want}",
                                                     name=o, kind=Msg(outputs[o]),
                                                     want=Msg(kind)))
    if readers is not None:
        for name in cfg.get("readers") if isinstance(cfg.get("readers"), dict) else {}:
            if name not in readers:
                p.add(f"readers.{name}", Msg("no OSDP reader of that name in [drivers.osdp]{hint} "
                                             "(the table's name must be a reader's name; "
                                             "readers: {names})", hint=_near_hint(name, readers),
                                             names=", ".join(sorted(readers)) or Msg("none")))
    return p


def check_site(cfg: dict, points, outputs: dict[str, str], readers: Optional[set] = None) -> None:
    """``site_problems`` raised as one ConfigError."""
    p = site_problems(cfg, points, outputs, readers)
    if p:
        raise ConfigError(p)


def site_for_engine(cfg: dict, points, outputs: dict[str, str]) -> dict:
    """The engine's site description: names resolved to point ids, profiles merged."""
    return {
        "controller": cfg["site"]["controller"],
        "walktest_timeout_s": cfg["site"].get("walktest_timeout_s", 1800),
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
