"""`guardroom check`: everything the daemon checks at start-up, without opening hardware or
connecting anywhere: the schema, cross-references, driver declarations, the engine's own
site validation. Every problem is reported at once (a schema error does not hide an unknown
point), a file that is not UTF-8 or not TOML is one clear problem, never a traceback.
``check_text`` is the same check on text (the console's staged edits use it)."""
from __future__ import annotations

import tomllib

from . import config as config_mod
from .errors import ConfigError
from .i18n import Msg, from_env, tr, translator
from .i18n import env_gettext as _
from .vocab import word
from .schema import Problems

_BAD_TYPES = (dict, list, str, int, float, bool, type(None))


def _scrub(v):
    """The validated config with values that failed their check replaced by None."""
    if isinstance(v, dict):
        return {k: _scrub(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_scrub(x) for x in v]
    return v if isinstance(v, _BAD_TYPES) else None


def check_text(text: str, source: str = "<config>") -> dict:
    """The validated config, or ConfigError with every problem the start-up would find."""
    from guardroom.core import Engine
    from guardroom.core.errors import SiteError
    from guardroom.drivers.base import SampleBuffer

    from .assembly import build_drivers

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError((source, Msg("not valid TOML: {e}", e=e))) from None
    problems = Problems()
    cfg = _scrub(config_mod._top_schema()._validate(raw, "", problems))
    schema_ok = not problems
    problems += config_mod.reference_problems(cfg)
    drivers = cfg.get("drivers") if isinstance(cfg.get("drivers"), dict) else {}
    asm = None
    try:
        asm = build_drivers({**cfg, "drivers": {k: v for k, v in drivers.items()
                                                if isinstance(v, dict)}}, SampleBuffer())
    except ConfigError as e:
        problems += list(e.problems)
    except Exception as e:  # noqa: BLE001 - a section the schema refused may upset a driver
        if schema_ok:
            problems.add("drivers", Msg("cannot be built: {e}", e=e))
    if asm is not None:
        problems += config_mod.site_problems(cfg, asm.points, asm.output_kinds(), asm.readers)
    if not problems:
        try:
            Engine(config_mod.site_for_engine(cfg, asm.points, asm.output_kinds()))
        except SiteError as e:
            problems.add("zones", str(e))
    if problems:
        seen, unique = set(), []
        for p in problems:
            if p not in seen:
                seen.add(p)
                unique.append(p)
        raise ConfigError(unique)
    return cfg


def check_config(path: str) -> str:
    cfg = check_text(config_mod.read_text(path), path)
    points = {z["point"] for z in cfg["zones"]}
    kinds = {}
    for z in cfg["zones"]:
        kinds[z["type"]] = kinds.get(z["type"], 0) + 1
    t = translator(from_env())
    summary = t(", ").join(f"{n} {word(k, t)}" for k, n in sorted(kinds.items()))
    from guardroom.drivers.base import SampleBuffer

    from .assembly import build_drivers

    asm = build_drivers(cfg, SampleBuffer())
    return _("{path}: OK\n  site {site}, controller {controller}\n"
             "  {areas} area(s), {zones} zone(s): {summary}\n"
             "  {points} point(s) ({used} used by zones), {outputs} output(s), drivers: "
             "{drivers}\n  {users} user(s)",
             path=path, site=cfg['site']['name'], controller=cfg['site']['controller'],
             areas=len(cfg['areas']), zones=len(cfg['zones']), summary=summary,
             points=len(asm.points.names()), used=len(points), outputs=len(asm.outputs),
             drivers=', '.join(cfg['drivers']) or t('none'), users=len(cfg['users'])) + "".join(
        "\n  " + _("warning: {w}", w=tr(w, t)) for w in security_warnings(cfg))


def security_warnings(cfg: dict) -> list[str]:
    """What is legal but unsafe: secrets or authority carried over plain TCP."""
    mq = cfg.get("mqtt") or {}
    out = []
    if not mq.get("tls"):
        if mq.get("password") or mq.get("password_file"):
            out.append(Msg("mqtt: the broker password is sent in clear (tls = false): anyone "
                           "on the network path can read it; enable tls"))
        if any(u.get("code_hash") or u.get("duress_hash") for u in cfg.get("users", [])):
            out.append(Msg("mqtt: code commands (Home Assistant, platform) carry user codes in "
                           "clear over plain TCP (tls = false); enable tls or use signed "
                           "commands"))
        if mq.get("cmd_hmac_key"):
            out.append(Msg("mqtt: signed commands and acks travel over plain TCP (tls = false): "
                           "the key stays secret but anyone on the path can read them; enable "
                           "tls"))
    if not mq.get("cmd_hmac_key"):
        out.append(Msg("mqtt: no cmd_hmac_key: every platform ack is refused, so every silent "
                       "alarm ends in its fallback siren; signed commands are refused"))
    return out
