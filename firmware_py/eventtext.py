"""Event texts in the site's language, built from an event's structured fields.

The engine writes English texts; for another language the daemon builds the text from the
machine fields (kind, Contact ID code and qualifier, zone, area, user) with catalog templates,
never by parsing the English. ``localize(ev, lang)`` sets ``text`` in ``lang`` and keeps the
English in ``text_en`` (English sites: the event is left as it is, no ``text_en``).
"""
from __future__ import annotations

from .i18n import N_, normalize, translator

#: Contact ID event codes (3 digits) -> their name (English msgid).
CODE_NAMES = {
    120: N_("Panic"), 121: N_("Duress"), 122: N_("Silent 24 hour"),
    123: N_("Audible 24 hour"), 129: N_("Panic verified"), 130: N_("Burglary"),
    131: N_("Perimeter"), 132: N_("Interior"), 134: N_("Entry/exit"),
    137: N_("Sabotage (zones went offline together)"), 139: N_("Burglary verified"),
    144: N_("Sensor tamper"), 147: N_("Sensor supervision failure"),
    300: N_("System trouble"), 301: N_("AC loss"), 302: N_("Low system battery"),
    321: N_("Output trouble"), 350: N_("Communication trouble"),
    354: N_("Failure to communicate"), 380: N_("Loop fault (short circuit)"),
    383: N_("Loop tamper (open circuit)"), 391: N_("Sensor watch (inactive sensor)"),
    401: N_("Open/close by user"), 406: N_("Silence / reset"),
    409: N_("Keyswitch open/close"), 422: N_("Access granted"), 441: N_("Armed stay"),
    461: N_("Wrong code entered too often"), 570: N_("Zone bypass"),
    601: N_("Manual test"), 607: N_("Walk test"),
    627: N_("Program mode entered"), 628: N_("Program mode left"),
}

#: (kind, qualifier) or kind -> head template (English msgid); {what} = the code's name.
HEADS = {
    "alarm": N_("Alarm: {what}"),
    "verified": N_("Alarm verified: {what}"),
    "restore": N_("Restored: {what}"),
    "trouble": N_("Trouble: {what}"),
    "trouble_restore": N_("Trouble cleared: {what}"),
    "fallback": N_("Local alarm (platform not reached): {what}"),
    ("bypass", 1): N_("Zone bypassed"),
    ("bypass", 3): N_("Zone back in service"),
    ("area", 1): N_("Disarmed"),
    ("area", 3): N_("Armed"),
    "area": N_("Area state changed"),
    "silence": N_("Sirens silenced"),
    "reset": N_("Incident reset"),
    ("drill", 1): N_("Drill started"),
    ("drill", 3): N_("Drill ended"),
    ("walktest", 1): N_("Walk test"),
    ("walktest", 3): N_("Walk test ended"),
    "test": N_("Test: {what}"),
    "ack": N_("Acknowledged by the platform"),
    "refused": N_("Command refused"),
    "command": N_("Command"),
    "access": N_("Access granted"),
    "system": N_("System"),
    "console": N_("Console: {what}"),
    "output": N_("Output changed"),
    "zone": N_("Zone state changed"),
}
GENERIC = N_("Event: {what}")
AREA_STATE = N_("Area: {what}")
PLACE_ZONE = N_("zone '{zone}'")
PLACE_AREA = N_("area '{area}'")
BY_USER = N_("by {user}")
#: Events without a Contact ID code (start-up, commands, refusals) say what only in their
#: English text: it follows, marked, so nothing is lost.
DETAIL = N_("(in English: {en})")


def _parse_cid(cid: str) -> tuple[int, int]:
    try:
        return int(cid[0]), int(cid[1:])
    except (ValueError, IndexError, TypeError):
        return 0, 0


def render(ev: dict, lang: str) -> str:
    """The text of ``ev`` in ``lang`` from its fields (kind, cid, zone, area, user)."""
    t = translator(lang)
    q, code = _parse_cid(str(ev.get("cid", "0000")))
    kind = str(ev.get("kind", ""))
    what = t(CODE_NAMES[code]) if code in CODE_NAMES else (f"{q}{code:03d}" if code else kind)
    head = HEADS.get((kind, q)) or HEADS.get(kind) or GENERIC
    state = str(ev.get("state") or "")
    if kind == "area" and not code and state:     # exit delay, entry delay, alarm
        head, what = AREA_STATE, t(state.replace("_", " "))
    parts = [t(head, what=what)]
    if ev.get("zone"):
        parts.append(t(PLACE_ZONE, zone=ev["zone"]))
    elif ev.get("area"):
        parts.append(t(PLACE_AREA, area=ev["area"]))
    if ev.get("user") and ev.get("user") != "system":
        parts.append(t(BY_USER, user=ev["user"]))
    text = t(N_(", ")).join(parts)
    if kind == "refused" and ev.get("text"):
        from .refusals import reason

        why = reason(str(ev["text"]), t)
        if why != ev["text"]:                     # a known refusal: said in full, no English
            return t(N_("Command refused: {why}"), why=why)
    if not code and ev.get("text") and not (kind == "area" and state):
        text += t(DETAIL, en=ev["text"])
    return text


def localize(ev: dict, lang: str) -> dict:
    """``ev`` with ``text`` in ``lang`` and the English in ``text_en`` (English: unchanged)."""
    if normalize(lang) == "en":
        return ev
    ev["text_en"] = ev.get("text", "")
    ev["text"] = render(ev, lang)
    return ev
