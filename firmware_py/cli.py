"""The `guardroom` command: run the daemon, check a config, read the event log, hash a code,
play emulated hardware, benchmark, and run the emulated-site demo."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import sys

from . import __version__
from .errors import ConfigError, GuardroomError
from .checkmsg import localize
from .i18n import N_, Msg, msg_of, tr, translator
from .i18n import env_gettext as _
from .i18n import from_env

EMULATORS = {
    "gpio": "guardroom.emulators.gpio",
    "modbus": "guardroom.emulators.modbus",
    "osdp": "guardroom.emulators.osdp",
    "platform": "guardroom.emulators.platform",
    "broker": "guardroom.emulators.broker",
    "arc": "guardroom.emulators.arc",
}
EMULATOR_HELP = {
    "gpio": N_("press buttons and break beams on the GPIO driver's mock pins"),
    "modbus": N_("Modbus RTU/TCP devices (I/O modules, beams, fence energizers)"),
    "osdp": N_("OSDP card readers on a pty (libosdp peripheral devices)"),
    "platform": N_("a monitoring platform that prints and acknowledges events"),
    "broker": N_("a Mosquitto broker on a free loopback port"),
    "arc": N_("an alarm receiving centre speaking SIA DC-09"),
}
DESCRIPTION = N_("The `guardroom` command: run the daemon, check a config, read the event log, "
                 "hash a code, play emulated hardware, benchmark, and run the emulated-site "
                 "demo.")
#: argparse's own words (its gettext calls): translated by this catalog when the CLI speaks
#: Chinese (see ``_argparse_speaks``).
ARGPARSE = (N_("usage: "), N_("positional arguments"), N_("options"),
            N_("show this help message and exit"), N_("show program's version number and exit"),
            N_("%(prog)s: error: %(message)s\n"), N_("the following arguments are required: %s"),
            N_("unrecognized arguments: %s"), N_("expected one argument"),
            N_("invalid choice: %(value)r (choose from %(choices)s)"),
            N_("argument %(argument_name)s: %(message)s"),
            N_("not allowed with argument %s"), N_("invalid %(type)s value: %(value)r"),
            N_("ambiguous option: %(option)s could match %(matches)s"))


def _argparse_speaks() -> None:
    """argparse translates its words with ``gettext.gettext`` (the default domain): point that
    domain at this catalog, so ``--help`` and usage errors follow LANG like the rest."""
    import gettext

    from .i18n import LOCALEDIR, DOMAIN

    if from_env() != "en":
        gettext.bindtextdomain(DOMAIN, str(LOCALEDIR))
        gettext.textdomain(DOMAIN)
BENCHES = {"core": "guardroom.bench.core", "e2e": "guardroom.bench.e2e",
           "dc09": "guardroom.bench.dc09", "hops": "guardroom.bench.hops",
           "fleet": "guardroom.bench.fleet"}


def _parser() -> argparse.ArgumentParser:
    _argparse_speaks()
    p = argparse.ArgumentParser(prog="guardroom", description=_(DESCRIPTION))
    p.add_argument("--version", action="version", version=f"guardroom {__version__}",
                   help=_("show program's version number and exit"))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help=_("run the controller daemon"))
    r.add_argument("--config", "-c", required=True, help=_("site config (TOML)"))
    r.add_argument("--log-level", default="INFO")

    c = sub.add_parser("check", help=_("validate a config without starting anything"))
    c.add_argument("--config", "-c", required=True, help=_("site config (TOML)"))

    lg = sub.add_parser("log", help=_("read, verify or export the event log"))
    lg.add_argument("--config", "-c", required=True, help=_("site config (TOML)"))
    g = lg.add_mutually_exclusive_group()
    g.add_argument("--verify", action="store_true", help=_("check the hash chain"))
    g.add_argument("--tail", type=int, metavar="N", help=_("the last N events (default 20)"))
    g.add_argument("--export", choices=["jsonl", "csv"], help=_("write every event"))
    lg.add_argument("--out", help=_("export to this file (default: stdout)"))
    lg.add_argument("--head", metavar="ROW:HASH",
                    help=_("with --verify: the log must still hold this published head "
                           "(the `log_head` of the retained state or of an event)"))

    h = sub.add_parser("hash-code", help=_("hash a user/installer code for the config"))
    h.add_argument("--stdin", action="store_true",
                   help=_("read the code from stdin, no prompt"))

    # `emulate X ...` and `bench X ...` are handed to X before this parser sees them (see
    # _delegated); these parsers only answer `guardroom emulate --help` and mistakes.
    e = sub.add_parser("emulate", help=_("play emulated hardware or the platform"),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_("Play a piece of the site on this PC, over the real wire:")
                       + "\n" + "\n".join(f"  {k:<9} {_(v)}" for k, v in EMULATOR_HELP.items())
                       + "\n\n" + _("'guardroom emulate WHAT --help' lists its options."))
    e.add_argument("what", choices=sorted(EMULATORS), metavar="WHAT",
                   help=_("one of: {names}", names=", ".join(sorted(EMULATORS))))
    e.add_argument("args", nargs=argparse.REMAINDER)

    b = sub.add_parser("bench", help=_("benchmarks (core engine, end to end)"),
                       description=_("'guardroom bench core --help' and 'guardroom bench e2e "
                                     "--help' list their options."))
    b.add_argument("what", choices=sorted(BENCHES), metavar="WHAT",
                   help=_("one of: {names}", names=", ".join(sorted(BENCHES))))
    b.add_argument("args", nargs=argparse.REMAINDER)

    from .report.command import add_parser as add_report_parser

    add_report_parser(sub)

    d = sub.add_parser("demo", help=_("run the emulated site demo"), add_help=False)
    d.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _delegate(module: str, args: list[str]) -> int:
    mod = importlib.import_module(module)
    return int(mod.main(args) or 0)


def cmd_run(ns) -> int:
    from . import config, daemon, logsetup

    logsetup.setup(ns.log_level)
    cfg = config.load(ns.config)
    if os.stat(ns.config).st_mode & 0o004:
        logging.getLogger("guardroom").warning(
            "%s is readable by every user on this machine, and it holds code hashes and keys: "
            "chmod 640 it (owner root, group guardroom)", ns.config)
    code = asyncio.run(daemon.run(cfg, os.path.abspath(ns.config)))
    if code == 75:  # a restart was requested (config saved from the console): re-execute
        os.execv(sys.executable, [sys.executable, "-m", "guardroom", *sys.argv[1:]])
    return code


def cmd_check(ns) -> int:
    from .checker import check_config

    print(check_config(ns.config))
    return 0


def cmd_log(ns) -> int:
    from . import config
    from .eventlog import EventLog

    cfg = config.load(ns.config)
    path = os.path.join(cfg["storage"]["dir"], "events.sqlite")
    if not os.path.exists(path):
        raise GuardroomError(Msg("no event log at {path}", path=path))
    elog = EventLog(path, keep=cfg["storage"]["log_keep"])
    try:
        if ns.head and not ns.verify:
            raise GuardroomError(Msg("--head goes with --verify"))
        if ns.verify:
            ok, checked, bad = elog.verify()
            if not ok:
                print(_("event log TAMPERED: chain broken at row {row} ({n} checked)", row=bad,
                        n=checked))
                return 1
            if ns.head:
                from .eventlog import verify_head

                row, _sep, want = ns.head.partition(":")
                if not row.isdigit() or len(want) != 64:
                    raise GuardroomError(Msg("--head is ROW:HASH (a row number, 64 hex digits)"))
                good, what = verify_head(elog, int(row), want)
                if not good:
                    print(_("event log TAMPERED: {what} ({n} events chained)", what=what,
                            n=checked))
                    return 1
                print(_("event log OK: {n} events, hash chain intact, {what}", n=checked,
                        what=what))
                return 0
            print(_("event log OK: {n} events, hash chain intact (without --head this proves "
                    "no edit only up to a rewrite of the whole chain or a cut tail)", n=checked))
            return 0
        if ns.export:
            out = open(ns.out, "w", encoding="utf-8", newline="") if ns.out else sys.stdout
            try:
                elog.export(out, fmt=ns.export)
            finally:
                if ns.out:
                    out.close()
            return 0
        lang = from_env()
        for ev in elog.tail(ns.tail or 20):
            text = str(ev.get("text", ""))
            if lang != "en" and text.isascii() and ev.get("kind"):
                from .eventtext import render

                text = render(ev, lang)        # an English site's log read in Chinese
            print(f"{ev.get('ts', '')}  {ev.get('cid', ''):>4}  {ev.get('kind', ''):<10} "
                  f"{text}")
        return 0
    finally:
        if hasattr(elog, "close"):
            elog.close()


def cmd_hash_code(ns) -> int:
    from .codes import hash_code

    if ns.stdin:
        code = sys.stdin.readline().strip()
    else:
        code = getpass.getpass(_("code (4-12 digits): "))
        if getpass.getpass(_("again: ")) != code:
            print(_("codes differ"), file=sys.stderr)
            return 2
    try:
        print(hash_code(code))
    except ValueError as e:
        print("guardroom: " + tr(msg_of(e), translator(from_env())), file=sys.stderr)
        return 2
    return 0


def cmd_report(ns) -> int:
    from .report.command import run

    return run(ns)


def _delegated(argv: list[str]):
    """`emulate X ...`, `bench X ...` and `demo ...` hand their own options (which argparse's
    REMAINDER would not take when they start with '-') to the module they run."""
    if argv and argv[0] == "demo":
        return "guardroom.emulators.demo", argv[1:]
    if len(argv) >= 2 and argv[0] == "emulate" and argv[1] in EMULATORS:
        return EMULATORS[argv[1]], argv[2:]
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHES:
        return BENCHES[argv[1]], argv[2:]
    return None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _argparse_speaks()                        # the delegated commands' argparse too
    target = _delegated(argv)
    if target is None:
        ns = _parser().parse_args(argv)
    try:
        if target is not None:
            return _delegate(*target)
        return {"run": cmd_run, "check": cmd_check, "log": cmd_log,
                "hash-code": cmd_hash_code, "report": cmd_report}[ns.command](ns)
    except ConfigError as e:
        n = len(e.problems)
        if from_env() == "en" or not n or not str(e).startswith(f"{n} config problem"):
            print(f"guardroom: {e}", file=sys.stderr)
        else:   # the CLI's language (LANG): the header and every reason translated
            t = translator(from_env())
            print("guardroom: " + _("{n} config problem(s):", n=n) + "\n"
                  + "\n".join(f"  {k or '<root>'}: {localize(why, t)}"
                              for k, why in e.problems), file=sys.stderr)
        return 2
    except GuardroomError as e:
        print("guardroom: " + tr(msg_of(e), translator(from_env())), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
