"""Every user-visible string of the console, the CLI, `guardroom check` and the demo goes
through the catalog. The source is read (ast), not run: a string literal on these surfaces
that holds an English word fails this test unless it is

- a catalog msgid: the first argument of a marker (``_``, ``ctx._``, ``t``, ``N_``, ``Msg``,
  ``CommandError``, ``UsageError``, ``ConfigEditError``, the demo's ``say``/``title``) as a
  plain literal (Babel extracts those; an f-string or a conditional there would not be);
- machine text in a place that is not shown: a dict key, a ``.get()``/regex/``strftime``
  argument, a comparison, a log call, an event text for the platform (``report``, kept in
  English and localized by eventtext on a Chinese site), a command name for the engine;
- a word of the allow-list below (protocol names, units, command syntax).

Shown means: passed (directly or inside an expression) to an output call (``out``,
``print``, ``ask``, ``confirm``, ``table``, ``kv``, ``wrap``, an error raised to the user, an
argparse help) or any phrase of two words or more. The companion test_catalog.py then
requires a zh-CN translation of every msgid, so a string added in English only fails one of
the two.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SURFACES = sorted(
    [p for p in (ROOT / "firmware_py/console").glob("*.py") if p.name != "__init__.py"]
    + [ROOT / "firmware_py" / n for n in ("cli.py", "checker.py", "checkmsg.py", "config.py",
                                         "schema.py", "refusals.py", "eventtext.py",
                                         "vocab.py")]
    + [ROOT / "firmware_py/report/command.py", ROOT / "emulators/demo.py"])

#: the extraction keywords of `make i18n` (Babel's -k), and gettext's own ``_``
MARKERS = {"_"} | {k.split(":")[0] for k in re.findall(r"-k (\S+)",
                                                      (ROOT / "Makefile").read_text())}
SINKS = {"out", "print", "ask", "confirm", "table", "kv", "wrap", "raw", "write",
         "GuardroomError", "ConfigError", "ValueError", "add", "append", "row",
         "add_argument", "add_parser", "ArgumentParser", "add_subparsers"}
#: calls whose string arguments are never shown as such (keys, patterns, log lines, event
#: texts for the platform, engine command names, file modes...)
NOT_SHOWN = {"get", "getattr", "hasattr", "setdefault", "pop", "startswith", "endswith",
             "replace", "split", "partition", "strip", "join", "strftime", "compile",
             "fullmatch", "match", "search", "sub", "findall", "debug", "info", "warning",
             "error", "exception", "critical", "report", "request_restart", "command",
             "run_engine", "_needing", "isinstance", "open", "getLogger", "execute",
             "encode", "decode", "import_module", "subscribe", "set_point", "output_on",
             "which", "create_subprocess_exec", "tail", "append_item", "remove_item", "set",
             "unset", "off_loop", "makedirs", "join", "send_cmd", "cmd", "paint", "logout",
             "new", "released", "press", "release", "platform", "hexdigest", "ljust",
             "add_mutually_exclusive_group", "word", "writerow", "dumps", "loads",
             "Section", "Str", "Int", "Bool", "Choice", "Float", "ListOf", "Table", "Name",
             "Field", "DictOf", "NamedTables", "cid_str", "parse", "shlex", "split_path",
             "_resolve", "time_", "status", "_c", "_cell", "fmt"}
#: words that are the same in both languages: protocol and product names, units, the
#: command syntax an installer types, placeholders of usage lines
ALLOWED = {
    "UTC", "NTP", "CRC", "SC", "CID", "MQTT", "TLS", "TCP", "RTU", "OSDP", "Modbus", "GPIO",
    "DC-09", "ARC", "SIA", "HTML", "PDF", "CSV", "JSONL", "jsonl", "csv", "TOML", "UTF-8",
    "guardroom", "python", "sha256", "ms", "zh", "en", "zh-CN", "ID", "HH", "MM", "SS",
    "YYYY", "DD", "ERR", "EXC", "LED", "NAME", "KEY", "VALUE", "USER", "AREA", "ZONE", "BUS",
    "FROM-TO", "FILE", "SECONDS", "MS", "DATE", "DIR", "ROW", "HASH", "COMMAND", "WHAT",
    "REPORT", "N", "Z", "A", "K", "D", "ISO", "PTY", "pty", "stdout", "stdin", "exit",
}
#: what only the generated English docs show (docs/installer/config-reference.md)
DOCS_ONLY = {"describe", "type_name"}
_WORD = re.compile(r"[A-Za-z][A-Za-z_\-0-9]*[A-Za-z0-9]")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([^)]*\)\w|%\w")


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def _english(text: str) -> list[str]:
    text = _PLACEHOLDER.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in ALLOWED and not w.isdigit()]


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    docs = _docstrings(tree)
    bad = []
    for node in ast.walk(tree):                   # Babel reads no call inside an f-string
        if isinstance(node, ast.Call) and _name(node) in MARKERS and node.args and \
                isinstance(node.args[0], ast.Constant):
            up = parents.get(node)
            while up is not None and not isinstance(up, ast.JoinedStr):
                up = parents.get(up)
            if up is not None:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                           f"{node.args[0].value!r}: marked inside an f-string (Babel cannot "
                           "extract it: translate it outside, pass it in as a field)")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in docs or not _english(node.value):
            continue
        # a phrase (words and a space) is text for people wherever it is; a single word or
        # an identifier (``armed_away``, ``--config``, ``a.b.c``) only where it is output
        shown = " " in node.value.strip() and len(_english(node.value)) >= 2
        verdict = None
        child, up = node, parents.get(node)
        if isinstance(up, ast.JoinedStr):         # a piece of an f-string: judge the f-string
            child, up = up, parents.get(up)
        while up is not None and verdict is None:
            if isinstance(up, ast.Call):
                name = _name(up)
                if name in MARKERS and child is (up.args[0] if up.args else None):
                    verdict = "ok" if isinstance(child, ast.Constant) else \
                        "a marker needs a plain literal (Babel cannot extract this)"
                elif child is up.func:
                    pass
                elif name in ("add_argument", "add_parser", "ArgumentParser",
                              "add_subparsers") and child in up.args:
                    verdict = "ok"                # option and sub-command names
                elif name == "add" and up.args and child is up.args[0]:
                    verdict = "ok"                # problems.add(KEY PATH, reason)
                elif name in NOT_SHOWN:
                    verdict = "ok"
                elif name in SINKS:
                    shown = True
            elif isinstance(up, ast.keyword) and up.arg in ("metavar", "dest", "default",
                                                              "choices", "prog", "version",
                                                              "formatter_class", "action",
                                                              "doc"):
                verdict = "ok"
            elif isinstance(up, (ast.Compare, ast.Subscript)) or (
                    isinstance(up, ast.Dict) and child in up.keys):
                verdict = "ok"
            elif isinstance(up, ast.arguments):   # a default value of a parameter
                verdict = "ok"
            elif isinstance(up, ast.AnnAssign) and child is up.annotation:
                verdict = "ok"
            elif isinstance(up, ast.Tuple) and up.elts and child is up.elts[0] and isinstance(
                    parents.get(up), ast.Call) and _name(parents[up]) == "ConfigError":
                verdict = "ok"                    # ConfigError((KEY PATH, reason))
            elif isinstance(up, ast.Assign) and any(
                    isinstance(x, ast.Name) and x.id in DOCS_ONLY for x in up.targets):
                verdict = "ok"
            elif isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    up.name in DOCS_ONLY:
                verdict = "ok"
            elif isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Module)):
                break
            child, up = up, parents.get(up)
        if verdict == "ok" or (verdict is None and not shown):
            continue
        why = verdict or "not in the catalog (mark it: ctx._(), t(), N_(), Msg())"
        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}: {why}")
    return bad


def test_every_shown_string_is_a_catalog_message():
    bad = [p for path in SURFACES for p in _problems(path)]
    assert not bad, "user-visible English outside the catalog:\n" + "\n".join(bad)


def test_the_check_finds_an_unmarked_string(tmp_path):
    """The test can fail: an English output line, an f-string error and an unmarked table
    header are found; their marked forms are not."""
    src = tmp_path / "cmd_x.py"
    src.write_text(
        "async def x(ctx, args):\n"
        "    ctx.out('zone is open')\n"
        "    raise CommandError(f'no zone {args[0]}')\n"
        "    ctx.out(*table(['STATE'], []))\n"
        "    ctx.out(ctx._('zone is open'), ctx._('STATE'))\n"
        "    raise CommandError('no zone {z}', z=args[0])\n"
        "    ctx.out(f\"{ctx._('ROW')} {args}\")\n", encoding="utf-8")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        found = _problems(src)
    finally:
        ROOT = old
    assert sorted(line.split(":")[1] for line in found) == ["2", "3", "4", "7"], found
