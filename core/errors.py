"""Exceptions raised by the alarm engine.

EngineError is the root; SiteError says the site description handed to ``Engine(site)`` is
inconsistent, and its message names the offending key (``zones[3].area``, ``areas.Main.sirens``).
"""


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class SiteError(EngineError, ValueError):
    """The site description is inconsistent; the message names the key."""


class SnapshotError(EngineError, ValueError):
    """A snapshot handed to ``Engine.restore`` cannot be used."""
