"""SIA DC-09 framing: build a message, read the receiver's answer.

A frame is ``LF crc(4 hex) 0LLL body CR``; the CRC (CRC-16/ARC, from the ``crc`` package) and
the length (hex) cover the body: ``"ID"seq Rrcvr Lpref #acct[data]_HH:MM:SS,MM-DD-YYYY``.
With a key the ID gets a leading ``*`` and everything after ``[`` is AES-CBC encrypted (zero
IV, key of 128/192/256 bits, ``cryptography``) and sent as upper-case hex; the plain text is
``pad|data]_timestamp`` with random pad characters (never ``|``, ``[`` or ``]``) so that it
fills whole 16-byte blocks.

``parse_reply`` reads an ACK, NAK or DUH (plain or encrypted) and checks its CRC; an encrypted
reply that does not decrypt to a timestamp with our key is refused (it did not come from a
receiver that knows the key).
"""
from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from crc import Calculator, Crc16
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_CRC = Calculator(Crc16.IBM)          # CRC-16/ARC: poly 0x8005 reflected, init 0 (check 0xBB3D)
_PAD_CHARS = string.ascii_letters + string.digits
_ZERO_IV = bytes(16)
TS_FORMAT = "%H:%M:%S,%m-%d-%Y"
_TS_RE = re.compile(r"_(\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4})")
_REPLY_RE = re.compile(r'^"(\*?)(ACK|NAK|DUH|RSP)"(\d{4})?([^\[]*)(?:\[(.*))?$', re.S)


def crc16(text: str) -> str:
    """CRC-16/ARC of ``text`` as 4 upper-case hex digits."""
    return f"{_CRC.checksum(text.encode('ascii')):04X}"


def timestamp(wall: float) -> str:
    """DC-09 time stamp (UTC) of a Unix time: ``_HH:MM:SS,MM-DD-YYYY``."""
    return "_" + datetime.fromtimestamp(wall, tz=timezone.utc).strftime(TS_FORMAT)


def parse_timestamp(text: str) -> Optional[float]:
    """The Unix time of the first DC-09 time stamp in ``text``, or None."""
    m = _TS_RE.search(text)
    if not m:
        return None
    try:
        dt = datetime.strptime(m.group(1), TS_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return dt.timestamp()


def _cipher(key: bytes):
    return Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV))


def encrypt(key: bytes, plain: str) -> str:
    """``pad|plain`` encrypted and hex-encoded (upper case)."""
    n = (-(len(plain) + 1)) % 16
    text = "".join(secrets.choice(_PAD_CHARS) for _ in range(n)) + "|" + plain
    enc = _cipher(key).encryptor()
    return (enc.update(text.encode("ascii")) + enc.finalize()).hex().upper()


def decrypt(key: bytes, hex_text: str) -> Optional[str]:
    """The plain text of hex-encoded AES-CBC data, or None if it is not that."""
    try:
        raw = bytes.fromhex(hex_text.strip())
    except ValueError:
        return None
    if not raw or len(raw) % 16:
        return None
    dec = _cipher(key).decryptor()
    return (dec.update(raw) + dec.finalize()).decode("ascii", "replace")


def build(msg_id: str, seq: int, account: str, data: str, wall: float, *, receiver: str = "",
          line: str = "0", key: Optional[bytes] = None) -> bytes:
    """One DC-09 frame. ``msg_id`` is ADM-CID, SIA-DCS or NULL; ``data`` goes between ``[``
    and ``]`` after the ``#acct|`` prefix (empty for NULL)."""
    rcv = f"R{receiver}" if receiver else ""
    head = f"{seq:04d}{rcv}L{line}#{account}["
    stamp = timestamp(wall)
    if key:
        body = f'"*{msg_id}"{head}{encrypt(key, data + "]" + stamp)}'
    else:
        inner = f"#{account}|{data}" if data else ""
        body = f'"{msg_id}"{head}{inner}]{stamp}'
    return f"\n{crc16(body)}{len(body):04X}{body}\r".encode("ascii")


@dataclass
class Reply:
    kind: str                       # ACK, NAK, DUH, RSP; "" when unreadable
    seq: Optional[int] = None
    encrypted: bool = False
    wall: Optional[float] = None    # the receiver's time stamp (Unix), if it sent one
    problem: str = ""               # why the reply is not usable


def parse_reply(raw: bytes, key: Optional[bytes] = None) -> Reply:
    """Read one reply. A CRC error, an encrypted reply we cannot decrypt (or a plain ACK when
    we encrypt) gives ``kind=""`` with the problem named."""
    text = raw.decode("ascii", "replace").strip("\r\n\x00 ")
    if not text:
        return Reply("", problem="empty reply")
    body = text
    if not text.startswith('"'):
        if len(text) < 9:
            return Reply("", problem=f"short reply {text!r}")
        crc, body = text[:4], text[8:]
        if crc.upper() != crc16(body):
            return Reply("", problem=f"CRC error in reply (sent {crc}, computed {crc16(body)})")
    m = _REPLY_RE.match(body)
    if not m:
        return Reply("", problem=f"not a DC-09 reply: {body[:60]!r}")
    star, kind, seq, _, rest = m.groups()
    rest = rest or ""
    seq_i = int(seq) if seq else None
    if star:
        if not key:
            return Reply("", seq_i, True, problem="encrypted reply but no key configured")
        plain = decrypt(key, rest.strip("]"))
        wall = parse_timestamp(plain) if plain else None
        if plain is None or wall is None:
            return Reply("", seq_i, True, problem="encrypted reply does not decrypt with our "
                                                  "key")
        return Reply(kind, seq_i, True, wall)
    if key and kind == "ACK":
        # A receiver that knows our key answers an encrypted message with an encrypted ACK.
        return Reply("", seq_i, False, problem="plain ACK to an encrypted message")
    return Reply(kind, seq_i, False, parse_timestamp(rest))
