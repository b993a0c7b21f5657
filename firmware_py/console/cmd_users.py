"""User management from the console (installer, staged like every config edit): list, add,
disable/enable, delete, set a user's areas. And the EN 50131 grade 3 rule, as an option
([console] installer_needs_authorisation): while an area is armed, an installer may log in only
after a user has authorised engineer access with 'authorise'."""
from __future__ import annotations

import re
import time

from ..codes import LEVEL_INSTALLER, LEVEL_USER
from ..errors import ConfigError
from ..i18n import N_, Msg
from ..vocab import word
from .cmd_config import _code, _problems, editor, off_loop
from .commands import CommandError, UsageError, command
from .configedit import suggest
from .render import table

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _users(ed) -> list:
    return list(ed.doc.get("users") or [])


def _find(ed, name: str):
    users = _users(ed)
    for u in users:
        if str(u.get("name", "")) == name:
            return u
    raise CommandError("no user {name!r}{hint} ('user list')", name=name,
                       hint=suggest(name, [str(u.get("name")) for u in users]))


def _installers_left(ed, without: str) -> int:
    return sum(1 for u in _users(ed) if str(u.get("name")) != without
               and u.get("level") == "installer" and u.get("enabled", True)
               and u.get("code_hash"))


def _guard_last_installer(ctx, ed, name: str, what: str) -> None:
    if name == ctx.user:
        if what == "disable":
            raise CommandError("you cannot disable yourself (log in as another installer)")
        raise CommandError("you cannot delete yourself (log in as another installer)")
    u = _find(ed, name)
    if u.get("level") == "installer" and _installers_left(ed, name) == 0:
        if what == "disable":
            raise CommandError("{name} is the last installer with a code: disable refused (the "
                               "controller would have no installer)", name=name)
        raise CommandError("{name} is the last installer with a code: delete refused (the "
                           "controller would have no installer)", name=name)


def _area_list(ctx, text: str) -> list[str]:
    if text.lower() in ("all", "-", ""):
        return []
    names = list(ctx.host.status().get("areas", {}))
    out = []
    for a in [x.strip() for x in text.replace(" ", ",").split(",") if x.strip()]:
        if a not in names:
            raise CommandError("no area {key!r}{hint} (areas: {names})", key=a,
                               hint=suggest(a, names), names=", ".join(names))
        out.append(a)
    return out


@command("user", LEVEL_INSTALLER,
         "user list | add NAME [user|installer] [areas A,B] | disable NAME | enable NAME | "
         "delete NAME | areas NAME A,B|all",
         "manage users: add, disable, delete, set their areas (staged)",
         N_("""
'user list' shows every user with level, state, areas and which codes are set (never the
codes). 'user add NAME [user|installer] [areas A,B]' adds a user and asks for the code at
once (as 'config code'). 'user disable NAME' keeps the user in the file but refuses the codes
and cards (a guard on leave); 'user enable NAME' undoes it. 'user delete NAME' removes the
user (asks first). 'user areas NAME A,B' limits a user to those areas ('all' lifts it). Like
every config edit these are staged: 'config diff' shows them, 'config save' applies them. You
cannot disable or delete yourself, nor the last installer.
"""))
async def user(ctx, args):
    if not args:
        raise UsageError()
    sub, rest = args[0].lower(), args[1:]
    ed = editor(ctx)
    try:
        if sub == "list" and not rest:
            _list(ctx, ed)
        elif sub == "add" and rest:
            await _add(ctx, ed, rest)
        elif sub in ("disable", "enable") and len(rest) == 1:
            if sub == "disable":
                _guard_last_installer(ctx, ed, rest[0], "disable")
            _find(ed, rest[0])
            await off_loop(ed.set, f"users.{rest[0]}.enabled",
                           "true" if sub == "enable" else "false")
            ctx.out(ctx._("staged: {name} enabled; 'config save' applies", name=rest[0])
                    if sub == "enable" else
                    ctx._("staged: {name} disabled; 'config save' applies", name=rest[0]))
        elif sub == "delete" and len(rest) == 1:
            _guard_last_installer(ctx, ed, rest[0], "delete")
            if not await ctx.confirm(ctx._("Delete user {name} (codes and cards)?",
                                           name=rest[0])):
                ctx.out(ctx._("nothing changed"))
                return
            await off_loop(ed.remove_item, "users", rest[0])
            ctx.out(ctx._("staged: user {name} deleted; 'config save' applies", name=rest[0]))
        elif sub == "areas" and len(rest) == 2:
            _find(ed, rest[0])
            areas = _area_list(ctx, rest[1])
            await off_loop(ed.set, f"users.{rest[0]}.areas",
                           "[" + ", ".join(f'"{a}"' for a in areas) + "]")
            ctx.out(ctx._("staged: {name} may use {areas}; 'config save' applies", name=rest[0],
                          areas=", ".join(areas) or ctx._("every area")))
        else:
            raise UsageError()
    except ConfigError as e:
        ctx.out(ctx._("refused:"))
        _problems(ctx, e.problems)


