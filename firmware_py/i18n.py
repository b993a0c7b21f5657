"""Message catalogs: gettext, domain ``guardroom``, English source strings.

The zh-CN translation lives in ``locale/zh_CN/LC_MESSAGES/guardroom.po`` (edited by hand) and
is compiled to ``guardroom.mo`` next to it, shipped in the package (``make i18n`` extracts the
strings with Babel, updates the .po and compiles it). Languages are ``en`` and ``zh-CN``:

- the daemon speaks ``[site] language`` (event texts, console start language);
- a console session switches with ``lang zh`` / ``lang en``;
- CLI commands follow the environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG) like Unix tools.

Mark a string with ``_("...")`` (translated now) or ``N_("...")`` (marked only, translated
where it is shown). A missing translation shows the English.
"""
from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Optional

DOMAIN = "guardroom"
LOCALEDIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh-CN")
_GNU = {"en": "en", "zh-CN": "zh_CN"}


def normalize(lang: Optional[str]) -> str:
    """``zh``, ``zh_CN.UTF-8``, ``zh-Hans``, ``zh-CN`` -> ``zh-CN``; anything else -> ``en``."""
    low = (lang or "").strip().lower().replace("_", "-")
    return "zh-CN" if low == "zh" or low.startswith(("zh-cn", "zh-hans", "zh-sg", "zh.")) \
        else "en"


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` (English = no catalog: source strings as they are)."""
    lang = normalize(lang)
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, str(LOCALEDIR), languages=[_GNU[lang]], fallback=True)


def translator(lang: str) -> Callable[..., str]:
    """``t(msgid, **fields)``: the translation of ``msgid`` in ``lang``, ``{name}`` fields
    filled in after translating (the catalog may move them)."""
    tr = translations(lang)

    def t(msgid: str, **fields) -> str:
        text = tr.gettext(msgid)
        return text.format(**fields) if fields else text
    return t


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it here."""
    return msgid


def from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The language of the environment, as gettext picks it (LANGUAGE, LC_ALL, LC_MESSAGES,
    LANG, first one set)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "")
        if value:
            first = value.split(":")[0]
            return "en" if first in ("C", "POSIX") or first.startswith("C.") else normalize(first)
    return "en"


def has_catalog(lang: str) -> bool:
    """True when the compiled catalog of ``lang`` is installed (always true for English)."""
    lang = normalize(lang)
    return lang == "en" or (LOCALEDIR / _GNU[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()


def env_gettext(msgid: str, **fields) -> str:
    """``msgid`` in the environment's language (CLI commands), fields filled in."""
    return translator(from_env())(msgid, **fields)


class Msg(str):
    """English text that keeps its msgid and fields, so whoever shows it can show it in
    another language (``tr``). It IS the English string (comparisons, logs, ``str()`` and JSON
    are unchanged): a reason made deep down (schema, config check, a console refusal) travels
    as plain text and is translated only where a person reads it."""

    msgid: str
    fields: dict

    def __new__(cls, msgid: str, **fields):
        self = super().__new__(cls, msgid.format(**fields) if fields else msgid)
        self.msgid, self.fields = msgid, fields
        return self

    def __reduce__(self):
        return (_msg, (self.msgid, self.fields))


def _msg(msgid: str, fields: dict) -> Msg:
    return Msg(msgid, **fields)


def tr(text, t: Callable[..., str]) -> str:
    """``text`` through the translator ``t`` when it is a :class:`Msg` (its fields too),
    else as it is (a name, a number, an English text from elsewhere)."""
    if isinstance(text, Msg):
        return t(text.msgid, **{k: tr(v, t) for k, v in text.fields.items()})
    return text if isinstance(text, str) else str(text)


def msg_of(exc: BaseException):
    """An exception's message, its :class:`Msg` kept when it was raised with one."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, Msg) else str(exc)
