"""Logging to stderr (journald under systemd): one line per record, ``key=value`` extras.
Codes, keys and passwords are never passed to a logger; ``redact`` masks them in any text
that could carry them (a config dump, an exception message about a secret field)."""
from __future__ import annotations

import logging
import os
import re
import sys

# a secret's name (optionally with a _suffix, never a plural word of prose like "keys:")
_SECRET_RE = re.compile(r'(\b(?:\w+_)?(?:password|passwd|scbk|code|key|hash|pin|secret|token)'
                        r'(?:_\w+)?\s*[=:]\s*)("[^"]*"|\S+)', re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_RE.sub(lambda m: m.group(1) + "<hidden>", text)


class _Formatter(logging.Formatter):
    def __init__(self, with_time: bool):
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time else \
            "%(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)

    def format(self, record):
        return redact(super().format(record))


def setup(level: str = "INFO") -> None:
    under_journal = bool(os.environ.get("JOURNAL_STREAM"))
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(_Formatter(with_time=not under_journal))
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(os.environ.get("GUARDROOM_LOG", level).upper())
    for noisy in ("pymodbus", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
