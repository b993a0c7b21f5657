"""Commands about the session and the controller: help, login, logout, status, time, restart."""
from __future__ import annotations

import asyncio
import math
import shutil
import time

from ..codes import LEVEL_INSTALLER, LEVEL_NAMES
from .commands import (LEVEL_ANYONE, LEVEL_USER, REGISTRY, CommandError, UsageError, command)
from ..i18n import N_, Msg, tr
from ..vocab import word
from .render import clip, kv, table, usage, wrap
from .health import device_lines
from .walktest import scope


@command("help", LEVEL_ANYONE, "help [COMMAND]", "list the commands, or explain one",
         N_("""
Without an argument: the commands open at your access level, then those that need a higher
level. With a command name: its usage and what it does.
"""))
async def help_(ctx, args):
    if args:
        cmd = REGISTRY.get(args[0].lower())
        if cmd is None:
            raise CommandError(ctx._("no command {name!r}; type 'help' for the list",
                                     name=args[0]))
        ctx.out(*usage(cmd.usage, ctx._))
        ctx.out(ctx._("level: {level}", level=ctx._(LEVEL_NAMES[cmd.level]))
                + ("" if ctx.level >= cmd.level else ctx._(" (log in first)")), "")
        summary = ctx._(cmd.summary)
        ctx.out(*wrap(summary[0].upper() + summary[1:] + ("." if summary.isascii() else "。")))
        if cmd.help:
            text = ctx._(cmd.help).strip()
            if text.isascii():
                text = text.replace("\n", " ").replace("  ", "\n")
            else:                             # Chinese: no spaces between lines
                text = text.replace("\n\n", "\0").replace("\n", "").replace("\0", "\n")
            ctx.out("", *wrap(text))
        return
    for level in (1, 2, 3):
        cmds = [c for c in REGISTRY.values() if c.level == level]
        if not cmds:
            continue
        open_ = ctx.level >= level
        title = {1: ctx._("Anyone"), 2: ctx._("User level (2)"),
                 3: ctx._("Installer level (3)")}[level]
        ctx.out(title + ("" if open_ else ctx._(" - needs 'login'")) + ":")
        for c in sorted(cmds, key=lambda c: c.name):
            ctx.out(clip(f"  {c.name:<10}{ctx._(c.summary)}", 79))
    ctx.out(*wrap(ctx._("'help COMMAND' explains one. Ctrl-C cancels, Ctrl-D logs out, "
                        "up-arrow recalls; at --More--: space pages, q skips.")))


@command("lang", LEVEL_ANYONE, "lang [zh|en]",
         "this session's language: Chinese (zh) or English (en)",
         N_("""
Without an argument: the language in use. 'lang zh' switches this session to Chinese (the
terminal must show UTF-8: picocom, PuTTY, screen), 'lang en' back to English. The next
session starts in the site's language ([site] language). Event texts sent to the platform
follow the site's language, not this setting.
"""))
async def lang(ctx, args):
    if not args:
        ctx.out(ctx._("language: {lang}", lang=ctx.console.lang))
        return
    want = args[0].lower()
    if want not in ("zh", "zh-cn", "zh_cn", "cn", "中文", "en", "english"):
        raise UsageError(ctx._("unknown language {lang!r}: zh or en", lang=args[0]))
    if not ctx.console.set_lang("en" if want in ("en", "english") else "zh-CN"):
        raise CommandError("this terminal is set to ASCII ([console] utf8 = false): "
                           "staying in English")
    ctx.out(ctx._("language: {lang}", lang=ctx.console.lang))


