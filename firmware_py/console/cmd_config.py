"""The config commands (installer): show, check, set, unset, diff, save, revert, code."""
from __future__ import annotations

import asyncio
import os

from ..checkmsg import localize
from ..errors import ConfigError
from ..i18n import N_, Msg, msg_of, tr
from .commands import LEVEL_INSTALLER, CommandError, UsageError, command
from .configedit import ConfigEditError, ConfigEditor, suggest


def _parse(text: str) -> dict:
    """The full start-up check (schema, references, drivers' points and outputs, engine)."""
    from ..checker import check_text

    return check_text(text)


def _secret_paths() -> list[str]:
    try:
        from ..config import secret_paths

        return secret_paths()
    except Exception:  # noqa: BLE001 - the name heuristic still hides the usual suspects
        return []


async def off_loop(fn, *args):
    """A config edit checks the whole site (drivers, engine): tens of ms, more on a Pi. It
    runs in a worker thread so the alarm loop never waits for it."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def editor(ctx) -> ConfigEditor:
    ed = ctx.console.state.get("config")
    if ed is None:
        path = getattr(ctx.host, "config_path", None)
        if not path:
            raise CommandError("this controller was started without a config file; "
                               "nothing to edit")
        try:
            ed = ConfigEditor(path, _parse, _secret_paths())
        except ConfigEditError as e:
            raise CommandError(msg_of(e)) from None
        ctx.console.state["config"] = ed
    return ed


def _problems(ctx, problems) -> None:
    for key, why in problems:
        where = key or ctx._("<file>")
        ctx.out(f"  {where}: {localize(why, ctx._)}")


@command("config", LEVEL_INSTALLER,
         "config show [SECTION] | check | set KEY VALUE | add SECTION.NAME | unset KEY | "
         "diff | save | "
         "revert [backup] | code USER [duress] [force]",
         "view and edit the site config (staged, then saved)",
         N_("""
