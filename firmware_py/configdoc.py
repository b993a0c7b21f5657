"""The config reference, generated from the schemas (so it can never drift from the code):
every key with its type, bounds, default and meaning, section by section.

    python -m guardroom.configdoc > docs/installer/config-reference.md
"""
from __future__ import annotations

import sys

from .config import _registry, _top_schema
from .schema import describe

HEADER = """# Config reference

Generated from the schemas by `python -m guardroom.configdoc`; a test fails when this file is
out of date. Keys are TOML paths: `areas.<name>` is a table per area (`[areas.building]`),
`zones[]` an array of tables (`[[zones]]`). Unknown keys are errors. Secrets (`password`,
`scbk`, code hashes) are never logged or shown by `config show`.
"""


def _table(rows) -> list[str]:
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, typ, default, doc in rows:
        out.append(f"| `{key}` | {typ} | `{default}` | {doc.replace('|', '/')} |")
    return out


def render() -> str:
    lines = [HEADER]
    for name, field in _top_schema().fields.items():
        if name == "drivers":
            reg = _registry()
            for kind in reg.DRIVERS:
                try:
                    schema = reg.schema_for(kind)
                except ImportError:
                    continue
                lines += [f"\n## [drivers.{kind}]\n"] + _table(describe(schema,
                                                                           f"drivers.{kind}"))
            continue
        lines += [f"\n## {name}\n"] + _table(describe(field, name))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
