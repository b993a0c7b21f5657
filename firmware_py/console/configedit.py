"""Staged edits of the site config file, keeping the installer's comments and layout (tomlkit).

``set`` changes one value by dotted path (``areas.main.entry_delay_s``, ``zones.door1.profile``
or ``zones[3].profile`` as ``config check`` prints it) and refuses an edit that makes the config
invalid, naming the key. ``save`` validates the whole file, writes it atomically (temp file,
fsync, rename, directory fsync) and keeps the previous file as ``<file>.bak``; it refuses when
someone changed the file on disk since the edits began. ``revert`` drops the staged edits;
``restore_backup`` swaps the file and its ``.bak``. Secret values are shown as ``<hidden>``.
"""
from __future__ import annotations

import difflib
import os
import re
import tomllib
from typing import Callable, Optional

import tomlkit
from tomlkit.items import AoT

from ..errors import ConfigError, GuardroomError
from ..i18n import Msg

HIDDEN = "<hidden>"
_SECRET_NAME = re.compile(r"(password|passwd|secret|token|hash|scbk|psk|pin|cards?)$|^key$",
                          re.I)


class ConfigEditError(GuardroomError):
    """A config edit cannot be made (bad path, nothing staged, file changed on disk...).
    ``ConfigEditError(msgid, **fields)``: a catalog message (see ``i18n.Msg``)."""

    def __init__(self, msg: str, **fields):
        super().__init__(Msg(msg, **fields))


def split_path(key: str) -> list[str]:
    """``zones[3].profile`` / ``zones.3.profile`` -> ``['zones', '3', 'profile']``."""
    tokens = re.findall(r"[^.\[\]]+", key.strip())
    if not tokens or not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+", key.strip()):
        raise ConfigEditError("{key!r} is not a key path (e.g. areas.main.entry_delay_s)", key=key)
    return tokens