Edits are staged: nothing changes until 'config save'.
'config show [SECTION]' prints the file (or one section, e.g. areas.main) with the staged
edits and secrets as <hidden>. 'config check' validates it all. 'config set KEY VALUE' stages
one value by dotted key, e.g. 'config set areas.main.entry_delay_s 45' or 'config set
zones.door1.profile slow' (zones by name, or zones[3] as 'config check' counts, from 0); an
edit that would make the config invalid is refused and the key named. A name that is not in
the file (a mistyped area) is refused with the closest one; 'config add areas.garage' creates
a new area (or profile, group, reader). 'config unset KEY'
removes a key (its default applies). 'config diff' shows the staged edits. 'config save'
validates, writes the file safely (the previous one kept as .bak) and restarts the controller
to apply it. 'config revert' drops the staged edits; 'config revert backup' swaps the file and
its .bak and restarts. 'config code USER' sets a user's code (asked twice, never shown,
stored hashed); with 'duress' the user's duress code. A code equal to another code or duress
code is refused, and so is an easy one (1234, 0000, 1212...) unless 'force' is added.
"""))
async def config(ctx, args):
    if not args:
        raise UsageError()
    sub, rest = args[0].lower(), args[1:]
    try:
        await _SUBS.get(sub, _bad)(ctx, rest)
    except ConfigEditError as e:
        raise CommandError(msg_of(e)) from None


async def _bad(ctx, rest):
    raise UsageError()


async def _show(ctx, rest):
    if len(rest) > 1:
        raise UsageError()
    ed = editor(ctx)
    ctx.out(*ed.show(rest[0] if rest else "").splitlines())
    if ed.staged:
        ctx.out(ctx._("({n} staged edit(s) included; 'config diff' lists them)",
                      n=len(ed.edits)))


async def _check(ctx, rest):
    ed = editor(ctx)
    probs = await off_loop(ed.problems)
    if probs:
        ctx.out(ctx._("staged config: {n} problem(s):", n=len(probs)) if ed.staged
                else ctx._("config file: {n} problem(s):", n=len(probs)))
        _problems(ctx, probs)
    else:
        ctx.out(ctx._("staged config: ok") if ed.staged else ctx._("config file: ok"))


async def _set(ctx, rest):
    if len(rest) < 2:
        raise UsageError("config set KEY VALUE")
    ed = editor(ctx)
    try:
        key, old, new = await off_loop(ed.set, rest[0], " ".join(rest[1:]))
    except ConfigError as e:
        ctx.out(ctx._("refused: {key} not changed:", key=rest[0]))
        _problems(ctx, e.problems)
        return
    ctx.out(ctx._("staged: {key} = {new}   (was {old}); 'config save' applies", key=key,
                  new=tr(new, ctx._), old=tr(old, ctx._)))


async def _add(ctx, rest):
    if len(rest) != 1:
        raise UsageError("config add SECTION.NAME (e.g. areas.garage)")
    ed = editor(ctx)
    try:
        key, _, _ = await off_loop(ed.add, rest[0])
    except ConfigError as e:
        ctx.out(ctx._("refused: {key} not added:", key=rest[0]))
        _problems(ctx, e.problems)
        return
    ctx.out(ctx._("staged: new [{key}] (defaults apply); 'config set {key}.KEY VALUE' sets "
                  "its keys", key=key))


async def _unset(ctx, rest):
    if len(rest) != 1:
        raise UsageError()
    ed = editor(ctx)
    try:
        key, old, _ = await off_loop(ed.unset, rest[0])
    except ConfigError as e:
        ctx.out(ctx._("refused: {key} not removed:", key=rest[0]))
        _problems(ctx, e.problems)
        return
    ctx.out(ctx._("staged: {key} removed (was {old}); its default applies after 'config save'",
                  key=key, old=tr(old, ctx._)))


async def _diff(ctx, rest):
    ed = editor(ctx)
    if not ed.staged:
        ctx.out(ctx._("no staged edits"))
        return
    for key, old, new in ed.edits:
        ctx.out(f"  {key}: {tr(old, ctx._)} -> {tr(new, ctx._)}")
    ctx.out("", *ed.diff(ctx._("saved"), ctx._("staged")))


async def _save(ctx, rest):
    ed = editor(ctx)
    try:
        await off_loop(ed.save)
    except ConfigError as e:
        ctx.out(ctx._("not saved: the config has problems:"))
        _problems(ctx, e.problems)
        return
    name = os.path.basename(ed.path)
    ctx.out(ctx._("Saved {name} (the previous version is kept as {name}.bak).", name=name),
            ctx._("Restarting to apply the new config; log in again in a few seconds."))
    ctx.console.state.pop("config", None)
    ctx.host.request_restart(f"config saved from the console by {ctx.user}")


async def _revert(ctx, rest):
    ed = editor(ctx)
    if not rest:
        n = ed.revert()
        ctx.out(ctx._("dropped {n} staged edit(s)", n=n) if n else ctx._("no staged edits"))
        return
    if rest != ["backup"]:
        raise UsageError()
    if not os.path.exists(ed.path + ".bak"):
        raise CommandError("no backup {path}.bak (one is made by 'config save')", path=ed.path)
    if not await ctx.confirm(ctx._("Replace the config file with its backup (.bak) and "
                                   "restart?")):
        ctx.out(ctx._("nothing changed"))
        return
    try:
        await off_loop(ed.restore_backup)
    except ConfigError as e:
        ctx.out(ctx._("not restored: the backup has problems:"))
        _problems(ctx, e.problems)
        return
    ctx.out(ctx._("Restored the config from the backup (the replaced file is now the .bak)."),
            ctx._("Restarting to apply it."))
    ctx.console.state.pop("config", None)
    ctx.host.request_restart(f"config backup restored from the console by {ctx.user}")


def trivial(code: str) -> str:
    """Why ``code`` is too easy to guess ("" when it is not)."""
    if len(set(code)) == 1:
        return Msg("every digit the same")
    steps = {int(b) - int(a) for a, b in zip(code, code[1:])}
    if steps in ({1}, {-1}):
        return Msg("a straight run of digits")
    half = len(code) // 2
    for n in (1, 2, 3):
        if len(code) % n == 0 and len(code) > n and code == code[:n] * (len(code) // n):
            return Msg("a repeated pattern")
    if len(code) % 2 == 0 and code[:half] == code[half:][::-1] and len(set(code)) <= 2:
        return Msg("a mirrored pattern")
    return ""


def _clashes(code: str, users: list, idx: int, field: str) -> str:
    """The first other code slot ``code`` already opens ("" when none)."""
    from ..codes import verify_code

    for i, u in enumerate(users):
        for f, what in (("code_hash", N_("code")), ("duress_hash", N_("duress code"))):
            if i == idx and f == field:
                continue
            h = str(u.get(f, "") or "")
            if h and verify_code(code, h):
                if i == idx:
                    return Msg("this user's {what}", what=Msg(what))
                return Msg("user {name}'s {what}", name=u.get("name", i), what=Msg(what))
    return ""


async def _code(ctx, rest):
    words = [w.lower() for w in rest[1:]]
    if not rest or len(rest) > 3 or any(w not in ("duress", "force") for w in words) \
            or len(set(words)) != len(words):
        raise UsageError("config code USER [duress] [force]")
    duress, force = "duress" in words, "force" in words
    ed = editor(ctx)
    users = ed.doc.get("users") or []
    idx = next((i for i, u in enumerate(users) if str(u.get("name", "")) == rest[0]), None)
    if idx is None:
        names = [str(u.get("name", "")) for u in users]
        raise CommandError("no user {name!r} in the config{hint}", name=rest[0],
                           hint=suggest(rest[0], names))
    first = await ctx.ask(ctx._("New code (4-12 digits): "), secret=True)
    if first is None:
        return
    second = await ctx.ask(ctx._("Again: "), secret=True)
    if second is None:
        return
    if first != second:
        raise CommandError("the two codes differ; nothing changed")
    if not first.isdigit() or not 4 <= len(first) <= 12:
        raise CommandError("a code is 4 to 12 digits; nothing changed")
    why = trivial(first)
    if why and not force:
        raise CommandError("that code is too easy to guess ({why}); nothing changed. Choose "
                           "another, or add 'force' to keep it", why=why)
    field = "duress_hash" if duress else "code_hash"
    from ..codes import hash_code

    loop = asyncio.get_running_loop()
    # Never two slots with one code: the console could not tell who logged in (and a
    # user's code equal to the installer's would lock the installer out of installer level).
    clash = await loop.run_in_executor(None, _clashes, first, [dict(u) for u in users], idx,
                                       field)
    if clash:
        raise CommandError("that code is already {clash}; every code and duress code must "
                           "differ. Nothing changed", clash=clash)
    h = await loop.run_in_executor(None, hash_code, first)
    del first, second
    try:
        await off_loop(ed.set, f"users[{idx}].{field}", h)
    except ConfigError as e:
        ctx.out(ctx._("refused:"))
        _problems(ctx, e.problems)
        return
    ctx.out((ctx._("staged: new duress code for {name}", name=rest[0]) if duress
             else ctx._("staged: new code for {name}", name=rest[0]))
            + (ctx._(" (forced although easy to guess)") if why else "")
            + ctx._("; 'config save' applies"))


_SUBS = {"show": _show, "check": _check, "set": _set, "unset": _unset, "diff": _diff,
         "save": _save, "revert": _revert, "code": _code, "add": _add}
