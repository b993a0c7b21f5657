"""Config problems in the reader's language (`guardroom check`, the console's config edits).
A reason made as an ``i18n.Msg`` (schema.py, config.py, the checker) is translated from its
msgid; a plain English reason (a driver's own wording) is matched against the schema's fixed
wordings below, and otherwise shown as it is. The key path is never translated (it is what
the installer types in the file)."""
from __future__ import annotations

import re

from .i18n import N_, Msg, tr, translator

#: (pattern of the English reason, template msgid with the pattern's named groups)
REASONS = [
    (re.compile(r"unknown key \(did you mean (?P<near>.+)\?\)"),
     N_("unknown key (did you mean {near}?)")),
    (re.compile(r"unknown key"), N_("unknown key")),
    (re.compile(r"is required"), N_("is required")),
    (re.compile(r"must be true or false, not (?P<v>.+)"), N_("must be true or false, not {v}")),
    (re.compile(r"must be a whole number, not (?P<v>.+)"), N_("must be a whole number, not {v}")),
    (re.compile(r"must be a number, not (?P<v>.+)"), N_("must be a number, not {v}")),
    (re.compile(r"must be a string, not (?P<v>.+)"), N_("must be a string, not {v}")),
    (re.compile(r"(?P<v>\S+) is below the minimum (?P<m>\S+)"),
     N_("{v} is below the minimum {m}")),
    (re.compile(r"(?P<v>\S+) is above the maximum (?P<m>\S+)"),
     N_("{v} is above the maximum {m}")),
    (re.compile(r"(?P<v>.+) is not one of (?P<opts>.+)"), N_("{v} is not one of {opts}")),
    # the drivers' own wordings (drivers/*/schema.py, plan.py, profiles.py): matched here so
    # the drivers keep plain English, as the engine does
    (re.compile(r"GPIO(?P<pin>\d+) is already used by (?P<by>.+)"),
     N_("GPIO{pin} is already used by {by}")),
    (re.compile(r"name (?P<name>'.*') is already used by (?P<by>.+)"),
     N_("name {name} is already used by {by}")),
    (re.compile(r"with pull 'none' the active level must be given \('low' or 'high'\)"),
     N_("with pull 'none' the active level must be given ('low' or 'high')")),
    (re.compile(r"must be a whole number or a parameter name, not (?P<v>.+)"),
     N_("must be a whole number or a parameter name, not {v}")),
    (re.compile(r"unknown parameter (?P<p>'.*'); the profile's \[params\] has: (?P<has>.+)"),
     N_("unknown parameter {p}; the profile's [params] has: {has}")),
    (re.compile(r"map 'bands' needs bands"), N_("map 'bands' needs bands")),
    (re.compile(r"map (?P<map>'.*') needs it"), N_("map {map} needs it")),
    (re.compile(r"(?P<table>\w+) are bits: use map 'bit'"),
     N_("{table} are bits: use map 'bit'")),
    (re.compile(r"only for registers"), N_("only for registers")),
    (re.compile(r"same register as (?P<other>\S+)"), N_("same register as {other}")),
    (re.compile(r"coil (?P<addr>\d+) is also (?P<other>\S+)"),
     N_("coil {addr} is also {other}")),
    (re.compile(r"bus (?P<name>'.*') is also (?P<other>\S+)"), N_("bus {name} is also {other}")),
    (re.compile(r"an rtu bus needs the serial device path"),
     N_("an rtu bus needs the serial device path")),
    (re.compile(r"device (?P<name>'.*') is also (?P<other>\S+)"),
     N_("device {name} is also {other}")),
    (re.compile(r"address (?P<addr>\d+) is also (?P<other>\S+) on this bus"),
     N_("address {addr} is also {other} on this bus")),
    (re.compile(r"profile (?P<prof>'.*') has no (?P<what>parameter|point|output) "
                r"(?P<name>'.*'); it has: (?P<has>.*)"),
     N_("profile {prof} has no {what} {name}; it has: {has}")),
    (re.compile(r"output name (?P<name>'.*') is also (?P<other>\S+)"),
     N_("output name {name} is also {other}")),
    (re.compile(r"maps no point and no output: nothing to do"),
     N_("maps no point and no output: nothing to do")),
    (re.compile(r"address (?P<addr>\d+) is already used by reader (?P<r>'.*') on this port"),
     N_("address {addr} is already used by reader {r} on this port")),
    (re.compile(r"cannot be combined with scbk or install_mode: remove insecure to use the "
                r"secure channel"),
     N_("cannot be combined with scbk or install_mode: remove insecure to use the secure "
        "channel")),
    (re.compile(r"install_mode needs the key the reader is to be given \(32 hex digits\)"),
     N_("install_mode needs the key the reader is to be given (32 hex digits)")),
    (re.compile(r"is empty: without a secure channel anyone on the RS-485 bus can read card "
                r"numbers and PINs and fake door contacts\. Set a 32-hex-digit key, or "
                r"install_mode = true to commission a new reader, or insecure = true to "
                r"accept clear text explicitly"),
     N_("is empty: without a secure channel anyone on the RS-485 bus can read card numbers "
        "and PINs and fake door contacts. Set a 32-hex-digit key, or install_mode = true to "
        "commission a new reader, or insecure = true to accept clear text explicitly")),
    (re.compile(r"input (?P<idx>-?\d+) is not in inputs \(which has (?P<n>\d+) entries\)"),
     N_("input {idx} is not in inputs (which has {n} entries)")),
    (re.compile(r"is the same input as door_input"), N_("is the same input as door_input")),
    (re.compile(r"needs door_input \(the door contact\)"),
     N_("needs door_input (the door contact)")),
    (re.compile(r"point (?P<p>'.*') is used twice by this reader"),
     N_("point {p} is used twice by this reader")),
    (re.compile(r"reader name (?P<n>'.*') is already used by (?P<by>.+)"),
     N_("reader name {n} is already used by {by}")),
    (re.compile(r"(?P<v>'.*') is already used by (?P<by>.+)"), N_("{v} is already used by {by}")),
]


def reason(why: str, lang: str) -> str:
    """``why`` in ``lang`` when it is one of the common schema reasons, else as it is."""
    return localize(why, translator(lang))


def localize(why, t) -> str:
    """The reason ``why`` through the translator ``t``."""
    if isinstance(why, Msg):
        return tr(why, t)
    for rx, msgid in REASONS:
        m = rx.fullmatch(str(why))
        if m:
            fields = m.groupdict()
            if "what" in fields:                  # parameter, point, output: a word
                fields["what"] = t(fields["what"])
            return t(msgid, **fields)
    return str(why)
