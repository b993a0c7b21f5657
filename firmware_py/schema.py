"""A small declarative schema for the config file: types, defaults, bounds and docs live here,
next to each section, and validation is strict (unknown keys are errors).

    SCHEMA = Section({
        "port": Int(default=1883, min=1, max=65535, doc="broker TCP port"),
        "host": Str(doc="broker host"),                       # required: no default
        "mode": Choice(["tcp", "rtu"], default="tcp"),
        "devices": ListOf(Section({...})),
        "areas": MapOf(Section({...})),                          # [areas.<name>] tables
    })
    clean = SCHEMA.validate(raw_dict, "mqtt")               # raises ConfigError

``validate`` returns a new plain dict with every default filled in; every problem found is
reported at once with its dotted key path (``zones[3].area``, ``drivers.modbus.bus[0].port``).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional

from .errors import ConfigError
from .i18n import Msg

REQUIRED = object()
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class Problems(list):
    """``(key path, reason)`` pairs; ``add(path, why)``."""

    def add(self, path: str, why: str) -> None:
        self.append((path, why))




class Field:
    """Base of every schema node. ``default=REQUIRED`` makes the key mandatory."""

    type_name = "value"

    def __init__(self, default: Any = REQUIRED, doc: str = "",
                 check: Optional[Callable[[Any], Optional[str]]] = None):
        self.default = default
        self.doc = doc
        self.check = check

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def validate(self, value: Any, path: str = "") -> Any:
        problems = Problems()
        out = self._validate(value, path, problems)
        if problems:
            raise ConfigError(problems)
        return out

    def _validate(self, value, path, problems):
        out = self._convert(value, path, problems)
        if out is not _BAD and self.check is not None:
            why = self.check(out)
            if why:
                problems.add(path, why)
        return out

    def _convert(self, value, path, problems):  # pragma: no cover - abstract
        raise NotImplementedError

    def default_value(self):
        d = self.default
        return d() if callable(d) else d


_BAD = object()


class Bool(Field):
    type_name = "boolean"

    def _convert(self, value, path, problems):
        if isinstance(value, bool):
            return value
        problems.add(path, Msg("must be true or false, not {value!r}", value=value))
        return _BAD


class Int(Field):
    type_name = "integer"

    def __init__(self, default=REQUIRED, min: Optional[int] = None, max: Optional[int] = None,
                 **kw):
        super().__init__(default, **kw)
        self.min, self.max = min, max

    def _convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(path, Msg("must be a whole number, not {value!r}", value=value))
            return _BAD
        if self.min is not None and value < self.min:
            problems.add(path, Msg("{value} is below the minimum {min}", value=value, min=self.min))
        elif self.max is not None and value > self.max:
            problems.add(path, Msg("{value} is above the maximum {max}", value=value, max=self.max))
        return value


class Float(Int):
    type_name = "number"

    def _convert(self, value, path, problems):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(path, Msg("must be a number, not {value!r}", value=value))
            return _BAD
        value = float(value)
        if self.min is not None and value < self.min:
            problems.add(path, Msg("{value} is below the minimum {min}", value=value, min=self.min))
        elif self.max is not None and value > self.max:
            problems.add(path, Msg("{value} is above the maximum {max}", value=value, max=self.max))
        return value


class Str(Field):
    type_name = "string"

    def __init__(self, default=REQUIRED, pattern: Optional[str] = None, max_len: int = 4096,
                 secret: bool = False, **kw):
        super().__init__(default, **kw)
        self.pattern = re.compile(pattern) if pattern else None
        self.max_len = max_len
        self.secret = secret  # never shown by `config show` nor logged

    def _convert(self, value, path, problems):
        if not isinstance(value, str):
            problems.add(path, Msg("must be a string, not {value!r}", value=value))
            return _BAD
        if len(value) > self.max_len:
            problems.add(path, Msg("is longer than {n} characters", n=self.max_len))
        elif self.pattern is not None and not self.pattern.fullmatch(value):
            shown = "<hidden>" if self.secret else repr(value)
            problems.add(path, Msg("{value} does not match {pattern}", value=shown,
                                   pattern=self.pattern.pattern))
        return value


class Name(Str):
    """An identifier: letters, digits, '_', '-', '.', at most 64 characters."""

    type_name = "name"

    def __init__(self, default=REQUIRED, **kw):
        super().__init__(default, pattern=_NAME_RE.pattern, max_len=64, **kw)


class Choice(Field):
    type_name = "choice"

    def __init__(self, choices: Iterable[Any], default=REQUIRED, **kw):
        super().__init__(default, **kw)
        self.choices = list(choices)

    def _convert(self, value, path, problems):
        if value not in self.choices:
            opts = ", ".join(repr(c) for c in self.choices)
            problems.add(path, Msg("{value!r} is not one of {opts}", value=value, opts=opts))
            return _BAD
        return value


class Any_(Field):
    """Anything (used sparingly, e.g. a free-form label map)."""

    def _convert(self, value, path, problems):
        return value


class ListOf(Field):
    type_name = "list"

    def __init__(self, item: Field, default=REQUIRED, min_len: int = 0,
                 max_len: int = 10_000, unique: bool = False, **kw):
        super().__init__(default, **kw)
        self.item, self.min_len, self.max_len, self.unique = item, min_len, max_len, unique

    def _convert(self, value, path, problems):
        if not isinstance(value, list):
            problems.add(path, Msg("must be a list, not {type}", type=type(value).__name__))
            return _BAD
        if len(value) < self.min_len:
            problems.add(path, Msg("needs at least {n} item(s)", n=self.min_len))
        if len(value) > self.max_len:
            problems.add(path, Msg("has more than {n} items", n=self.max_len))
        out = [self.item._validate(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
        if self.unique:
            seen = set()
            for i, v in enumerate(out):
                key = repr(v)
                if key in seen:
                    problems.add(f"{path}[{i}]", Msg("duplicate {value!r}", value=v))
                seen.add(key)
        return out


class Section(Field):
    """A table with fixed keys. Unknown keys are errors (a typo must not silently vanish).

    ``cross(section) -> [(relative key path, reason), ...]`` checks what no single field can
    see (a pin used twice, an address taken); it runs on the converted section (so it must
    tolerate values that failed their own check) and each problem names its own key."""

    type_name = "table"

    def __init__(self, fields: dict[str, Field], default=REQUIRED,
                 cross: Optional[Callable[[dict], Iterable[tuple[str, str]]]] = None, **kw):
        super().__init__(default, **kw)
        self.fields = fields
        self.cross = cross

    def _validate(self, value, path, problems):
        out = super()._validate(value, path, problems)
        if self.cross is not None and isinstance(out, dict):
            for key, why in self.cross(out):
                problems.add(_join(path, key) if key else path, why)
        return out

    def default_value(self):
        if self.default is REQUIRED:
            return REQUIRED
        d = super().default_value()
        if isinstance(d, dict):
            return self._validate(d, "", Problems())
        return d

    def _convert(self, value, path, problems):
        if not isinstance(value, dict):
            problems.add(path, Msg("must be a table, not {type}", type=type(value).__name__))
            return _BAD
        out = {}
        for key in value:
            if key not in self.fields:
                near = _near(key, self.fields)
                hint = Msg(" (did you mean {name!r}?)", name=near) if near else ""
                problems.add(_join(path, key), Msg("unknown key{hint}", hint=hint))
        for key, field in self.fields.items():
            sub = _join(path, key)
            if key in value:
                out[key] = field._validate(value[key], sub, problems)
            elif field.required:
                problems.add(sub, Msg("is required"))
            else:
                out[key] = field.default_value()
        return out


class MapOf(Field):
    """A table of named items: ``[areas.ground]``, ``[areas.upper]`` -> {name: item}."""

    type_name = "table of named items"

    def __init__(self, item: Field, default=REQUIRED, min_len: int = 0, **kw):
        super().__init__(default, **kw)
        self.item, self.min_len = item, min_len

    def _convert(self, value, path, problems):
        if not isinstance(value, dict):
            problems.add(path, Msg("must be a table, not {type}", type=type(value).__name__))
            return _BAD
        if len(value) < self.min_len:
            problems.add(path, Msg("needs at least {n} item(s)", n=self.min_len))
        out = {}
        for name, item in value.items():
            if not _NAME_RE.fullmatch(str(name)):
                problems.add(_join(path, str(name)),
                             Msg("is not a valid name (letters, digits, _ - .)"))
            out[name] = self.item._validate(item, _join(path, str(name)), problems)
        return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _near(key: str, options: Iterable[str]) -> Optional[str]:
    import difflib

    m = difflib.get_close_matches(key, list(options), n=1, cutoff=0.75)
    return m[0] if m else None


def describe(field: Field, path: str = "") -> list[tuple[str, str, str, str]]:
    """Rows ``(key path, type, default, doc)`` for the docs and ``config show --schema``."""
    rows = []
    if isinstance(field, Section):
        for key, sub in field.fields.items():
            rows.extend(describe(sub, _join(path, key)))
        return rows
    if isinstance(field, (ListOf, MapOf)) and isinstance(field.item, Section):
        suffix = "[]" if isinstance(field, ListOf) else ".<name>"
        return describe(field.item, path + suffix)
    d = "required" if field.required else repr(field.default_value())
    extra = ""
    if isinstance(field, Int) and (field.min is not None or field.max is not None):
        extra = f" [{field.min}..{field.max}]"
    if isinstance(field, Choice):
        extra = " one of " + "/".join(map(str, field.choices))
    rows.append((path, field.type_name + extra, d, field.doc))
    return rows


def read_toml(path: str) -> dict:
    """A TOML file as a dict; a file that cannot be read or parsed is a ConfigError naming the
    file and why (for the site config, device profiles, rig files)."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError((path, Msg("cannot be read: {why}", why=e.strerror or e))) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError((path, Msg("not valid TOML: {e}", e=e))) from None
