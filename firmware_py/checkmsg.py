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
            return t(msgid, **m.groupdict())
    return str(why)
