"""The engine's refusal reasons in the reader's language. core/ words its refusals in plain
English (it is pure, and its texts are what the log and the platform keep); here each known
wording is matched to a catalog template by its shape, the names in it (zones, areas) kept as
they are and the state/type words translated. An unknown wording is returned unchanged."""
from __future__ import annotations

import re
from typing import Callable

from .i18n import N_
from .vocab import word

_ZONES_NOT_READY = re.compile(r"zones not ready: (?P<zones>.+)")
_PREVENTION = re.compile(r"prevention of setting: (?P<what>.+)")
_ZONE_STATE = re.compile(r"(?P<zone>.+?) \((?P<state>[a-z_]+)\)")

#: (shape of the English reason, catalog template). Fields named ``state``/``type`` are words
#: (translated), ``why`` is a nested reason, the others are names shown as they are.
REASONS = [
    (re.compile(r"unknown or closed incident (?P<incident>\S+)"),
     N_("unknown or closed incident {incident}")),
    (re.compile(r"unknown zone '(?P<zone>.*)'"), N_("unknown zone '{zone}'")),
    (re.compile(r"zone '(?P<zone>.*)' is not in area '(?P<area>.*)'"),
     N_("zone '{zone}' is not in area '{area}'")),
    (re.compile(r"unknown area '(?P<area>.*)'"), N_("unknown area '{area}'")),
    (re.compile(r"(?P<cmd>\w+): which area\?"), N_("{cmd}: which area?")),
    (re.compile(r"(?P<cmd>\w+): which zone\?"), N_("{cmd}: which zone?")),
    (re.compile(r"cannot arm '(?P<area>.*)': walk test running"),
     N_("cannot arm '{area}': walk test running")),
    (re.compile(r"cannot arm '(?P<area>.*)': already (?P<state>\w+)"),
     N_("cannot arm '{area}': already {state}")),
    (re.compile(r"cannot arm '(?P<area>.*?)': (?P<why>.+)"), N_("cannot arm '{area}': {why}")),
    (re.compile(r"'(?P<area>.*)' is already disarmed"), N_("'{area}' is already disarmed")),
    (re.compile(r"(?P<type>\w+) zone '(?P<zone>.*)' cannot be bypassed"),
     N_("{type} zone '{zone}' cannot be bypassed")),
    (re.compile(r"'(?P<zone>.*)' is already bypassed"), N_("'{zone}' is already bypassed")),
    (re.compile(r"'(?P<zone>.*)' is not bypassed"), N_("'{zone}' is not bypassed")),
    (re.compile(r"no open incident in '(?P<area>.*)'"), N_("no open incident in '{area}'")),
    (re.compile(r"cannot reset '(?P<area>.*?)': still active: (?P<zones>.+)"),
     N_("cannot reset '{area}': still active: {zones}")),
    (re.compile(r"nothing to silence in '(?P<area>.*)'"), N_("nothing to silence in '{area}'")),
    (re.compile(r"drill already running in '(?P<area>.*)'"), N_("drill already running in '{area}'")),
    (re.compile(r"drill not running in '(?P<area>.*)'"), N_("drill not running in '{area}'")),
    (re.compile(r"walk test already running in '(?P<area>.*)'"),
     N_("walk test already running in '{area}'")),
    (re.compile(r"walk test needs '(?P<area>.*)' disarmed"), N_("walk test needs '{area}' disarmed")),
    (re.compile(r"no walk test running in '(?P<area>.*)'"), N_("no walk test running in '{area}'")),
    (re.compile(r"siren_test: arg must be 1\.\.(?P<max>\S+) seconds, got (?P<arg>.+)"),
     N_("siren_test: arg must be 1..{max} seconds, got {arg}")),
]
_COMPILED = REASONS


def _why(text: str, t: Callable[..., str]) -> str:
    """The ``; ``-joined causes of a refused arming."""
    out = []
    for part in text.split("; "):
        m = _ZONES_NOT_READY.fullmatch(part)
        p = _PREVENTION.fullmatch(part)
        if m:
            zones = []
            for z in m["zones"].split(", "):
                zs = _ZONE_STATE.fullmatch(z)
                zones.append(t("{zone} ({state})", zone=zs["zone"], state=word(zs["state"], t))
                             if zs else z)
            out.append(t("zones not ready: {zones}", zones=t(", ").join(zones)))
        elif p:
            out.append(t("prevention of setting: {what}", what=p["what"]))
        else:
            out.append(reason(part, t))
    return t("; ").join(out)


def reason(text: str, t: Callable[..., str]) -> str:
    """The refusal ``text`` through the translator ``t`` (unchanged when not recognised)."""
    for rx, msgid in _COMPILED:
        m = rx.fullmatch(text)
        if m:
            fields = m.groupdict()
            for k in ("state", "type"):
                if k in fields:
                    fields[k] = word(fields[k], t)
            if "why" in fields:
                fields["why"] = _why(fields["why"], t)
            return t(msgid, **fields)
    return text
