"""Small helpers the command families share: finding zones and areas by what an installer
types, printing engine decisions, short times."""
from __future__ import annotations

from typing import Iterable, Optional

from .commands import CommandError


def short_time(iso: str) -> str:
    """``2026-11-27T20:51:03.123+00:00`` -> ``11-27 20:51:03`` (``-`` when empty)."""
    if not iso:
        return "-"
    s = str(iso).replace("T", " ")
    date, _, clock = s.partition(" ")
    return f"{date[5:10]} {clock[:8]}".strip() if clock else s[:19]


def compact_time(iso: str) -> str:
    """Today's ``20:51:03``, an older ``11-27 20:51`` (UTC, as the log): for narrow tables."""
    if not iso:
        return "-"
    import time as _time

    s = str(iso).replace("T", " ")
    date, _, clock = s.partition(" ")
    if date == _time.strftime("%Y-%m-%d", _time.gmtime()):
        return clock[:8]
    return f"{date[5:10]} {clock[:5]}"


def area_names(host) -> list[str]:
    return list(host.status().get("areas", {}))


def find_zone(host, key: str) -> dict:
    """A zone by name (any case), unique prefix, or its 1-based number in ``zones``."""
    zones = host.zones()
    low = key.lower()
    for z in zones:
        if z["name"].lower() == low:
            return z
    if key.isdigit() and 1 <= int(key) <= len(zones):
        return zones[int(key) - 1]
    hits = [z for z in zones if z["name"].lower().startswith(low)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise CommandError("{key!r} could be: {names}", key=key,
                           names=", ".join(z["name"] for z in hits[:8]))
    raise CommandError("no zone {key!r} (see 'zones')", key=key)


def find_area(host, key: str) -> str:
    names = area_names(host)
    for a in names:
        if a.lower() == key.lower():
            return a
    raise CommandError("no area {key!r} (areas: {names})", key=key, names=", ".join(names))


def my_areas(ctx, requested: Optional[str]) -> list[str]:
    """The areas a command acts on: the one named, or every area the user may use."""
    if requested:
        area = find_area(ctx.host, requested)
        if not ctx.session.may_use_area(area):
            raise CommandError("user {user} may not use area {area}", user=ctx.user, area=area)
        return [area]
    areas = [a for a in area_names(ctx.host) if ctx.session.may_use_area(a)]
    if not areas:
        raise CommandError("user {user} has no area", user=ctx.user)
    return areas


def decision_lines(decisions: Iterable[dict], lang: str = "en") -> list[str]:
    """The engine's answer to a command, one line per decision; in Chinese (``lang``) the
    text is built from the decision's fields, a refusal's reason matched to the catalog."""
    from ..i18n import translator
    from ..refusals import reason

    t = translator(lang)
    out = []
    for d in decisions:
        kind = d.get("kind", "")
        text = d.get("text") or " ".join(str(d.get(k)) for k in ("area", "zone", "state")
                                         if d.get(k))
        if lang != "en" and kind not in ("refused", "zone", "output") and text:
            from ..eventtext import render
            from ..events import cid_str

            text = render({**d, "cid": cid_str(int(d.get("q") or 0), int(d.get("cid") or 0)),
                           "text": text}, lang)
        if kind == "refused":
            text = reason(text, t)
        zone = d.get("zone") or ""
        if zone and text and zone not in text:
            text += f" ({zone})"              # e.g. an auto-bypass names its zone
        if kind == "refused":
            out.append(t("refused: {text}", text=text))
            if "walk test running" in (d.get("text") or ""):
                out.append(t("  (the installer's walk test; 'walktest stop' ends it)"))
        else:
            out.append(f"  {text}" if text else f"  {kind}")
    return out


async def run_engine(ctx, name: str, areas: list[str] = ("",), **kw) -> bool:
    """``host.command`` for each area, decisions printed; False if anything was refused."""
    ok = True
    for area in areas:
        decisions = await ctx.host.command(name, area=area, user=ctx.user, **kw)
        lines = decision_lines(decisions, ctx.console.lang)
        if any(d.get("kind") == "refused" for d in decisions):
            ok = False
        where = f" {area}" if area else ""
        if not lines:
            ctx.out(ctx._("{what}{where}: nothing to do", what=name, where=where))
        ctx.out(*lines)
    return ok


def flat(d: dict, skip: tuple = (), t=lambda m, **f: m.format(**f)) -> list[tuple[str, str]]:
    """Scalar fields of a status dict as (key, text) pairs; nested dicts/lists summarised."""
    out = []
    for k, v in (d or {}).items():
        if k in skip:
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items() if not isinstance(b, (dict, list)))
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v) if all(not isinstance(x, dict) for x in v) \
                else t("{n} items", n=len(v))
        out.append((str(k), "-" if v in ("", None) else str(v)))
    return out