@command("login", LEVEL_ANYONE, "login", "log in with a user or installer code",
         N_("""
Asks for the code without showing it. A user code gives level 2 (arm, disarm, bypass, reset,
silence), an installer code level 3 (configuration, tests, outputs). After too many wrong
codes in a row the console locks for a while (longer each time) and a wrong-code event (461)
goes to the platform. Type the code at the 'Code:' prompt, never on the command line.
"""))
async def login(ctx, args):
    if args:
        raise UsageError(ctx._("type 'login' alone and the code at the prompt (it is not "
                               "shown)"))
    console, session = ctx.console, ctx.session
    # Ask even while locked: a code typed blind must land in a hidden prompt, not on the
    # command line where it would be echoed and kept in the history.
    code = await ctx.ask(ctx._("Code: "), secret=True)
    if code is None:
        ctx.out(ctx._("login cancelled"))
        return
    code = code.strip()
    left = session.locked(time.monotonic())
    if left > 0:
        del code
        raise CommandError(ctx._("console locked after wrong codes; no code is accepted "
                                 "for {s} s", s=math.ceil(left)))
    loop = asyncio.get_running_loop()
    # PBKDF2 takes tens of ms per user on a Pi: never on the loop that decides alarms.
    match = await loop.run_in_executor(None, ctx.host.codes.check, code) if code else None
    del code
    if match is not None and match.level >= LEVEL_INSTALLER:
        from .cmd_users import installer_blocked

        why = installer_blocked(ctx)
        if why:
            raise CommandError("installer login refused: {why}", why=why)
    prev = session.match
    res = session.attempt(match, time.monotonic())
    if not res.ok:
        if res.lockout_started:
            n = session.lockout.attempts
            console.report("wrong_code", 461, 1, f"{n} wrong codes at the console; console "
                           f"locked for {int(res.locked_s)} s")
            ctx.out(ctx._("Wrong code. Too many wrong codes: console locked for {s} s.",
                          s=int(res.locked_s)))
        else:
            ctx.out(ctx._("Wrong code."))
        return
    m = res.match
    same_installer = (prev is not None and prev.level >= LEVEL_INSTALLER
                      and prev.user == m.user and m.level >= LEVEL_INSTALLER)
    if prev is not None and prev.level >= LEVEL_INSTALLER and not same_installer:
        console.report("program_mode", 628, 1, f"installer {prev.user} left program mode at "
                       "the console (new login)", user=prev.user)
    if m.level >= LEVEL_INSTALLER and not same_installer:
        console.report("program_mode", 627, 1, f"installer {m.user} entered program mode at "
                       "the console", user=m.user)
    if m.duress:
        # Logs in like the real code; the alarm is raised silently (nothing on the screen),
        # in the user's first area or the site's first (a user without areas too).
        ctx.host.duress(m.user, m.areas)
    ctx.out(ctx._("Logged in as {user} ({level}). Idle logout after {s} s.", user=m.user,
                  level=ctx._(LEVEL_NAMES[m.level]), s=int(session.idle_logout_s)))


@command("logout", LEVEL_ANYONE, "logout", "end the session (also Ctrl-D)")
async def logout(ctx, args):
    if not ctx.session.logged_in:
        ctx.out(ctx._("Not logged in."))
        return
    who = ctx.user
    ctx.console.logout("logout")
    ctx.out(ctx._("Logged out {who}.", who=who))


