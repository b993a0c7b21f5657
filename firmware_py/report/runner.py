"""Make a report from inside the daemon (console `report`, the platform's `report` command)
without slowing the alarm loop: the CLI runs as a child process at low priority (matplotlib
takes seconds of CPU and ~100 MB), the loop only awaits it."""
from __future__ import annotations

import asyncio
import json
import os
import sys

from ..errors import GuardroomError

KINDS = ("drill", "inspection")
TIMEOUT_S = 600.0


def out_dir(storage_dir: str) -> str:
    """Reports made by the controller go to ``<storage>/exports/reports``."""
    return os.path.join(storage_dir, "exports", "reports")


async def make_report(config_path: str, kind: str, lang: str, out: str) -> dict:
    """Run ``guardroom report KIND --json``; returns its summary (with ``files``)."""
    if kind not in KINDS:
        raise GuardroomError(f"unknown report {kind!r} (drill or inspection)")
    if lang not in ("zh", "en"):
        raise GuardroomError(f"unknown language {lang!r} (zh or en)")
    if not config_path:
        raise GuardroomError("the daemon does not know its config file")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guardroom", "report", kind, "--config", config_path,
        "--out", out, "--lang", lang, "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: os.nice(10))
    try:
        so, se = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        tail = se.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        raise GuardroomError(f"report {kind}: {tail[0][:200]}")
    return json.loads(so.decode().strip().splitlines()[-1])
