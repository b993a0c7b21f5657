"""`guardroom report drill|inspection`: argument handling for the CLI."""
from __future__ import annotations

import json
import os

from ..errors import ConfigError, GuardroomError
from ..i18n import Msg
from ..i18n import env_gettext as _


def add_parser(sub) -> None:
    rp = sub.add_parser("report", help=_("drill and inspection reports (HTML + PDF)"))
    rsub = rp.add_subparsers(dest="report", required=True, metavar="REPORT")
    d = rsub.add_parser("drill", help=_("every drill in the period: timeline, response times"))
    i = rsub.add_parser("inspection", help=_("the evidence an assessor asks for"))
    for p in (d, i):
        p.add_argument("--config", "-c", required=True, help=_("site config (TOML)"))
        p.add_argument("--out", required=True, metavar="DIR", help=_("write the report here"))
        p.add_argument("--lang", choices=["zh", "en"], default="zh")
        p.add_argument("--json", action="store_true",
                       help=_("print a JSON summary (with the files written) instead of a line"))
    d.add_argument("--since", metavar="DATE", help=_("YYYY-MM-DD (local) or an ISO time"))
    d.add_argument("--until", metavar="DATE", help=_("YYYY-MM-DD (that day included) or ISO"))
    i.add_argument("--months", type=int, default=24, metavar="N",
                   help=_("the period covered (default 24: the police assess every two years)"))
    i.add_argument("--untested-months", type=int, default=12, metavar="N",
                   help=_("highlight zones not tested for more than N months (default 12)"))


def run(ns) -> int:
    try:
        from . import source
        from .common import write
    except ImportError as e:  # pragma: no cover - depends on the install
        raise GuardroomError(Msg("reports need the 'report' extra: pip install "
                                 "'guardroom[report]' ({name} missing)", name=e.name)) from None
    try:
        import fpdf  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise GuardroomError(Msg("reports need the 'report' extra: pip install "
                                 "'guardroom[report]' ({name} missing)", name=e.name)) from None
    data = source.load(ns.config)
    if ns.report == "drill":
        from .drill_report import build

        try:
            since = source.parse_date(ns.since) if ns.since else None
            until = source.parse_date(ns.until, end=True) if ns.until else None
        except ValueError as e:
            raise ConfigError(("--since/--until", str(e))) from None
        doc, drills = build(data, ns.lang, since, until)
        base = f"drill-report-{ns.lang}"
        summary = f"{len(drills)} drill(s)"
        from .summary import drill_summary

        js = drill_summary(drills)
    else:
        from .inspection_report import build

        doc, summary, js = build(data, ns.lang, months=ns.months,
                                 untested_months=ns.untested_months)
        base = f"inspection-report-{ns.lang}"
    hp, pp = write(doc, ns.out, base)
    if ns.json:
        js["files"] = [os.path.abspath(hp), os.path.abspath(pp)]
        print(json.dumps(js, ensure_ascii=False))
    else:
        print(f"{summary}: {os.path.abspath(hp)}  {os.path.abspath(pp)}")
    return 0
