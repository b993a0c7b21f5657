"""Words that come from data (zone types, zone and area states, access levels, output kinds),
marked for the catalog once, and ``word(w, t)`` to show one through a translator. The machine
value itself (``armed_away``) is never changed where it is data (events, config, MQTT)."""
from __future__ import annotations

from typing import Callable

from .i18n import N_

ZONE_TYPES = (N_("panic"), N_("duress"), N_("tamper"), N_("perimeter"), N_("entry_exit"),
              N_("interior"), N_("technical"), N_("keyswitch"), N_("fire"), N_("medical"),
              N_("audible_24h"), N_("technical_24h"))
ZONE_STATES = (N_("normal"), N_("active"), N_("tamper"), N_("fault"), N_("offline"))
AREA_STATES = (N_("disarmed"), N_("exit delay"), N_("armed away"), N_("armed stay"),
               N_("entry delay"), N_("alarm"))
LEVELS = (N_("anyone"), N_("user"), N_("installer"))
OUTPUT_KINDS = (N_("siren"), N_("strobe"), N_("buzzer"), N_("relay"))
OTHER = (N_("bypassed"), N_("latched"), N_("on"), N_("off"), N_("yes"), N_("no"),
         N_("none"), N_("all"), N_("enabled"), N_("DISABLED"), N_("code"), N_("duress code"),
         N_("OFFLINE"), N_("online"), N_("up"), N_("DOWN"), N_("never"), N_("parameter"),
         N_("point"), N_("output"), N_("manual"), N_("forced"))


def word(w, t: Callable[..., str], spaced: bool = False) -> str:
    """``w`` (a state, type, level...) through ``t``: ``armed_away`` is looked up as itself,
    then as ``armed away``. A word without a translation stays as it is (``spaced``: with
    its underscores shown as spaces)."""
    w = "" if w is None else str(w)
    if not w:
        return w
    got = t(w)
    if got != w:
        return got
    text = w.replace("_", " ")
    got = t(text) if text != w else w
    if got != text:
        return got
    return text if spaced else w