@command("status", LEVEL_ANYONE, "status", "areas, uplink, troubles (a summary before login)",
         N_("""
Before login: each area's state and whether the platform is reachable. Logged in: also the
clock, zones not at rest, outputs that are on, and each driver's health.
"""))
async def status(ctx, args):
    st = ctx.host.status()
    info = ctx.host.info
    ctx.out(ctx._("{controller} at {site}  (version {version})",
                  controller=info.get('controller', '?'), site=info.get('site', '?'),
                  version=info.get('version', '?')))
    rows = []
    for name, a in st.get("areas", {}).items():
        flags = []
        if a.get("incident"):
            flags.append(ctx._("incident {n}", n=a['incident']))
        if a.get("drill"):
            flags.append(ctx._("DRILL"))
        if a.get("walktest"):
            flags.append(ctx._("WALK TEST"))
            if ctx.level > LEVEL_ANYONE:
                inscope = scope(ctx.host, [name])
                done = [z for z in inscope if z in set(map(str, a.get("tripped") or []))]
                flags.append(ctx._("{done}/{n} tested", done=len(done), n=len(inscope)))
        rows.append((name, word(a.get("state", "?"), ctx._, spaced=True),
                     " ".join(flags) or "-"))
    ctx.out("", *table([ctx._("AREA"), ctx._("STATE"), ctx._("NOTES")], rows))
    up = st.get("uplink", {}) or {}
    connected = up.get("connected", up.get("up", up.get("state")))
    ctx.out("", ctx._("platform uplink: {state}", state=_yes(
        connected, ctx._("connected"), ctx._("NOT connected")))
        + (ctx._(", outbox {n}", n=up['outbox']) if "outbox" in up and ctx.level > 1 else ""))
    arc = st.get("arc")
    if arc:
        ctx.out(ctx._("ARC path (DC-09): {state} via {receiver}",
                      state=_yes(arc.get("up"), ctx._("up"), ctx._("DOWN")),
                      receiver=arc.get("receiver"))
                + (ctx._(", outbox {n}", n=arc.get("outbox_depth")) if ctx.level > 1 else ""))
    zones = st.get("zones", [])
    trouble = [z for z in zones if isinstance(z, dict) and (z.get("trouble") or z.get("state")
                                                            not in (None, "normal"))]
    if ctx.level == LEVEL_ANYONE:
        ctx.out(ctx._("zones not at rest: {n}", n=len(trouble)), ctx._("Log in for details."))
        return
    clock = st.get("clock", {})
    ctx.out(ctx._("clock: {wall} ({ntp})", wall=clock.get('wall', '?'),
                  ntp=ctx._("NTP synced") if clock.get('ntp') else ctx._("no NTP")))
    if trouble:
        ctx.out("", *table([ctx._("ZONE"), ctx._("AREA"), ctx._("STATE"), ctx._("TROUBLE")], [
            (z.get("name"), z.get("area"), word(z.get("state"), ctx._), z.get("trouble") or "")
            for z in trouble]))
    on = [n for n, o in st.get("outputs", {}).items() if o.get("on")]
    ctx.out("", ctx._("outputs on: {names}", names=', '.join(on) if on else ctx._("none")))
    devices = device_lines(st.get("drivers") or {}, ctx._)
    if devices:
        ctx.out("", ctx._("devices:"), *[f"  {line}" for line in devices])


def _yes(v, yes, no):
    if isinstance(v, str):
        return yes if v.lower() in ("up", "connected", "online", "true") else f"{no} ({v})"
    return yes if v else no


def _zone_name() -> str:
    """The controller's time zone as ``CET (UTC+01:00)``."""
    z = time.strftime("%z")
    return f"{time.strftime('%Z')} (UTC{z[:3]}:{z[3:]})"


def parse_local(text: str):
    """``YYYY-MM-DD HH:MM[:SS]`` as a datetime, or UsageError naming what is wrong."""
    import datetime as dt
    import re

    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?", text)
    if not m:
        raise UsageError("write the time as YYYY-MM-DD HH:MM[:SS], e.g. 2026-11-27 14:05")
    y, mo, d, h, mi, sec = (int(x) if x else 0 for x in m.groups())
    if not 1 <= mo <= 12:
        raise UsageError("month {mo} does not exist (01-12)", mo=f"{mo:02d}")
    if not 0 <= h <= 23 or not 0 <= mi <= 59 or not 0 <= sec <= 59:
        raise UsageError("{hms} is not a time of day (00:00-23:59)",
                         hms=f"{h:02d}:{mi:02d}:{sec:02d}")
    try:
        when = dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:
        raise UsageError("{ym} has no day {d}", ym=f"{y}-{mo:02d}", d=f"{d:02d}") from None
    if not 2020 <= y <= 2100:
        raise UsageError("year {y} is not plausible for this controller (2020-2100)", y=y)
    return when


