"""Decision: one thing the engine decided, returned by every engine call.

One class shared by the compiled and the interpreted engine builds, so decisions of both
compare equal field by field. core/decisions.pxd makes it a compiled extension type (setup.py
builds ``guardroom.core.decisions``; no garbage-collector tracking, a free list): the compiled
engine fills its fields directly, without a Python-level ``__init__`` call. Without the build
it is a plain class with ``__slots__``. See docs/developer/engine.md for the kinds and codes.
"""
try:
    import cython
except ImportError:  # Cython not installed: the plain-Python class
    from guardroom.core import _cython_shim as cython

FIELDS = (
    "kind", "t_ns", "area", "zone", "incident", "cid", "q", "verified", "silent", "drill",
    "user", "text", "output", "on", "state", "report",
)

KINDS = (
    "zone", "alarm", "restore", "verified", "trouble", "trouble_restore", "area", "bypass",
    "output", "fallback", "silence", "reset", "ack", "walktest", "drill", "refused", "test",
    "cancel", "recent_closing",
)


@cython.no_gc        # its fields are str, int and bool: never part of a reference cycle
@cython.freelist(256)
@cython.cclass
class Decision:
    """What the engine decided: a zone change, an alarm, an output order, a refusal...

    ``cid``/``q`` are the Contact ID event code and qualifier (1 new, 3 restore, 0 none);
    ``report`` says whether the event goes to the monitoring platform.
    """

    if not cython.compiled:
        __slots__ = FIELDS

    def __init__(self, kind, t_ns=0, area="", zone="", incident=0, cid=0, q=0, verified=False,
                 silent=False, drill=False, user="", text="", output="", on=False, state="",
                 report=False):
        self.kind = kind
        self.t_ns = t_ns
        self.area = area
        self.zone = zone
        self.incident = incident
        self.cid = cid
        self.q = q
        self.verified = verified
        self.silent = silent
        self.drill = drill
        self.user = user
        self.text = text
        self.output = output
        self.on = on
        self.state = state
        self.report = report

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in FIELDS}

    def __eq__(self, other):
        if not isinstance(other, Decision):
            return NotImplemented
        for f in FIELDS:
            if getattr(self, f) != getattr(other, f):
                return False
        return True

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __reduce__(self):
        return (Decision, tuple(getattr(self, f) for f in FIELDS))

    def __repr__(self):
        parts = [repr(self.kind), f"t_ns={self.t_ns}"]
        for f in FIELDS[2:]:
            v = getattr(self, f)
            if v not in ("", 0, False):
                parts.append(f"{f}={v!r}")
        return "Decision(" + ", ".join(parts) + ")"