class ConfigEditor:
    def __init__(self, path: str, parse: Callable[[str], dict],
                 secret_paths: Optional[list[str]] = None):
        self.path = path
        self.parse = parse
        self.secret_paths = [p.split(".") for p in (secret_paths or [])]
        self.edits: list[tuple[str, str, str]] = []     # (key, old shown, new shown)
        self.original = self._read(path)
        self.doc = tomlkit.parse(self.original)

    @staticmethod
    def _read(path: str) -> str:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except OSError as e:
            raise ConfigEditError("cannot read {path}: {why}", path=path, why=e.strerror) from None

    @property
    def staged(self) -> bool:
        return bool(self.edits)

    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    # -- checking ------------------------------------------------------------------------------
    def problems(self, text: Optional[str] = None) -> list[tuple[str, str]]:
        try:
            self.parse(self.text() if text is None else text)
        except ConfigError as e:
            return list(e.problems)
        return []

    # -- editing -------------------------------------------------------------------------------
    def _resolve(self, doc, tokens: list[str], create: bool, new_names: bool = False):
        """The container holding the last token, and the real key (names resolved). With
        ``create``, missing tables on the way are made, except a new entry of a table of
        tables (a new area, profile, group...): a mistyped name must not create one silently,
        so that needs ``new_names`` ('config add')."""
        node = doc
        real = []
        for tok in tokens[:-1]:
            if isinstance(node, (list, AoT)):
                node, idx = self._item(node, tok, real)
                real.append(str(idx))
                continue
            if not isinstance(node, dict):
                raise ConfigEditError("{key} is a value, not a table", key=".".join(real) or tok)
            if tok not in node:
                if not create:
                    raise ConfigEditError("no {key} in the config{hint}",
                                          key=".".join(real + [tok]),
                                          hint=suggest(tok, node.keys()))
                if real and not new_names and node and all(
                        isinstance(v, dict) for v in node.values()):
                    where = ".".join(real)
                    raise ConfigEditError(
                        "no {key} in the config{hint} (known: {known}); 'config add {key}' "
                        "creates a new one", key=f"{where}.{tok}", hint=suggest(tok, node.keys()),
                        known=", ".join(map(str, node.keys())))
                node[tok] = tomlkit.table()
            node = node[tok]
            real.append(tok)
        last = tokens[-1]
        if isinstance(node, (list, AoT)):
            raise ConfigEditError("{key} is a list: name an item and a key ({key}.NAME.KEY)",
                                  key=".".join(real))
        if not isinstance(node, dict):
            raise ConfigEditError("{key} is a value, not a table", key=".".join(real))
        return node, last, real

    @staticmethod
    def _item(node, tok: str, real: list[str]):
        for i, item in enumerate(node):
            if isinstance(item, dict) and str(item.get("name", "")) == tok:
                return item, i
        if tok.isdigit() and int(tok) < len(node):
            return node[int(tok)], int(tok)
        where = ".".join(real)
        names = [str(it.get("name")) for it in node if isinstance(it, dict) and "name" in it]
        hint = Msg(" (items: {names})", names=", ".join(names[:10])) if names \
            else f" (0..{len(node) - 1})"
        raise ConfigEditError("no item {item!r} in {where}{near}{hint}", item=tok, where=where,
                              near=suggest(tok, names), hint=hint)

    def set(self, key: str, value_text: str) -> tuple[str, str, str]:
        """Stage ``key = value``; returns (key, old, new) as shown. Raises ConfigError with only
        the problems this edit would add (the key named), or ConfigEditError."""
        tokens = split_path(key)
        trial = tomlkit.parse(self.text())
        node, last, _ = self._resolve(trial, tokens, create=True)
        old = node.get(last)
        new = convert(value_text, old.unwrap() if hasattr(old, "unwrap") else old)
        node[last] = new
        self._accept(trial, key, tokens, old, new)
        return self.edits[-1]

    def add(self, key: str) -> tuple[str, str, str]:
        """Stage a new, empty table (a new area, profile, group, reader...)."""
        tokens = split_path(key)
        trial = tomlkit.parse(self.text())
        node, last, _ = self._resolve(trial, tokens, create=True, new_names=True)
        if last in node:
            raise ConfigEditError("{key} exists already", key=key)
        node[last] = tomlkit.table()
        self._accept(trial, key, tokens, None, {})
        return self.edits[-1]

    def append_item(self, list_key: str, item: dict) -> tuple[str, str, str]:
        """Stage a new table at the end of an array of tables (``users``: a new user)."""
        trial = tomlkit.parse(self.text())
        if list_key not in trial:
            trial[list_key] = tomlkit.aot()
        arr = trial[list_key]
        if not isinstance(arr, (list, AoT)):
            raise ConfigEditError("{key} is not a list of tables", key=list_key)
        t = tomlkit.table()
        for k, v in item.items():
            t[k] = v
        t.add(tomlkit.nl())
        arr.append(t)
        name = item.get("name", len(arr) - 1)
        self._accept(trial, f"{list_key}.{name}", [list_key, str(name)], None, {})
        return self.edits[-1]

    def remove_item(self, list_key: str, name: str) -> tuple[str, str, str]:
        """Stage the removal of the item named ``name`` from an array of tables."""
        trial = tomlkit.parse(self.text())
        arr = trial.get(list_key)
        if not isinstance(arr, (list, AoT)):
            raise ConfigEditError("no {key} in the config", key=list_key)
        _, idx = self._item(arr, name, [list_key])
        del arr[idx]
        self._accept(trial, f"{list_key}.{name}", [list_key, name], {}, None)
        return self.edits[-1]

    def unset(self, key: str) -> tuple[str, str, str]:
        """Remove ``key`` (the schema default applies again)."""
        tokens = split_path(key)
        trial = tomlkit.parse(self.text())
        node, last, _ = self._resolve(trial, tokens, create=False)
        if last not in node:
            raise ConfigEditError("{key} is not set in the file", key=key)
        old = node[last]
        del node[last]
        self._accept(trial, key, tokens, old, None)
        return self.edits[-1]

    def _accept(self, trial, key, tokens, old, new) -> None:
        before = set(self.problems())
        after = self.problems(tomlkit.dumps(trial))
        added = [p for p in after if p not in before]
        if added:
            raise ConfigError(added)
        secret = self._is_secret(tokens)
        self.doc = trial
        self.edits.append((key, self._shown(old, secret), self._shown(new, secret)))

    # -- showing -------------------------------------------------------------------------------
    def _is_secret(self, tokens: list[str]) -> bool:
        if _SECRET_NAME.search(tokens[-1]):
            return True
        for pat in self.secret_paths:
            if len(pat) == len(tokens) and all(p in ("*", t) for p, t in zip(pat, tokens)):
                return True
        return False

    @staticmethod
    def _shown(v, secret: bool) -> str:
        if v is None:
            return Msg("(not set)")
        if secret:
            return HIDDEN
        v = v.unwrap() if hasattr(v, "unwrap") else v
        return tomlkit.item(v).as_string() if not isinstance(v, dict) else "{...}"

    def masked(self, text: Optional[str] = None) -> str:
        """The TOML text with every secret value replaced by ``<hidden>`` (comments kept)."""
        doc = tomlkit.parse(self.text() if text is None else text)
        self._mask(doc, [])
        return tomlkit.dumps(doc)

    def _mask(self, node, path: list[str]) -> None:
        if isinstance(node, dict):
            for k in list(node.keys()):
                v = node[k]
                sub = path + [str(k)]
                if isinstance(v, (dict, list, AoT)) and not (
                        isinstance(v, list) and self._is_secret(sub)):
                    self._mask(v, sub)
                elif self._is_secret(sub) and v not in ("", [], None):
                    node[k] = HIDDEN
        elif isinstance(node, (list, AoT)):
            for i, v in enumerate(node):
                if isinstance(v, (dict, list, AoT)):
                    self._mask(v, path + [str(i)])

    def show(self, section: str = "") -> str:
        text = self.masked()
        if not section:
            return text
        want = split_path(section)
        out, keep, found = [], False, False
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
        for line in text.splitlines():
            m = header.match(line)
            if m:
                name = [t.strip().strip('"') for t in m[1].split(".")]
                keep = name[:len(want)] == want
                found = found or keep
            if keep:
                out.append(line)
        if found:
            return "\n".join(out)
        # One item of a list of tables (zones.door1) or a single value.
        doc = tomlkit.parse(text)
        try:
            node, last, real = self._resolve(doc, want + ["_"], create=False)
            if isinstance(node, dict) and len(real) >= 2 and real[-1].isdigit():
                body = tomlkit.dumps(node).strip("\n")
                return f"[[{'.'.join(real[:-1])}]]   # {'.'.join(want)}\n{body}"
        except ConfigEditError:
            pass
        try:
            node, last, _ = self._resolve(doc, want, create=False)
        except ConfigEditError:
            raise ConfigEditError("no section or key {key!r} in the config",
                                  key=section) from None
        if not isinstance(node, dict) or last not in node:
            raise ConfigEditError("no section or key {key!r} in the config", key=section)
        v = node[last]
        return f"{section} = {v.as_string() if hasattr(v, 'as_string') else v}"

    def diff(self, saved: str = "saved", staged: str = "staged") -> list[str]:
        a = self.masked(self.original).splitlines()
        b = self.masked().splitlines()
        return list(difflib.unified_diff(a, b, saved, staged, n=1, lineterm=""))

    # -- saving --------------------------------------------------------------------------------
    def save(self) -> None:
        if not self.edits:
            raise ConfigEditError("nothing staged ('config set KEY VALUE' first)")
        text = self.text()
        self.parse(text)                      # validated in full; raises ConfigError
        if self._read(self.path) != self.original:
            raise ConfigEditError("{path} was changed by someone else since your edits began; "
                                  "'config revert' and make them again", path=self.path)
        atomic_write(self.path, text, backup=self.original)
        self.original = text
        self.edits.clear()

    def revert(self) -> int:
        n = len(self.edits)
        self.doc = tomlkit.parse(self.original)
        self.edits.clear()
        return n

    def restore_backup(self) -> None:
        """Swap ``<file>.bak`` and the file (the backup is validated first)."""
        bak = self.path + ".bak"
        if not os.path.exists(bak):
            raise ConfigEditError("no backup {path}", path=bak)
        text = self._read(bak)
        self.parse(text)                      # raises ConfigError if the backup is bad too
        current = self._read(self.path)
        atomic_write(self.path, text, backup=current)
        self.original = text
        self.doc = tomlkit.parse(text)
        self.edits.clear()


