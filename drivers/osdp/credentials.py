"""Card data and keypad digits into credential values.

Card reads arrive as raw bits (libosdp: ``data`` bytes, ``length`` in bits). Keypad digits
arrive one or a few at a time: ``PinCollector`` gathers them per reader until '#' (or a
pause), '*' clears. Neither ever logs what it sees."""
from __future__ import annotations

from typing import Callable, Optional

# OSDP keypad data is ASCII; readers send '*' as 0x7F and '#' as 0x0D (OSDP 2.2, osdp_KEYPAD),
# some send the printable characters.
_ENTER = {0x0D, ord("#")}
_CLEAR = {0x7F, ord("*")}
MAX_PIN = 16


class CardFormatError(ValueError):
    """Card data that does not fit the configured format (wrong length, bad parity)."""


def card_value(data: bytes, bits: Optional[int], fmt: str = "raw") -> str:
    """The credential value of one card read.

    ``raw``: the card's bits as one unsigned decimal number. ``h10301``: the 26-bit HID
    format (even parity, 8-bit facility, 16-bit card number, odd parity) as ``"fac:card"``."""
    if bits is None:  # ASCII / pre-formatted data
        text = bytes(data).decode("ascii", "replace").strip()
        if not text:
            raise CardFormatError("empty card data")
        return text
    nbytes = (bits + 7) // 8
    if bits <= 0 or len(data) < nbytes:
        raise CardFormatError(f"{len(data)} bytes cannot hold {bits} bits")
    n = int.from_bytes(bytes(data[:nbytes]), "big") >> (nbytes * 8 - bits)
    if fmt == "raw":
        return str(n)
    if fmt == "h10301":
        if bits != 26:
            raise CardFormatError(f"h10301 needs 26 bits, got {bits}")
        even_p, payload, odd_p = n >> 25, (n >> 1) & 0xFFFFFF, n & 1
        first12, last12 = payload >> 12, payload & 0xFFF
        if (bin(first12).count("1") + even_p) % 2 != 0 or \
                (bin(last12).count("1") + odd_p) % 2 != 1:
            raise CardFormatError("parity error")
        return f"{payload >> 16}:{payload & 0xFFFF}"
    raise CardFormatError(f"unknown card format {fmt!r}")


def h10301_bits(facility: int, card: int) -> int:
    """The 26-bit H10301 frame for ``facility`` (0-255) and ``card`` (0-65535), with parity
    (for the emulator and tests)."""
    payload = ((facility & 0xFF) << 16) | (card & 0xFFFF)
    even_p = bin(payload >> 12).count("1") % 2
    odd_p = 1 - bin(payload & 0xFFF).count("1") % 2
    return (even_p << 25) | (payload << 1) | odd_p


class PinCollector:
    """Keypad digits of one reader, collected into one PIN.

    ``feed(keys, t_ns)`` takes the bytes of one keypad event and returns the finished PIN
    when '#' ends it (or None). ``expire()`` returns the pending digits (the caller arms a
    timer of ``timeout_s`` after every key and calls it when the timer fires). '*' clears.
    More than ``MAX_PIN`` digits is not a PIN: they are dropped and counted."""

    def __init__(self, timeout_s: float = 5.0):
        self.timeout_s = timeout_s
        self._digits: list[str] = []
        self.t_ns = 0  # time of the first digit of the pending PIN
        self.overflows = 0

    @property
    def pending(self) -> int:
        return len(self._digits)

    def feed(self, keys: bytes, t_ns: int) -> list[tuple[int, str]]:
        """Returns ``[(t_ns, pin), ...]`` finished by this event (usually zero or one)."""
        done = []
        for k in bytes(keys):
            if k in _ENTER:
                if self._digits:
                    done.append((self.t_ns, "".join(self._digits)))
                self._digits.clear()
            elif k in _CLEAR:
                self._digits.clear()
            elif 0x30 <= k <= 0x39:
                if not self._digits:
                    self.t_ns = t_ns
                if len(self._digits) >= MAX_PIN:
                    self.overflows += 1
                    self._digits.clear()
                    continue
                self._digits.append(chr(k))
            # any other key (function keys) is ignored
        return done

    def expire(self) -> Optional[tuple[int, str]]:
        if not self._digits:
            return None
        pin = (self.t_ns, "".join(self._digits))
        self._digits.clear()
        return pin

    def clear(self) -> None:
        self._digits.clear()


PinSink = Callable[[int, str], None]