def _list(ctx, ed) -> None:
    _ = ctx._
    rows = []
    for u in _users(ed):
        codes = [_(w) for w, f in (("code", "code_hash"), ("duress", "duress_hash"))
                 if u.get(f)]
        rows.append((str(u.get("name", "?")), word(u.get("level", "user"), _),
                     _("enabled") if u.get("enabled", True) else _("DISABLED"),
                     ", ".join(map(str, u.get("areas") or [])) or _("all"),
                     ", ".join(codes) or _("none"), len(u.get("cards") or [])))
    ctx.out(*table([_("USER"), _("LEVEL"), _("STATE"), _("AREAS"), _("CODES SET"),
                    _("CARDS")], rows))
    if ed.staged:
        ctx.out(_("(staged edits included; 'config diff' lists them)"))


async def _add(ctx, ed, rest) -> None:
    name, level, areas = rest[0], "user", []
    i = 1
    while i < len(rest):
        w = rest[i].lower()
        if w in ("user", "installer"):
            level = w
            i += 1
        elif w == "areas" and i + 1 < len(rest):
            areas = _area_list(ctx, rest[i + 1])
            i += 2
        else:
            raise UsageError("unexpected {word!r}", word=rest[i])
    if not _NAME.match(name):
        raise CommandError("a user name is letters, digits, _ - . (at most 64)")
    if any(str(u.get("name")) == name for u in _users(ed)):
        raise CommandError("user {name!r} exists already", name=name)
    item = {"name": name, "level": level}
    if areas:
        item["areas"] = areas
    await off_loop(ed.append_item, "users", item)
    ctx.out(ctx._("staged: new {level} {name}", level=word(level, ctx._), name=name)
            + (ctx._(" for {areas}", areas=", ".join(areas)) if areas else ""))
    await _code(ctx, [name])


# -- engineer access authorised by a user (EN 50131-1 grade 3) --------------------------------
def installer_blocked(ctx) -> str:
    """Why an installer may not log in now ("" when allowed)."""
    cfg = ctx.console.config
    if not cfg.get("installer_needs_authorisation", False):
        return ""
    armed = [a for a, st in ctx.host.status().get("areas", {}).items()
             if st.get("state") not in ("disarmed", None)]
    if not armed:
        return ""
    until = ctx.console.state.get("authorised_until", 0.0)
    if time.monotonic() < until:
        return ""
    return Msg("{areas} is armed: a user must log in and type 'authorise' before an "
               "installer may log in", areas=", ".join(armed))


@command("authorise", LEVEL_USER, "authorise",
         "let an installer log in while an area is armed (for a while)",
         N_("""
With [console] installer_needs_authorisation = true, an installer code is refused while any
area is armed until a user has typed 'authorise' here: it opens installer access for
authorise_s seconds (30 min by default) and is reported. Disarming the areas needs no
authorisation.
"""))
async def authorise(ctx, args):
    if args:
        raise UsageError()
    if ctx.level >= LEVEL_INSTALLER:
        raise CommandError("an installer cannot authorise installer access: a user does")
    secs = int(ctx.console.config.get("authorise_s", 1800))
    ctx.console.state["authorised_until"] = time.monotonic() + secs
    ctx.console.report("command", 0, 1, f"user {ctx.user} authorised installer access at the "
                       f"console for {secs // 60} min", user=ctx.user)
    ctx.out(ctx._("Installer access authorised for {n} min.", n=secs // 60))
