"""`report drill|inspection [zh|en]`: make a report into the storage folder (exports/reports/)
for someone to copy off the controller; see docs/operator/reports.md."""
from __future__ import annotations

import os

from ..errors import GuardroomError
from ..i18n import N_, msg_of
from .commands import LEVEL_USER, CommandError, UsageError, command


@command("report", LEVEL_USER, "report drill|inspection [zh|en]",
         "drill or inspection report (HTML + PDF) into the storage folder",
         N_("""
Makes the drill report (every drill in the log: timeline, response times, buttons exercised)
or the inspection report (devices, zone tests, troubles, uplink, log integrity, users, drills)
as HTML and PDF in exports/reports/ of the storage folder. Chinese by default. It runs beside
the alarm loop at low priority and takes a few seconds (more on a Pi).
"""))
async def report_(ctx, args):
    from ..report.runner import KINDS, make_report, out_dir

    if not args or args[0] not in KINDS or len(args) > 2 or \
            (len(args) == 2 and args[1] not in ("zh", "en")):
        raise UsageError("which report: drill or inspection, then zh or en")
    lang = args[1] if len(args) == 2 else "zh"
    out = out_dir(ctx.host.config["storage"]["dir"])
    ctx.out(ctx._("making the drill report ({lang})...", lang=lang) if args[0] == "drill" else
            ctx._("making the inspection report ({lang})...", lang=lang))
    try:
        js = await make_report(getattr(ctx.host, "config_path", "") or "", args[0], lang, out)
    except GuardroomError as e:
        raise CommandError(msg_of(e)) from None
    if args[0] == "drill":
        ctx.out(ctx._("{n} drill(s) in the log.", n=len(js["drills"])))
    else:
        ctx.out(ctx._("{zones} zones, {untested} untested; {drills} drill(s) in 12 months; "
                      "event log {log}.", zones=js["zones"], untested=len(js["untested"]),
                      drills=js["drills_12m"],
                      log=ctx._("intact") if js["log_ok"] else ctx._("TAMPERED")))
    for f in js["files"]:
        ctx.out(ctx._("written: exports/reports/{name} ({dir})", name=os.path.basename(f),
                      dir=out))