def suggest(word: str, names) -> str:
    """``; did you mean 'x'?`` for the closest of ``names`` ("" when none is close)."""
    close = difflib.get_close_matches(str(word), [str(n) for n in names], n=1, cutoff=0.6)
    return Msg("; did you mean {name!r}?", name=close[0]) if close else ""


def atomic_write(path: str, text: str, backup: Optional[str] = None) -> None:
    """Write ``text`` to ``path`` so a power cut leaves the old or the new file, never half;
    with ``backup``, first write it to ``path.bak`` the same way."""
    d = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o600
    if backup is not None:
        _write_replace(path + ".bak", backup, mode)
    _write_replace(path, text, mode)
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_replace(path: str, text: str, mode: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def convert(text: str, old):
    """The typed value of ``text``, guided by the type of the value it replaces."""
    t = text.strip()
    if isinstance(old, bool):
        if t.lower() in _TRUE:
            return True
        if t.lower() in _FALSE:
            return False
        return t
    if isinstance(old, int):
        try:
            return int(t)
        except ValueError:
            return _guess(t)
    if isinstance(old, float):
        try:
            return float(t)
        except ValueError:
            return t
    if isinstance(old, str):
        return text
    if isinstance(old, list) or (old is None and t.startswith("[") and t.endswith("]")):
        if t.startswith("[") and t.endswith("]"):
            v = _guess(t)
            if isinstance(v, list):
                return v
            t = t[1:-1]                       # [a, b] whose quotes the shell took away
        return [_guess(x.strip().strip("'\"")) for x in t.split(",") if x.strip()] if t \
            else []
    return _guess(t)


def _guess(t: str):
    """A TOML (or JSON) value; a bare word stays a string."""
    try:
        return tomllib.loads(f"v = {t}")["v"]
    except tomllib.TOMLDecodeError:
        return t
