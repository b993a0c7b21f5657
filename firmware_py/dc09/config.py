"""The ``[dc09]`` section: the second path, SIA DC-09 to an alarm receiving centre (ARC).
Absent = no second path. Bounds and defaults live here; the key is a secret (never logged,
hidden by ``config show``)."""
from __future__ import annotations

from ..schema import Bool, Choice, Float, Int, ListOf, MapOf, Name, Section, Str
from .payload import CLASSES

_HEX = "[0-9A-Fa-f]"
KEY_PATTERN = f"({_HEX}{{32}}|{_HEX}{{48}}|{_HEX}{{64}})?"

RECEIVER_SCHEMA = Section({
    "name": Name(doc="what the logs and troubles call this receiver"),
    "host": Str(max_len=253, doc="receiver host name or address"),
    "port": Int(min=1, max=65535, doc="receiver port"),
    "protocol": Choice(["tcp", "udp"], default="tcp"),
})


def _cross(sec: dict):
    names = [r.get("name") for r in sec.get("receivers") or [] if isinstance(r, dict)]
    for i, n in enumerate(names):
        if n in names[:i]:
            yield f"receivers[{i}].name", f"duplicate receiver {n!r}"
    if isinstance(sec.get("retry_s"), float) and isinstance(sec.get("retry_max_s"), float) \
            and sec["retry_max_s"] < sec["retry_s"]:
        yield "retry_max_s", "is below retry_s"


DC09_SCHEMA = Section({
    "account": Str(pattern=f"{_HEX}{{3,16}}", max_len=16,
                   doc="account number the ARC gave this site (3-16 hex digits)"),
    "receiver": Str(default="0", pattern=f"{_HEX}{{1,6}}|", max_len=6,
                    doc="receiver number (R field, hex); empty = not sent"),
    "line": Str(default="0", pattern=f"{_HEX}{{1,6}}", max_len=6,
                doc="account prefix / line number (L field, hex)"),
    "key": Str(default="", pattern=KEY_PATTERN, secret=True,
               doc="AES key as 32, 48 or 64 hex digits (AES-128/192/256); empty = no "
                   "encryption"),
    "receivers": ListOf(RECEIVER_SCHEMA, min_len=1, max_len=4,
                        doc="[[dc09.receivers]]: the primary first, then the backups"),
    "attempts": Int(default=3, min=1, max=20,
                    doc="failed attempts on one receiver before failing over to the next"),
    "ack_timeout_s": Float(default=5.0, min=0.2, max=60.0,
                           doc="wait this long for the receiver's ACK/NAK/DUH"),
    "retry_s": Float(default=0.5, min=0.05, max=60.0,
                     doc="pause after a failed attempt; doubles up to retry_max_s"),
    "retry_max_s": Float(default=5.0, min=0.05, max=600.0, doc="longest pause between attempts"),
    "poll_s": Int(default=60, min=2, max=86400,
                  doc="NULL supervision message after this long without contact (EN 50136 "
                      "reporting time: 60 fits T5 = 90 s with the default retries)"),
    "classes": ListOf(Choice(list(CLASSES)), default=lambda: ["alarm", "restore", "tamper"],
                      unique=True, doc="event classes sent to the ARC (the platform gets all)"),
    "format": Choice(["adm-cid", "sia-dcs"], default="adm-cid",
                     doc="payload: Contact ID (ADM-CID) or SIA codes (SIA-DCS); events without "
                         "a Contact ID code always go as SIA-DCS"),
    "sia_codes": MapOf(Str(pattern="[A-Z]{2}"), default=dict,
                       doc="SIA code overrides by qualifier+Contact ID code, e.g. "
                           "\"1120\" = \"PA\""),
    "receipt_acks": Bool(default=True,
                         doc="the ARC's ACK of an alarm acknowledges the incident: the local "
                             "fallback siren sounds only when no path delivered it"),
    "report_platform_path": Bool(default=True,
                                 doc="tell the ARC (CID 350, zone 1) when the MQTT platform "
                                     "path fails and returns"),
    "outbox": Str(default="outbox-dc09.sqlite",
                  doc="file name of this path's outbox in storage.dir"),
}, default=None, cross=lambda s: list(_cross(s)))
