"""`report drill|inspection [zh|en]`: make a report into the storage folder (exports/reports/)
for someone to copy off the controller; see docs/operator/reports.md."""
from __future__ import annotations

import os

from ..errors import GuardroomError
from .commands import LEVEL_USER, CommandError, UsageError, command


@command("report", LEVEL_USER, "report drill|inspection [zh|en]",
         "drill or inspection report (HTML + PDF) into the storage folder",
         """
Makes the drill report (every drill in the log: timeline, response times, buttons exercised)
or the inspection report (devices, zone tests, troubles, uplink, log integrity, users, drills)
as HTML and PDF in exports/reports/ of the storage folder. Chinese by default. It runs beside
the alarm loop at low priority and takes a few seconds (more on a Pi).
""")
async def report_(ctx, args):
    from ..report.runner import KINDS, make_report, out_dir

    if not args or args[0] not in KINDS or len(args) > 2 or \
            (len(args) == 2 and args[1] not in ("zh", "en")):
        raise UsageError("which report: drill or inspection, then zh or en")
    lang = args[1] if len(args) == 2 else "zh"
    out = out_dir(ctx.host.config["storage"]["dir"])
    ctx.out(f"making the {args[0]} report ({lang})...")
    try:
        js = await make_report(getattr(ctx.host, "config_path", "") or "", args[0], lang, out)
    except GuardroomError as e:
        raise CommandError(str(e)) from None
    if args[0] == "drill":
        ctx.out(f"{len(js['drills'])} drill(s) in the log.")
    else:
        ctx.out(f"{js['zones']} zones, {len(js['untested'])} untested; "
                f"{js['drills_12m']} drill(s) in 12 months; event log "
                f"{'intact' if js['log_ok'] else 'TAMPERED'}.")
    for f in js["files"]:
        ctx.out(f"written: exports/reports/{os.path.basename(f)} ({out})")