@command("time", LEVEL_USER, "time | time set YYYY-MM-DD HH:MM[:SS]",
         "show the clock; set it (installer, only without NTP)",
         N_("""
Shows the controller's clock in UTC (the time the event log and the platform use) and in the
controller's local time zone, and whether NTP keeps it right. 'time set' is for sites without
NTP (no internet): it needs the installer level, takes the LOCAL time of the controller's time
zone (shown by 'time'), checks the date and time are real, and sets the system clock with
timedatectl; with NTP synced it is refused, because NTP would undo it.
"""))
async def time_(ctx, args):
    clock = ctx.host.clock()
    if not args:
        ctx.out(*kv([("UTC", clock.get("wall", "?")),
                     (ctx._("local"), time.strftime("%Y-%m-%d %H:%M:%S ") + _zone_name()),
                     ("NTP", ctx._("synced") if clock.get("ntp") else ctx._("not synced"))]))
        return
    if args[0] != "set" or len(args) not in (3, 2):
        raise UsageError()
    if ctx.level < LEVEL_INSTALLER:
        raise CommandError("setting the clock needs the installer level")
    when = " ".join(args[1:])
    parsed = parse_local(when)
    if clock.get("ntp"):
        raise CommandError("the clock is synced by NTP; 'time set' is refused (NTP would "
                           "undo it)")
    if shutil.which("timedatectl") is None:
        raise CommandError("cannot set the clock here: timedatectl is not available")
    stamp = parsed.strftime("%Y-%m-%d %H:%M:%S")
    ctx.out(ctx._("Setting the clock to {stamp} local time, {tz}...", stamp=stamp,
                  tz=_zone_name()))
    proc = await asyncio.create_subprocess_exec(
        "timedatectl", "set-time", stamp, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        why = out.decode(errors="replace").strip().splitlines()
        raise CommandError("cannot set the clock here: {why}",
                           why=why[-1] if why else f"exit {proc.returncode}")
    ctx.console.report("clock", 625, 1, f"clock set to {stamp} local ({_zone_name()}) at the "
                       "console", user=ctx.user)
    ctx.out(ctx._("clock set: {wall} UTC", wall=ctx.host.clock().get("wall", stamp)))


def config_hash(path: str) -> str:
    """The first 16 hex digits of the config file's SHA-256 (as on disk now)."""
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError as e:
        return Msg("unreadable ({why})", why=e.strerror)


@command("version", LEVEL_ANYONE, "version",
         "software version, engine build, config hash, uptime",
         N_("""
The software version, whether the alarm engine runs compiled (production) or interpreted,
the Python version, the first 16 hex digits of the config file's SHA-256 (compare it with
`sha256sum site.toml` on your laptop to know which file runs), and how long the controller
software has been running.
"""))
async def version(ctx, args):
    import platform as _platform

    from .health import span

    if args:
        raise UsageError()
    info = ctx.host.info
    path = getattr(ctx.host, "config_path", None)
    _ = ctx._
    engine = info.get("engine", "?")
    pairs = [(_("version"), f"guardroom {info.get('version', '?')}"),
             (_("engine"), _("{engine} build", engine=word(engine, _))),
             ("python", _platform.python_version()),
             (_("controller"), _("{controller} at {site}", controller=info.get("controller", "?"),
                                 site=info.get("site", "?"))),
             (_("uptime"), span(time.monotonic() - ctx.console.started, _))]
    if ctx.level >= LEVEL_USER:
        pairs.insert(3, (_("config"), f"sha256 {tr(config_hash(path), _)}  ({path})" if path
                         else _("(started without a config file)")))
    ctx.out(*kv(pairs))


@command("restart", LEVEL_INSTALLER, "restart", "restart the controller software",
         N_("""
Asks for confirmation, then the daemon announces the restart and restarts itself (systemd
brings it back). Alarms are not lost: the outbox keeps every unsent event.
"""))
async def restart(ctx, args):
    if not await ctx.confirm(ctx._("Restart the controller now?")):
        ctx.out(ctx._("not restarted"))
        return
    ctx.out(ctx._("Restarting. The console comes back in a few seconds."))
    ctx.host.request_restart(f"restart from the console by {ctx.user}")
