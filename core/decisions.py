"""Decision: one thing the engine decided, returned by every engine call.

A plain Python class shared by the compiled and the interpreted engine builds, so decisions of
both compare equal field by field. See docs/developer/engine.md for the kinds and their codes.
"""

FIELDS = (
    "kind", "t_ns", "area", "zone", "incident", "cid", "q", "verified", "silent", "drill",
    "user", "text", "output", "on", "state", "report",
)

KINDS = (
    "zone", "alarm", "restore", "verified", "trouble", "trouble_restore", "area", "bypass",
    "output", "fallback", "silence", "reset", "ack", "walktest", "drill", "refused", "test",
    "cancel", "recent_closing",
)


class Decision:
    """What the engine decided: a zone change, an alarm, an output order, a refusal...

    ``cid``/``q`` are the Contact ID event code and qualifier (1 new, 3 restore, 0 none);
    ``report`` says whether the event goes to the monitoring platform.
    """

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
        return all(getattr(self, f) == getattr(other, f) for f in FIELDS)

    __hash__ = None

    def __repr__(self):
        parts = [repr(self.kind), f"t_ns={self.t_ns}"]
        for f in FIELDS[2:]:
            v = getattr(self, f)
            if v not in ("", 0, False):
                parts.append(f"{f}={v!r}")
        return "Decision(" + ", ".join(parts) + ")"
