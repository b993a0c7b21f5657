"""The guardroom alarm engine: debounce, zones, areas, incidents, timers and siren policy.

One source, two builds: compiled by Cython in pure-Python mode (setup.py builds
``guardroom.core.engine``) and run as plain Python (``load_engine("interpreted")``). Both must
give identical decisions; tests/core runs every test against both.

The engine never reads a clock, never sleeps and does no I/O: time comes in with every call
(``time.monotonic_ns()`` integers). The contract and the semantics are in
docs/developer/engine.md.

Layout of the hot state (per zone number ``z``, C arrays in the compiled build):
``_acc`` accepted (debounced) value, ``_pend`` pending value or -1, ``_lst`` logical state
(after pulse counting), and one flat deadline table ``_dl`` indexed by timer number:

    [0, nz)           debounce acceptance of zone z
    [nz, 2nz)         offline grace of zone z
    [2nz, 3nz)        sensor watch of zone z
    [3nz, 4nz)        sabotage grace of zone z
    4nz + 5a + k      area a: k=0 entry/exit delay, 1 bell cut-off, 2 fallback, 3 siren test,
                      4 walk test timeout

Running timers are also kept in an indexed binary min-heap (``_hk``/``_hi``/``_hpos``):
starting, moving or stopping a timer is O(log n), the earliest is at the top, and ``_next``
is always its deadline. A sample costs a few comparisons unless a timer is due or the
accepted state changes.
"""
from __future__ import annotations

from array import array

try:
    import cython
except ImportError:  # Cython not installed: run interpreted on the tiny shim
    from guardroom.core import _cython_shim as cython

from guardroom.core import codes

if cython.compiled:  # the extension type's C fields (core/decisions.pxd), set without __init__
    from cython.cimports.guardroom.core.decisions import Decision
else:  # the same class, through a Python import
    from guardroom.core.decisions import Decision
from guardroom.core.errors import SnapshotError
from guardroom.core.site import S, Site

BUILD = "compiled" if cython.compiled else "interpreted"
SNAPSHOT_VERSION = 1

# sample values (the drivers' contract)
NORMAL = cython.declare(cython.int, 0)
ACTIVE = cython.declare(cython.int, 1)
TAMPER = cython.declare(cython.int, 2)
FAULT = cython.declare(cython.int, 3)
OFFLINE = cython.declare(cython.int, 4)
# zone types, in site.ZONE_TYPES order
T_PANIC = cython.declare(cython.int, 0)
T_DURESS = cython.declare(cython.int, 1)
T_TAMPER = cython.declare(cython.int, 2)
T_PERIMETER = cython.declare(cython.int, 3)
T_ENTRY = cython.declare(cython.int, 4)
T_INTERIOR = cython.declare(cython.int, 5)
T_TECHNICAL = cython.declare(cython.int, 6)
T_KEYSWITCH = cython.declare(cython.int, 7)
T_FIRE = cython.declare(cython.int, 8)        # 24 h, audible, own cadence (output state "fire")
T_MEDICAL = cython.declare(cython.int, 9)     # 24 h, silent
T_AUDIBLE24 = cython.declare(cython.int, 10)  # 24 h, audible
T_TECH24 = cython.declare(cython.int, 11)     # 24 h technical alarm, its own code
# area states and arming modes
DISARMED = cython.declare(cython.int, 0)
EXIT = cython.declare(cython.int, 1)
AWAY = cython.declare(cython.int, 2)
STAY = cython.declare(cython.int, 3)
ENTRY = cython.declare(cython.int, 4)
ALARM = cython.declare(cython.int, 5)
M_OFF = cython.declare(cython.int, 0)
M_AWAY = cython.declare(cython.int, 1)
M_STAY = cython.declare(cython.int, 2)
# area timers
K_DELAY = cython.declare(cython.int, 0)
K_BELL = cython.declare(cython.int, 1)
K_FALLBACK = cython.declare(cython.int, 2)
K_TEST = cython.declare(cython.int, 3)
K_WALK = cython.declare(cython.int, 4)
NK = cython.declare(cython.int, 5)      # timers per area
# output roles in an area (site.out_members)
ROLE_SIREN = cython.declare(cython.int, 0)
ROLE_STROBE = cython.declare(cython.int, 1)
ROLE_BUZZER = cython.declare(cython.int, 2)
# fallback state of an incident
FB_NONE = cython.declare(cython.int, 0)
FB_PENDING = cython.declare(cython.int, 1)
FB_FIRED = cython.declare(cython.int, 2)
FB_CANCELLED = cython.declare(cython.int, 3)
# the local signal of a silent hold-up's fallback (site.HOLDUP_FALLBACKS order)
FBP_SIREN = cython.declare(cython.int, 0)
FBP_STROBE = cython.declare(cython.int, 1)
FBP_BUZZER = cython.declare(cython.int, 2)
FBP_NONE = cython.declare(cython.int, 3)
FALLBACK_POLICY_TEXT = ("sounded locally", "shown on the strobes only",
                        "sounded on the guard-room buzzers only", "not signalled locally (policy)")
# why a zone is bypassed (0: it is not), BYPASS_NAMES order
BY_NONE = cython.declare(cython.int, 0)
BY_MANUAL = cython.declare(cython.int, 1)
BY_FORCED = cython.declare(cython.int, 2)
BY_SWINGER = cython.declare(cython.int, 3)
BYPASS_NAMES = ("", "manual", "forced", "swinger")
# why a zone counts as triggered
WHY_ACTIVE = cython.declare(cython.int, 0)
WHY_OFFLINE = cython.declare(cython.int, 1)
WHY_SHORT = cython.declare(cython.int, 2)

INF = cython.declare(cython.longlong, 4611686018427387904)  # 2**62: "no deadline"
TMAX = cython.declare(cython.longlong, 2305843009213693952)  # 2**61: no time at or above

STATE_NAMES = ("normal", "active", "tamper", "fault", "offline")
AREA_STATE_NAMES = ("disarmed", "exit_delay", "armed_away", "armed_stay", "entry_delay", "alarm")
MODE_NAMES = ("", "away", "stay")
FALLBACK_NAMES = ("none", "pending", "fired", "cancelled")
TYPE_CID = (codes.PANIC, codes.DURESS, codes.SENSOR_TAMPER, codes.PERIMETER, codes.ENTRY_EXIT,
            codes.INTERIOR, codes.TECHNICAL, 0, codes.FIRE, codes.MEDICAL, codes.AUDIBLE_24H,
            codes.NON_BURGLARY_24H)
ALARM_TEXT = (
    "Panic button '{}' pressed",
    "Duress alarm from '{}'",
    "Tamper switch '{}' opened",
    "Perimeter zone '{}' triggered",
    "Entry/exit zone '{}' opened",
    "Interior detector '{}' triggered",
    "Technical zone '{}' in trouble",
    "Keyswitch '{}' turned",
    "Fire alarm from '{}'",
    "Medical alarm from '{}'",
    "24 h zone '{}' triggered",
    "24 h technical alarm from '{}'",
)
COMMANDS = ("arm_away", "arm_stay", "disarm", "bypass", "unbypass", "reset", "silence",
            "drill_start", "drill_stop", "walktest_start", "walktest_stop", "siren_test",
            "duress", "panic")
MAX_TEST_S = 3600


class Incident:
    """One open incident of an area: every zone that alarms until reset."""

    __slots__ = ("id", "area", "zones", "silent", "has_silent", "verified", "acked", "holdup",
                 "fallback", "drill", "fire")

    def __init__(self, ident, area, drill):
        self.id = ident
        self.area = area
        self.zones = []          # zone names in order of their first alarm
        self.silent = True       # no audible alarm so far
        self.has_silent = False  # at least one silent alarm
        self.verified = False
        self.acked = False
        self.holdup = False      # a panic or duress alarm is part of it
        self.fallback = 0        # FB_* state
        self.drill = drill
        self.fire = False        # a fire alarm is part of it: sirens use the fire cadence

    def as_dict(self, area_name):
        return {"id": self.id, "area": area_name, "zones": list(self.zones),
                "silent": self.silent, "has_silent": self.has_silent,
                "verified": self.verified, "acked": self.acked, "holdup": self.holdup,
                "fallback": FALLBACK_NAMES[self.fallback], "drill": self.drill,
                "fire": self.fire}


@cython.final
@cython.cclass
class Engine:
    """The alarm engine of one controller, built from the validated site description."""

    # ---- hot state (C in the compiled build) ----
    _now: cython.longlong
    _next: cython.longlong
    _nz: cython.Py_ssize_t
    _na: cython.Py_ssize_t
    _np: cython.Py_ssize_t
    _nt: cython.Py_ssize_t
    _started: cython.bint
    _uplink: cython.bint
    _n_samples: cython.longlong
    _n_glitches: cython.longlong
    _n_alarms: cython.longlong
    _n_decisions: cython.longlong
    _n_refused: cython.longlong    # samples stamped outside the plausible window
    _n_late: cython.longlong       # samples older than the last one of their point
    _ahead_ns: cython.longlong
    _behind_ns: cython.longlong
    _ref: cython.longlong          # the caller's clock for this call (-1: none)
    _next_inc: cython.longlong
    _ptz: cython.int[::1]
    _inv: cython.int[::1]
    _acc: cython.int[::1]
    _seen: cython.int[::1]   # per zone: 1 once it reported anything but OFFLINE since start
    _pend: cython.int[::1]
    _lst: cython.int[::1]
    _zclk: cython.int[::1]   # per zone: a clock (time/date inaccurate) trouble is open
    _tlast: cython.longlong[::1]  # per zone: time of the last sample taken
    _ztype: cython.int[::1]        # per zone: its type (T_*)
    _zarea: cython.int[::1]        # per zone: its area
    _zpulse_n: cython.int[::1]     # per zone: activations that make one (pulse counting)
    _zwatch_ns: cython.longlong[::1]  # per zone: sensor watch period (0: off)
    _zpulse_ns: cython.longlong[::1]  # per zone: pulse counting window
    _zsilent: cython.int[::1]      # per zone: -1 type default, 0 audible, 1 silent
    _zcid: cython.int[::1]         # per zone: its own alarm code (0: the type's)
    _zmomentary: cython.int[::1]   # per zone: a momentary keyswitch
    _afinal: cython.int[::1]       # per area: exit ended by closing the final door
    _dact: cython.longlong[::1]
    _drest: cython.longlong[::1]
    _dl: cython.longlong[::1]
    _hk: cython.longlong[::1]
    _hi: cython.int[::1]
    _hpos: cython.int[::1]
    _hn: cython.Py_ssize_t
    # ---- the rest (Python objects) ----
    _site: object
    _out: list
    _znames: list      # zone names (Decision fields)
    _anames: list      # area names
    _ztexts: list      # zone-decision texts, formatted once: [25 * z + 5 * old + new]
    _user: object
    _bypass: cython.int[::1]    # per zone: why it is bypassed (BY_*, 0 not bypassed)    # per zone: "" or why ("manual", "forced", "swinger")
    _latched: cython.int[::1]   # per zone: hold-up latched until reset
    _zalarm: cython.int[::1]    # per zone: cid of the alarm its current condition raised (0 none)
    _zinc: cython.longlong[::1]  # per zone: incident id of that alarm
    _zdefer: cython.int[::1]    # per zone: hold-up alarm code whose restore waits for the reset
    _ztrouble: cython.int[::1]  # per zone: cid of the trouble its current condition raised (0 none)
    _zwatch: cython.int[::1]    # per zone: sensor-watch trouble raised
    _zswing: cython.int[::1]    # per zone: alarms in this armed period (swinger shutdown)
    _zpulses: object   # per zone: times of accepted activations (pulse counting)
    _astate: cython.int[::1]    # per area: its state (DISARMED...ALARM)
    _amode: cython.int[::1]     # per area: its arming mode (M_*)
    _aby: object       # who armed
    _adrill: cython.int[::1]
    _awalk: cython.int[::1]
    _awalked: object   # zone names tripped since walk test start
    _awscope: object   # zone numbers the running walk test covers
    _asiren: cython.int[::1]    # sirens wanted by an alarm / fallback
    _astrobe: cython.int[::1]   # strobes wanted (until reset)
    _atest: cython.int[::1]     # siren test running
    _afb: cython.int[::1]       # sirens on only because of a fallback (ack turns them off)
    _aentry: cython.int[::1]    # zone that started the entry delay, or -1
    _ainc: object      # open Incident or None
    _anoconf: cython.int[::1]   # per area: confirmation disabled for this entry (BS 8243)
    _aexiterr: cython.int[::1]  # per area: the running entry delay is an exit error
    _abells: cython.int[::1]    # per area: siren soundings in this armed period
    _abell_used: cython.longlong[::1]  # per area: ns of siren sounding in this armed period
    _abell_t0: cython.longlong[::1]  # per area: when the current sounding started
    _aarmed_t: cython.longlong[::1]  # per area: when the exit time ended (-1: not armed)
    _aintr_t: cython.longlong[::1]   # per area: first intruder alarm of this armed period (-1: none)
    _arecent: cython.int[::1]   # per area: recent closing (459) reported in this armed period
    _abuzz: cython.int[::1]     # per area: buzzers on by a hold-up fallback (policy "buzzer")
    _outs: object      # output name -> on
    _ghist: object     # per group: {zone: time of its last alarm}
    _sab: object       # {zone: time it went offline} inside the sabotage window

    def __init__(self, site: dict):
        s = Site(site)
        self._site = s
        nz = len(s.zone_names)
        na = len(s.area_names)
        self._nz = nz
        self._na = na
        self._np = s.n_points
        self._nt = 4 * nz + NK * na
        ptz = array("i", [-1]) * max(s.n_points, 1)
        for z in range(nz):
            ptz[s.z_point[z]] = z
        self._ptz = ptz
        self._inv = array("i", [1 if x else 0 for x in s.z_invert] or [0])
        self._ahead_ns = s.max_ahead_ns
        self._behind_ns = s.max_behind_ns
        self._ref = -1
        self._znames = list(s.zone_names)
        self._anames = list(s.area_names)
        self._ztexts = [None] * (25 * nz)
        self._ztype = array("i", s.z_type or [0])
        self._zarea = array("i", s.z_area or [0])
        self._zpulse_n = array("i", s.z_pulses or [0])
        self._zwatch_ns = array("q", s.z_watch_ns or [0])
        self._zpulse_ns = array("q", s.z_pulse_ns or [0])
        self._zsilent = array("i", s.z_silent or [0])
        self._zcid = array("i", s.z_cid or [0])
        self._zmomentary = array("i", [1 if x else 0 for x in s.z_momentary] or [0])
        self._afinal = array("i", [1 if x else 0 for x in s.a_final_door] or [0])
        self._dact = array("q", s.z_act_ns or [0])
        self._drest = array("q", s.z_rest_ns or [0])
        self._init_state()

    def _init_state(self):
        s = self._site
        nz = self._nz
        na = self._na
        n = max(nz, 1)
        nna = max(na, 1)
        self._acc = array("i", [NORMAL]) * n
        self._seen = array("i", [0]) * n
        self._pend = array("i", [-1]) * n
        self._lst = array("i", [NORMAL]) * n
        self._zclk = array("i", [0]) * n
        self._tlast = array("q", [0]) * n
        self._dl = array("q", [INF]) * max(self._nt, 1)
        self._hk = array("q", [INF]) * max(self._nt, 1)
        self._hi = array("i", [0]) * max(self._nt, 1)
        self._hpos = array("i", [-1]) * max(self._nt, 1)
        self._hn = 0
        self._now = 0
        self._next = INF
        self._started = False
        self._uplink = True
        self._n_samples = 0
        self._n_glitches = 0
        self._n_alarms = 0
        self._n_decisions = 0
        self._n_refused = 0
        self._n_late = 0
        self._next_inc = 1
        self._out = []
        self._user = ""
        self._bypass = array("i", [BY_NONE]) * n
        self._latched = array("i", [0]) * n
        self._zalarm = array("i", [0]) * n
        self._zinc = array("q", [0]) * n
        self._zdefer = array("i", [0]) * n
        self._ztrouble = array("i", [0]) * n
        self._zwatch = array("i", [0]) * n
        self._zswing = array("i", [0]) * n
        self._zpulses = [[] for _ in range(nz)]
        self._astate = array("i", [DISARMED]) * max(na, 1)
        self._amode = array("i", [M_OFF]) * max(na, 1)
        self._aby = [""] * na
        self._adrill = array("i", [0]) * nna
        self._awalk = array("i", [0]) * nna
        self._awalked = [[] for _ in range(na)]
        self._awscope = [[] for _ in range(na)]
        self._asiren = array("i", [0]) * nna
        self._astrobe = array("i", [0]) * nna
        self._atest = array("i", [0]) * nna
        self._afb = array("i", [0]) * nna
        self._aentry = array("i", [-1]) * nna
        self._ainc = [None] * na
        self._anoconf = array("i", [0]) * nna
        self._aexiterr = array("i", [0]) * nna
        self._abells = array("i", [0]) * nna
        self._abell_used = array("q", [0]) * nna
        self._abell_t0 = array("q", [0]) * nna
        self._aarmed_t = array("q", [-1]) * nna
        self._aintr_t = array("q", [-1]) * nna
        self._arecent = array("i", [0]) * nna
        self._abuzz = array("i", [0]) * nna
        self._outs = {name: False for name in s.output_names}
        self._ghist = [{} for _ in s.group_names]
        self._sab = {}

    # ------------------------------------------------------------------ hot path

    @cython.cfunc
    @cython.exceptval(-1)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _step(self, t: cython.longlong, p: cython.longlong, v: cython.longlong) -> cython.int:
        """One sample: check its time, fire due timers, then debounce. Returns 0 (-1 on an
        exception)."""
        z: cython.int = -1
        d: cython.longlong
        base: cython.longlong = self._now
        if self._ref > base:
            base = self._ref
        self._n_samples += 1
        if 0 <= p < self._np and 0 <= v <= 4:
            z = self._ptz[p]
        # The time contract: a sample stamped far from the engine's clock (a wall-clock stamp,
        # a corrupt value) is refused, counted and reported, never allowed to move time.
        if t < 0 or t >= TMAX or t - base > self._ahead_ns or base - t > self._behind_ns:
            self._n_refused += 1
            if z >= 0 and not self._zclk[z]:
                self._clock_trouble(z, t)
            return 0
        if z >= 0:
            if t < self._tlast[z]:      # older than the last sample of its point: stale
                self._n_late += 1
                return 0
            self._tlast[z] = t
        if t < self._now:
            t = self._now
        if t >= self._next:
            self._fire_until(t)
        self._now = t
        if z < 0:
            return 0
        if self._zclk[z]:
            self._clock_restore(z)
        if v <= 1 and self._inv[z]:
            v = 1 - v
        if v != OFFLINE:
            self._seen[z] = 1
        if v == self._acc[z]:
            if self._pend[z] >= 0:      # a glitch ended before its debounce: forget it
                self._pend[z] = -1
                self._set_timer(z, INF)
                self._n_glitches += 1
            return 0
        if v == self._pend[z]:
            return 0
        if v == OFFLINE:                # the driver already waited: accept at once
            self._pend[z] = -1
            self._set_timer(z, INF)
            self._accept(z, v)
            return 0
        if v == NORMAL:
            d = self._drest[z]
        else:
            d = self._dact[z]
        if d <= 0:
            self._pend[z] = -1
            self._set_timer(z, INF)
            self._accept(z, v)
            return 0
        self._pend[z] = v
        self._set_timer(z, t + d)
        return 0

    # ---- the timer heap: an indexed binary min-heap of (deadline, timer index) ----
    # _hk[k] deadline and _hi[k] timer index at heap position k; _hpos[i] the heap position
    # of timer i (-1: not running). Ties go to the lower timer index, as the order of a scan
    # of the table would. _dl[i] mirrors each timer's deadline (INF: not running).

    @cython.cfunc
    @cython.inline
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hless(self, j: cython.Py_ssize_t, k: cython.Py_ssize_t) -> cython.bint:
        return self._hk[j] < self._hk[k] or (self._hk[j] == self._hk[k] and self._hi[j] < self._hi[k])

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hswap(self, j: cython.Py_ssize_t, k: cython.Py_ssize_t) -> cython.int:
        dk: cython.longlong = self._hk[j]
        ik: cython.int = self._hi[j]
        self._hk[j] = self._hk[k]
        self._hi[j] = self._hi[k]
        self._hk[k] = dk
        self._hi[k] = ik
        self._hpos[self._hi[j]] = j
        self._hpos[self._hi[k]] = k
        return 0

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hup(self, k: cython.Py_ssize_t) -> cython.int:
        parent: cython.Py_ssize_t
        while k > 0:
            parent = (k - 1) >> 1
            if not self._hless(k, parent):
                break
            self._hswap(k, parent)
            k = parent
        return 0

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hdown(self, k: cython.Py_ssize_t) -> cython.int:
        c: cython.Py_ssize_t
        n: cython.Py_ssize_t = self._hn
        while True:
            c = 2 * k + 1
            if c >= n:
                break
            if c + 1 < n and self._hless(c + 1, c):
                c += 1
            if not self._hless(c, k):
                break
            self._hswap(k, c)
            k = c
        return 0

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hpop(self) -> cython.int:
        """Remove the top of the heap."""
        last: cython.Py_ssize_t = self._hn - 1
        moved: cython.int
        self._hpos[self._hi[0]] = -1
        self._hn = last
        if last > 0:
            moved = self._hi[last]
            self._hk[0] = self._hk[last]
            self._hi[0] = moved
            self._hpos[moved] = 0
            self._hdown(0)
        return 0

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _set_timer(self, i: cython.Py_ssize_t, d: cython.longlong) -> cython.int:
        """Start, move or (d = INF) stop timer i. Stopping and moving later are lazy (O(1)):
        the heap entry keeps its earlier key until it reaches the top, where _top drops a
        stopped timer or sifts a moved one down to its real deadline (a heap key is never
        later than its timer's deadline); _next may therefore be early, never late. Moving
        earlier sifts up at once."""
        k: cython.Py_ssize_t
        self._dl[i] = d
        if d >= INF:
            return 0
        k = self._hpos[i]
        if k < 0:
            k = self._hn
            self._hn = k + 1
            self._hk[k] = d
            self._hi[k] = i
            self._hpos[i] = k
            self._hup(k)
        elif d < self._hk[k]:
            self._hk[k] = d
            self._hup(k)
        if d < self._next:
            self._next = d
        return 0

    @cython.cfunc
    @cython.exceptval(check=False)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _top(self) -> cython.longlong:
        """The earliest running deadline (INF: none), dropping stopped timers and sifting
        moved ones down to their deadline on the way."""
        d: cython.longlong
        while self._hn > 0:
            d = self._dl[self._hi[0]]
            if d == self._hk[0]:
                return d
            if d >= INF:
                self._hpop()
            else:
                self._hk[0] = d
                self._hdown(0)
        return INF

    @cython.cfunc
    @cython.exceptval(-1)
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _fire_until(self, t: cython.longlong) -> cython.int:
        """Fire, in time order, every timer due at or before t (ties: lower index first)."""
        i: cython.Py_ssize_t
        d: cython.longlong = self._top()
        while d <= t:
            i = self._hi[0]
            self._hpop()
            self._dl[i] = INF
            if d > self._now:
                self._now = d
            self._fire(i)
            d = self._top()
        self._next = d
        return 0

    # ------------------------------------------------------------------ public API

    def feed(self, t_ns, point, value, now_ns=-1) -> list:
        """One sample (t_ns, point, value); returns the decisions it caused. ``now_ns``: the
        caller's clock (monotonic ns), the reference of the time window; -1 = none."""
        out = []
        self._out = out
        self._user = ""
        self._set_ref(now_ns, t_ns)
        try:
            self._step(t_ns, point, value)
        finally:
            self._ref = -1
        return out

    def _set_ref(self, now_ns, first):
        ref = int(now_ns)
        if ref >= TMAX:
            raise ValueError(f"now_ns {ref} is not a monotonic_ns() time")
        if not self._started:
            if ref < 0:
                first = int(first)
                ref = first if 0 <= first < TMAX else self._now
            self._start(max(ref, self._now))
        self._ref = ref

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def feed_many(self, buf, now_ns=-1) -> list:
        """A flat int64 buffer [t0, p0, v0, t1, p1, v1, ...]: the same decisions as feed()
        called for each triple (with the same ``now_ns``), in one call."""
        view = _int64_view(buf)
        mv: cython.const[cython.longlong][::1] = view
        n: cython.Py_ssize_t = mv.shape[0]
        i: cython.Py_ssize_t
        if n % 3:
            raise ValueError(f"feed_many: buffer length {n} is not a multiple of 3")
        out = []
        self._out = out
        self._user = ""
        if n:
            self._set_ref(now_ns, mv[0])
        try:
            for i in range(0, n, 3):
                self._step(mv[i], mv[i + 1], mv[i + 2])
        finally:
            self._ref = -1
        return out

    def advance(self, t_ns) -> list:
        """Fire every timer due at or before t_ns."""
        return self._begin(t_ns, "")

    def next_deadline(self) -> int:
        """ns time of the next due timer, or -1 when none runs."""
        d = self._top()
        self._next = d
        return -1 if d >= INF else d

    def uplink(self, t_ns, up) -> list:
        """The relay's view of the platform link; going down falls back un-acked silent
        incidents to the local siren at once."""
        out = self._begin(t_ns, "")
        up = bool(up)
        if up != self._uplink:
            self._uplink = up
            if not up:
                for a in range(self._na):
                    inc = self._ainc[a]
                    if (inc is not None and inc.has_silent and not inc.acked
                            and (inc.fallback == FB_NONE or inc.fallback == FB_PENDING)
                            and not self._asiren[a]):
                        self._fallback(a, codes.COMM_TROUBLE, "uplink down")
        return out

    def ack(self, t_ns, incident, user="platform") -> list:
        """The platform acknowledged an incident: cancels its pending fallback and turns off a
        siren the fallback started. A repeated ack decides nothing."""
        out = self._begin(t_ns, user)
        for a in range(self._na):
            inc = self._ainc[a]
            if inc is not None and inc.id == incident:
                break
        else:
            self._refuse(-1, -1, f"unknown or closed incident {incident}")
            self._user = ""
            return out
        if not inc.acked:
            inc.acked = True
            if inc.fallback == FB_PENDING:
                inc.fallback = FB_CANCELLED
                self._set_timer(self._ti(a, K_FALLBACK), INF)
            self._emit_inc("ack", a, -1, 0, 0, False, f"Incident {inc.id} acknowledged by {user}")
            if self._asiren[a] and self._afb[a]:
                self._siren_off(a)
                self._outputs(a)
            if self._abuzz[a]:
                self._abuzz[a] = False
                self._outputs(a)
        self._user = ""
        return out

    def command(self, t_ns, name, area="", zone="", user="", force=False, arg=0) -> list:
        """A command from a user (console, platform, keyswitch, card). See the docs for the
        names; a refused command returns a "refused" decision."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}")
        out = self._begin(t_ns, user)
        try:
            self._command(name, area, zone, bool(force), arg)
        finally:
            self._user = ""
        return out

    def point_zone(self, point):
        """Name of the zone that uses this point, or None."""
        if 0 <= point < self._np and self._ptz[point] >= 0:
            return self._znames[self._ptz[point]]
        return None

    def zone_names(self) -> list:
        return list(self._site.zone_names)

    def area_names(self) -> list:
        return list(self._site.area_names)

    @property
    def build(self):
        return BUILD

    # ------------------------------------------------------------------ call plumbing

    def _begin(self, t_ns, user):
        out = []
        self._out = out
        self._user = ""
        t = max(int(t_ns), self._now)
        if t >= TMAX:
            raise ValueError(f"t_ns {t_ns} is not a monotonic_ns() time (must be below 2**61)")
        if not self._started:
            self._start(t)
        if t >= self._next:
            self._fire_until(t)
        self._now = t
        self._user = user
        return out

    def _start(self, t):
        """First time seen: sensor-watch timers start counting from here."""
        self._started = True
        s = self._site
        for z in range(self._nz):
            if self._zwatch_ns[z] > 0:
                self._set_timer(2 * self._nz + z, t + self._zwatch_ns[z])

    @cython.cfunc
    @cython.inline
    @cython.exceptval(check=False)
    def _ti(self, a: cython.Py_ssize_t, k: cython.Py_ssize_t) -> cython.Py_ssize_t:
        return 4 * self._nz + NK * a + k

    @cython.cfunc
    def _fire(self, i: cython.Py_ssize_t):
        nz: cython.Py_ssize_t = self._nz
        v: cython.int
        j: cython.Py_ssize_t
        a: cython.Py_ssize_t
        k: cython.Py_ssize_t
        if i < nz:
            v = self._pend[i]
            self._pend[i] = -1
            if v >= 0:
                self._accept(i, v)
        elif i < 2 * nz:
            self._grace_expired(i - nz)
        elif i < 3 * nz:
            self._watch_expired(i - 2 * nz)
        elif i < 4 * nz:
            self._sabotage_count(i - 3 * nz)
        else:
            j = i - 4 * nz
            a = j // NK
            k = j % NK
            if k == K_DELAY:
                self._delay_expired(a)
            elif k == K_BELL:
                self._siren_off(a)
                self._outputs(a)
            elif k == K_FALLBACK:
                self._fallback_expired(a)
            elif k == K_WALK:
                self._walktest_timeout(a)
            else:
                self._atest[a] = False
                self._outputs(a)

    @cython.cfunc
    def _clock_trouble(self, z, t):
        s = self._site
        self._zclk[z] = 1
        self._emit("trouble", self._zarea[z], z, codes.TIME_INACCURATE, 1, True,
                   f"Sample of '{self._znames[z]}' stamped {t} ns, far from the engine's clock "
                   f"({self._now} ns): refused")

    @cython.cfunc
    def _clock_restore(self, z):
        s = self._site
        self._zclk[z] = 0
        self._emit("trouble_restore", self._zarea[z], z, codes.TIME_INACCURATE, 3, True,
                   f"'{self._znames[z]}' samples on time again")

    @cython.cfunc
    def _emit(self, kind, a: cython.int, z: cython.int, cid: cython.int, q: cython.int,
              report: cython.bint, text, incident: cython.longlong = 0) -> Decision:
        """Append one decision and return it; the caller sets ``state``, ``output``, ``on``,
        ``silent`` or ``user`` on it when they differ from the defaults. ``incident``: the
        incident it belongs to (0 none); its verified flag is copied while it is open. The
        compiled build fills the extension type's C fields: no Python-level __init__."""
        d: Decision = Decision.__new__(Decision)
        d.kind = kind
        d.t_ns = self._now
        d.area = ""
        d.zone = self._znames[z] if z >= 0 else ""
        d.incident = incident
        d.cid = cid
        d.q = q
        d.verified = False
        d.silent = False
        d.drill = False
        if a >= 0:
            d.area = self._anames[a]
            d.drill = self._adrill[a] != 0
            if incident:
                cur = self._ainc[a]
                if cur is not None and cur.id == incident:
                    d.verified = cur.verified
        d.user = self._user
        d.text = text
        d.output = ""
        d.on = False
        d.state = ""
        d.report = report
        self._n_decisions += 1
        self._out.append(d)
        return d

    @cython.cfunc
    def _emit_inc(self, kind, a: cython.int, z: cython.int, cid: cython.int, q: cython.int,
                  report: cython.bint, text) -> Decision:
        """_emit for a decision that belongs to area a's open incident (if any)."""
        cur = self._ainc[a] if a >= 0 else None
        return self._emit(kind, a, z, cid, q, report, text, cur.id if cur is not None else 0)

    @cython.cfunc
    def _change_text(self, z: cython.int, old: cython.int, new: cython.int):
        """The text of a zone decision, formatted once per zone and transition."""
        k: cython.Py_ssize_t = 25 * z + 5 * old + new
        t = self._ztexts[k]
        if t is None:
            t = f"'{self._znames[z]}' {STATE_NAMES[old]} -> {STATE_NAMES[new]}"
            self._ztexts[k] = t
        return t

    @cython.cfunc
    def _refuse(self, a, z, text):
        self._emit("refused", a, z, 0, 0, False, text)

    # ------------------------------------------------------------------ zones

    @cython.cfunc
    def _accept(self, z: cython.int, v: cython.int):
        """A debounced value change of zone z at self._now."""
        logical: cython.int
        n: cython.int
        old: cython.int
        now: cython.longlong
        self._acc[z] = v
        logical = v
        if v == ACTIVE:
            self._activity(z)
            n = self._zpulse_n[z]
            if n > 1:
                times = self._zpulses[z]
                now = self._now
                times.append(now)
                while times and now - times[0] > self._zpulse_ns[z]:
                    times.pop(0)
                if len(times) >= n:
                    times.clear()
                else:
                    logical = NORMAL
        old = self._lst[z]
        if logical != old:
            self._lst[z] = logical
            self._zone_change(z, old, logical)

    @cython.cfunc
    def _activity(self, z: cython.int):
        """An accepted activation: restores a sensor-watch trouble and restarts its timer."""
        if self._zwatch_ns[z] > 0:
            if self._zwatch[z]:
                self._zwatch[z] = False
                self._emit("trouble_restore", self._zarea[z], z, codes.SENSOR_WATCH, 3, True,
                           f"'{self._znames[z]}' active again")
            self._set_timer(2 * self._nz + z, self._now + self._zwatch_ns[z])

    @cython.cfunc
    def _zone_change(self, z: cython.int, old: cython.int, new: cython.int):
        a: cython.int
        cid: cython.int
        s = self._site
        a = self._zarea[z]
        name = self._znames[z]
        dec = self._emit("zone", a, z, 0, 0, False, self._change_text(z, old, new))
        dec.state = STATE_NAMES[new]
        if old == OFFLINE:
            self._set_timer(self._nz + z, INF)
            self._set_timer(3 * self._nz + z, INF)
        cid = self._zalarm[z]
        if cid:
            self._zalarm[z] = 0
            if (self._ztype[z] <= T_DURESS and self._latched[z] and cid != codes.LOOP_TAMPER
                    and self._ainc[a] is not None and self._ainc[a].id == self._zinc[z]):
                # a hold-up's restore (3120) is reported at reset, not at button release
                self._zdefer[z] = cid
            else:
                self._emit("restore", a, z, cid, 3, True, f"'{name}' back to normal", self._zinc[z])
                self._zinc[z] = 0
        cid = self._ztrouble[z]
        if cid:
            self._ztrouble[z] = 0
            text = f"'{name}' back online" if cid == codes.SUPERVISION else f"'{name}' trouble cleared"
            self._emit("trouble_restore", a, z, cid, 3, True, text)
        if new == NORMAL and self._bypass[z] == BY_FORCED:
            # a forced set inhibits an open zone only until it closes (EN 50131-1)
            self._bypass[z] = BY_NONE
            self._emit("bypass", a, z, codes.BYPASS, 3, True,
                       f"'{name}' closed: forced bypass ended, the zone is armed")
        if (self._ztype[z] == T_ENTRY and old == ACTIVE and new == NORMAL
                and self._astate[a] == EXIT and self._afinal[a] and not self._awalk[a]):
            self._set_timer(self._ti(a, K_DELAY), INF)   # BS 8243: closing the final door sets
            self._exit_ended(a)
        if (self._ztype[z] == T_KEYSWITCH and old == ACTIVE and new == NORMAL
                and not self._zmomentary[z] and not self._bypass[z] and not self._awalk[a]
                and self._astate[a] != DISARMED):
            self._by_keyswitch(a, False)
        if new == ACTIVE:
            self._activate(z)
        elif (new == TAMPER or new == FAULT) and self._walking(z) and self._ztype[z] > T_DURESS:
            # a walk test trips tamper switches and loops on purpose: 607, no incident
            self._walk_trip(a, z, f"loop {STATE_NAMES[new]}")
        elif new == TAMPER:
            hold = self._ztype[z] <= T_DURESS or self._zsilent[z] == 1
            self._alarm(a, z, codes.LOOP_TAMPER, hold or self._astate[a] == DISARMED,
                        f"Loop tamper (open circuit) on '{name}'", False, True, True)
        elif new == FAULT:
            self._ztrouble[z] = codes.LOOP_FAULT
            self._emit("trouble", a, z, codes.LOOP_FAULT, 1, True,
                       f"Loop fault (short circuit) on '{name}'")
            self._short(z)
        elif new == OFFLINE:
            self._went_offline(z)

    @cython.cfunc
    @cython.exceptval(-1)
    def _walking(self, z: cython.int) -> cython.bint:
        """Zone z is in the scope of its area's running walk test."""
        a: cython.int = self._zarea[z]
        return self._awalk[a] != 0 and z in self._awscope[a]

    @cython.cfunc
    def _walk_trip(self, a, z, what):
        name = self._znames[z]
        if name not in self._awalked[a]:
            self._awalked[a].append(name)
        self._emit("walktest", a, z, codes.WALK_TEST, 1, True, f"Walk test: '{name}' {what}")

    def walktest_scope(self, area) -> list:
        """The zones a walk test of this area covers (the one definition the console and
        the report use): every zone of the area not bypassed when it starts (while one runs:
        the zones it started with)."""
        a = self._site.area_index[area]
        return [self._znames[z] for z in self._scope_of(a)]

    def _scope_of(self, a):
        if self._awalk[a]:
            return list(self._awscope[a])
        return [z for z in self._site.a_zones[a] if not self._bypass[z]]

    @cython.cfunc
    def _short(self, z: cython.int):
        """GB 50394: a shorted loop alarms whether set or not. A 24 h zone (hold-up, tamper)
        alarms as its type; an intruder zone alarms at once when its area's state makes it
        count (an entry/exit zone without entry delay); disarmed, the 380 trouble is all."""
        s = self._site
        ty = self._ztype[z]
        a = self._zarea[z]
        if ty == T_TECHNICAL or ty == T_KEYSWITCH:
            return                      # technical, keyswitch: the trouble says it
        if self._walking(z) and ty > T_DURESS:
            return
        if ty <= T_TAMPER or ty >= T_FIRE:
            self._zone_alarm(z, WHY_SHORT)
        elif not self._bypass[z]:
            self._trigger(z, WHY_SHORT)

    @cython.cfunc
    def _activate(self, z: cython.int):
        ty: cython.int = self._ztype[z]
        a: cython.int = self._zarea[z]
        if self._walking(z):
            self._walk_trip(a, z, "tripped")
            if ty != T_PANIC and ty != T_DURESS:
                return      # a real hold-up is never suppressed by a walk test
        if ty == T_TECHNICAL:
            if not self._bypass[z]:
                cid = self._zcid[z] or codes.TECHNICAL
                self._ztrouble[z] = cid
                self._emit("trouble", a, z, cid, 1, True, ALARM_TEXT[ty].format(self._znames[z]))
            return
        if self._bypass[z]:
            return
        if ty == T_KEYSWITCH:
            if self._zmomentary[z] and self._astate[a] != DISARMED:
                self._by_keyswitch(a, False)
            elif self._astate[a] == DISARMED:
                self._by_keyswitch(a, True)
            return
        self._trigger(z, WHY_ACTIVE)

    @cython.cfunc
    def _trigger(self, z: cython.int, offline: cython.int):
        """Zone z counts as active (``offline`` WHY_ACTIVE), or offline past grace with
        offline_alarm (WHY_OFFLINE), or its loop is shorted (WHY_SHORT)."""
        ty: cython.int = self._ztype[z]
        a: cython.int = self._zarea[z]
        st: cython.int = self._astate[a]
        if ty <= T_TAMPER or ty >= T_FIRE:      # 24 h zones
            self._zone_alarm(z, offline)
        elif ty == T_PERIMETER:
            if st == AWAY or st == STAY or st == ENTRY or st == ALARM:
                self._zone_alarm(z, offline)
        elif ty == T_ENTRY:
            if st == ALARM or (offline and (st == AWAY or st == STAY)):
                self._zone_alarm(z, offline)
            elif st == AWAY or st == STAY:
                self._start_entry(z)
        elif ty == T_INTERIOR:
            if self._amode[a] == M_AWAY and (st == AWAY or st == ALARM):
                self._zone_alarm(z, offline)

    @cython.cfunc
    def _zone_silent(self, z: cython.int):
        s = self._site
        if self._zsilent[z] >= 0:
            return self._zsilent[z] == 1
        ty = self._ztype[z]
        if ty == T_PANIC or ty == T_DURESS or ty == T_MEDICAL or ty == T_TECH24:
            return True
        if ty == T_TAMPER:
            return self._astate[self._zarea[z]] == DISARMED
        return False

    @cython.cfunc
    def _zone_alarm(self, z: cython.int, offline: cython.int):
        s = self._site
        name = self._znames[z]
        if offline == WHY_OFFLINE:
            text = f"'{name}' offline for more than {s.z_grace_ns[z] // S} s"
        elif offline == WHY_SHORT:
            text = f"Loop short on {s.z_type_name[z]} zone '{name}'"
        else:
            text = ALARM_TEXT[self._ztype[z]].format(name)
        self._alarm(self._zarea[z], z, self._zcid[z] or TYPE_CID[self._ztype[z]], self._zone_silent(z),
                    text, self._ztype[z] <= T_DURESS, True, True)

    @cython.cfunc
    def _went_offline(self, z: cython.int):
        s = self._site
        if s.z_grace_ns[z] <= 0:
            self._grace_expired(z)
        else:
            self._set_timer(self._nz + z, self._now + s.z_grace_ns[z])
        if s.sab_count > 0 and self._seen[z]:
            # Only a zone that was online since start can *go* offline: a device still
            # silent at boot is a supervision trouble after its grace, not sabotage. A
            # dropout shorter than sabotage.grace_s does not count either.
            if s.sab_grace_ns > 0:
                self._set_timer(3 * self._nz + z, self._now + s.sab_grace_ns)
            else:
                self._sabotage_count(z)

    @cython.cfunc
    def _sabotage_count(self, z):
        s = self._site
        if self._lst[z] == OFFLINE:
            now = self._now
            sab = self._sab
            for k in [k for k, t in sab.items() if now - t > s.sab_window_ns]:
                del sab[k]
            sab.pop(z, None)
            sab[z] = now
            if len(sab) >= s.sab_count:
                sab.clear()
                a = self._zarea[z]
                self._alarm(a, z, codes.SABOTAGE, self._astate[a] == DISARMED,
                            f"Sabotage: {s.sab_count} zones went offline within "
                            f"{s.sab_window_ns // S} s", False, False, False)

    @cython.cfunc
    def _grace_expired(self, z):
        s = self._site
        if self._lst[z] != OFFLINE:
            return
        a = self._zarea[z]
        name = self._znames[z]
        self._ztrouble[z] = codes.SUPERVISION
        self._emit("trouble", a, z, codes.SUPERVISION, 1, True,
                   f"'{name}' offline for more than {s.z_grace_ns[z] // S} s")
        if s.z_offline_alarm[z] and not self._bypass[z]:
            if not self._awalk[a] or self._ztype[z] <= T_DURESS:
                if self._ztype[z] != T_TECHNICAL and self._ztype[z] != T_KEYSWITCH:
                    self._trigger(z, WHY_OFFLINE)

    @cython.cfunc
    def _watch_expired(self, z):
        s = self._site
        self._zwatch[z] = True
        self._emit("trouble", self._zarea[z], z, codes.SENSOR_WATCH, 1, True,
                   f"'{self._znames[z]}' not active for {self._zwatch_ns[z] // (86400 * S)} days")

    # ------------------------------------------------------------------ alarms

    @cython.cfunc
    def _alarm(self, a, z, cid, silent, text, holdup, condition, correlate):
        """Open or join the area's incident. ``condition``: the zone's current state raised it
        (a restore follows when the zone returns to normal); ``correlate``: counts for
        verification groups and swinger shutdown."""
        s = self._site
        inc = self._ainc[a]
        if inc is None:
            inc = Incident(self._next_inc, a, self._adrill[a] != 0)
            self._next_inc += 1
            self._ainc[a] = inc
        if z >= 0:
            name = self._znames[z]
            if name not in inc.zones:
                inc.zones.append(name)
            if holdup:
                self._latched[z] = True
            if condition:
                self._zalarm[z] = cid
                self._zinc[z] = inc.id
        # A duress alarm changes nothing the site sees (EN 50131-3): no siren, not even as a
        # fallback, no area state, no prevention of setting, a disarm like any other. The
        # person who used the duress code may be under threat. Only the platform hears of it.
        covert = cid == codes.DURESS
        if holdup and not covert:
            inc.holdup = True
        if z >= 0 and self._ztype[z] == T_FIRE:
            inc.fire = True
        if silent and not covert:
            inc.has_silent = True
        self._n_alarms += 1
        dec = self._emit_inc("alarm", a, z, cid, 1, True, text)
        dec.silent = silent
        if (z >= 0 and self._amode[a] != M_OFF and T_PERIMETER <= self._ztype[z] <= T_INTERIOR
                and cid != codes.LOOP_TAMPER):
            if self._aintr_t[a] < 0:
                self._aintr_t[a] = self._now          # starts the abort window
            t0 = self._aarmed_t[a]
            if (t0 >= 0 and not self._arecent[a] and s.a_recent_ns[a] > 0
                    and self._now - t0 <= s.a_recent_ns[a]):
                self._arecent[a] = True
                dec = self._emit_inc("recent_closing", a, z, codes.RECENT_CLOSING, 1, True,
                                     f"Alarm {(self._now - t0) // S} s after "
                                     f"'{self._anames[a]}' was set by {self._aby[a]}")
                dec.user = self._aby[a]
        if self._amode[a] != M_OFF and self._astate[a] != ALARM and not covert:
            self._set_timer(self._ti(a, K_DELAY), INF)
            self._aentry[a] = -1
            self._astate[a] = ALARM
            dec = self._emit_inc("area", a, z, 0, 0, False, f"Area '{self._anames[a]}' in alarm")
            dec.state = "alarm"
            self._outputs(a)
        if z >= 0 and correlate:
            self._verify(z)
            ty = self._ztype[z]
            limit = s.a_swinger[a]
            if T_TAMPER <= ty <= T_INTERIOR and limit > 0 and self._amode[a] != M_OFF:
                self._zswing[z] += 1
                if self._zswing[z] >= limit and not self._bypass[z]:
                    self._set_bypass(z, BY_SWINGER, f"swinger shutdown after {self._zswing[z]} trips")
        if not silent:
            inc.silent = False
            self._sound(a, False)
        elif not self._asiren[a] and not covert:
            if not self._uplink:
                self._fallback(a, codes.COMM_TROUBLE, "uplink down")
            elif not inc.acked and inc.fallback == FB_NONE and s.a_fallback_ns[a] > 0:
                inc.fallback = FB_PENDING
                self._set_timer(self._ti(a, K_FALLBACK), self._now + s.a_fallback_ns[a])
        return inc

    @cython.cfunc
    def _verify(self, z):
        """Sequential confirmation: a second distinct zone of a shared group within the
        group's window verifies the incident(s)."""
        s = self._site
        self._confirm(z, s.z_groups[z], self._zarea[z], self._ztype[z] <= T_DURESS, False)

    @cython.cfunc
    def _keypad_confirm(self, a, covert):
        """A keypad panic/duress counts for hold-up confirmation in every group that holds a
        hold-up zone of its area (its key in the group history: -1 - area)."""
        s = self._site
        groups = []
        for z in s.a_zones[a]:
            if self._ztype[z] <= T_DURESS:
                for g in s.z_groups[z]:
                    if g not in groups:
                        groups.append(g)
        self._confirm(-1 - a, groups, a, True, covert)

    def _key_name(self, k):
        if k >= 0:
            return self._znames[k]
        return "keypad:" + self._anames[-1 - k]

    def _key_area(self, k):
        return self._zarea[k] if k >= 0 else -1 - k

    @cython.cfunc
    def _confirm(self, key, groups, area, hold, covert):
        s = self._site
        now = self._now
        if self._anoconf[area] and not hold:
            return      # BS 8243: after the initial entry door opened, no confirmation
        for g in groups:
            hist = self._ghist[g]
            win = s.g_window_ns[g]
            for k in [k for k, t in hist.items() if now - t > win]:
                del hist[k]
            partner = key
            for k in hist:
                if k != key:
                    partner = k
                    break
            hist.pop(key, None)
            hist[key] = now
            if partner == key:
                continue
            phold = partner < 0 or self._ztype[partner] <= T_DURESS
            cid = codes.PANIC_VERIFIED if hold or phold else codes.BURGLARY_VERIFIED
            parea = self._key_area(partner)
            # each verified decision names a zone of its own area ("" for a keypad)
            pairs = [(area, key)]
            if parea != area:
                pairs.append((parea, partner))
            for a, k in pairs:
                inc = self._ainc[a]
                if inc is None or inc.verified:
                    continue
                inc.verified = True
                self._emit_inc("verified", a, k if k >= 0 else -1, cid, 1, True,
                               f"Incident {inc.id} verified: '{self._key_name(partner)}' then "
                               f"'{self._key_name(key)}' ({s.group_names[g]})")
                if s.g_siren[g] and not covert:
                    inc.silent = False
                    if inc.fallback == FB_PENDING:
                        inc.fallback = FB_CANCELLED
                        self._set_timer(self._ti(a, K_FALLBACK), INF)
                    self._sound(a, False)

    @cython.cfunc
    def _start_entry(self, z):
        s = self._site
        a = self._zarea[z]
        if s.a_entry_ns[a] <= 0:
            self._zone_alarm(z, WHY_ACTIVE)
            return
        self._astate[a] = ENTRY
        self._anoconf[a] = True   # BS 8243: the entry route cannot confirm this entry
        self._aentry[a] = z
        self._set_timer(self._ti(a, K_DELAY), self._now + s.a_entry_ns[a])
        # reported: a platform that hears of an entry and then nothing (neither unset nor
        # alarm) knows the panel was smashed during the entry delay (crash and smash)
        dec = self._emit("area", a, z, 0, 0, True, f"Entry delay started by '{self._znames[z]}'")
        dec.state = "entry_delay"
        self._outputs(a)

    @cython.cfunc
    def _delay_expired(self, a):
        s = self._site
        st = self._astate[a]
        if st == EXIT:
            self._exit_ended(a)
        elif st == ENTRY:
            z = self._aentry[a]
            self._aentry[a] = -1
            if self._aexiterr[a]:
                cid = codes.EXIT_ERROR
                text = f"Exit error: '{self._znames[z]}' open when the exit time ended, not unset"
            else:
                cid = self._zcid[z] or TYPE_CID[T_ENTRY]
                text = f"Entry delay expired: '{self._znames[z]}' not disarmed"
            self._alarm(a, z, cid, self._zone_silent(z), text, False,
                        self._lst[z] == ACTIVE and not self._zalarm[z], True)

    @cython.cfunc
    def _fallback_expired(self, a):
        inc = self._ainc[a]
        if inc is None or inc.acked or inc.fallback != FB_PENDING:
            return
        if self._asiren[a]:
            inc.fallback = FB_FIRED
            return
        self._fallback(a, codes.FAIL_TO_COMMUNICATE,
                       f"not acknowledged within {self._site.a_fallback_ns[a] // S} s")

    @cython.cfunc
    def _fallback(self, a, cid, why):
        inc = self._ainc[a]
        inc.fallback = FB_FIRED
        self._set_timer(self._ti(a, K_FALLBACK), INF)
        policy = self._site.a_holdup_fb[a] if inc.holdup else FBP_SIREN
        an = self._anames[a]
        self._emit_inc("fallback", a, -1, cid, 1, True,
                       f"Silent alarm in '{an}' {FALLBACK_POLICY_TEXT[policy]}: {why}")
        if policy == FBP_SIREN:
            self._sound(a, True)
        elif policy == FBP_STROBE:
            self._astrobe[a] = True
            self._outputs(a)
        elif policy == FBP_BUZZER:
            self._abuzz[a] = True
            self._outputs(a)

    # ------------------------------------------------------------------ outputs

    @cython.cfunc
    def _sound(self, a, by_fallback):
        s = self._site
        if not self._asiren[a]:
            bell = s.a_bell_ns[a]
            cap = s.a_bell_max_ns[a]
            if self._abells[a] > s.a_bell_rearms[a] or (cap > 0 and self._abell_used[a] >= cap):
                # re-sounds are capped per armed period: the strobe says it, the siren is done
                self._astrobe[a] = True
                self._outputs(a)
                return
            if cap > 0 and (bell <= 0 or cap - self._abell_used[a] < bell):
                bell = cap - self._abell_used[a]
            self._asiren[a] = True
            self._afb[a] = by_fallback
            self._abells[a] += 1
            self._abell_t0[a] = self._now
            if bell > 0:
                self._set_timer(self._ti(a, K_BELL), self._now + bell)
        elif not by_fallback:
            self._afb[a] = False
        self._astrobe[a] = True
        self._outputs(a)

    @cython.cfunc
    def _siren_off(self, a):
        if self._asiren[a]:
            self._abell_used[a] += self._now - self._abell_t0[a]
        self._asiren[a] = False
        self._afb[a] = False
        self._set_timer(self._ti(a, K_BELL), INF)

    @cython.cfunc
    def _outputs(self, a):
        """Order every output of area a whose wanted state changed (edge-only)."""
        s = self._site
        for name in s.a_outputs[a]:
            want = False
            for b, role in s.out_members[name]:
                if role == ROLE_SIREN:
                    want = self._asiren[b] != 0 or self._atest[b] != 0
                elif role == ROLE_STROBE:
                    want = self._astrobe[b] != 0 or self._atest[b] != 0
                else:  # buzzer: sounds while the exit or entry delay runs, or by fallback
                    want = (self._astate[b] == EXIT or self._astate[b] == ENTRY
                            or self._abuzz[b] != 0)
                if want:
                    break
            if want != self._outs[name]:
                self._outs[name] = want
                cadence = ""
                if want and s.output_kinds[name] == "siren":
                    for b, role in s.out_members[name]:
                        inc = self._ainc[b]
                        if role == ROLE_SIREN and self._asiren[b] and inc is not None and inc.fire:
                            cadence = "fire"      # temporal-3 for drivers that can pulse
                dec = self._emit_inc("output", a, -1, 0, 0, False,
                                     f"{s.output_kinds[name]} '{name}' {'on' if want else 'off'}")
                dec.state = cadence
                dec.output = name
                dec.on = want

    # ------------------------------------------------------------------ commands

    @cython.cfunc
    def _command(self, name, area, zone, force, arg):
        s = self._site
        if name == "siren_test" and not area and not zone:
            self._siren_test(list(range(self._na)), arg)
            return
        z = -1
        if zone:
            z = s.zone_index.get(zone, -1)
            if z < 0:
                self._refuse(-1, -1, f"unknown zone '{zone}'")
                return
            a = self._zarea[z]
            if area and area != self._anames[a]:
                self._refuse(-1, z, f"zone '{zone}' is not in area '{area}'")
                return
        elif area:
            a = s.area_index.get(area, -1)
            if a < 0:
                self._refuse(-1, -1, f"unknown area '{area}'")
                return
        elif self._na == 1:
            a = 0
        else:
            self._refuse(-1, -1, f"{name}: which area?")
            return
        if name in ("bypass", "unbypass"):
            if z < 0:
                self._refuse(a, -1, f"{name}: which zone?")
            elif name == "bypass":
                self._bypass_cmd(z)
            else:
                self._unbypass_cmd(z)
        elif name == "arm_away" or name == "arm_stay":
            self._arm(a, M_AWAY if name == "arm_away" else M_STAY, force)
        elif name == "disarm":
            self._disarm(a)
        elif name == "reset":
            self._reset(a)
        elif name == "silence":
            self._silence(a)
        elif name == "drill_start" or name == "drill_stop":
            self._drill(a, name == "drill_start")
        elif name == "walktest_start" or name == "walktest_stop":
            self._walktest(a, name == "walktest_start")
        elif name == "siren_test":
            self._siren_test([a], arg)
        else:  # duress / panic from a keypad or console
            who = f" by {self._user}" if self._user else ""
            if name == "duress":
                self._alarm(a, -1, codes.DURESS, True,
                            f"Duress code entered in '{self._anames[a]}'{who}", True, False, False)
            else:
                self._alarm(a, -1, codes.PANIC, True,
                            f"Panic key pressed in '{self._anames[a]}'{who}", True, False, False)
            self._keypad_confirm(a, name == "duress")

    @cython.cfunc
    def _by_keyswitch(self, a, arm):
        saved = self._user
        self._user = "keyswitch"
        if arm:
            self._arm(a, M_AWAY, False)
        else:
            self._disarm(a)
        self._user = saved

    @cython.cfunc
    def _arm(self, a, mode, force):
        s = self._site
        an = self._anames[a]
        if self._awalk[a]:
            self._refuse(a, -1, f"cannot arm '{an}': walk test running")
            return
        if self._astate[a] != DISARMED:
            self._refuse(a, -1, f"cannot arm '{an}': already {AREA_STATE_NAMES[self._astate[a]]}")
            return
        blocking = []
        prevent = self._prevention(a)
        for z in s.a_zones[a]:
            ty = self._ztype[z]
            if (not self._bypass[z] and self._lst[z] != NORMAL
                    and (ty == T_PERIMETER or ty == T_ENTRY or (ty == T_INTERIOR and mode == M_AWAY))):
                blocking.append(z)
        if (blocking or prevent) and not force:
            why = []
            if prevent:
                why.append("prevention of setting: " + ", ".join(prevent))
            if blocking:
                why.append("zones not ready: " + ", ".join(
                    f"{self._znames[z]} ({STATE_NAMES[self._lst[z]]})" for z in blocking))
            self._refuse(a, -1, f"cannot arm '{an}': {'; '.join(why)}")
            return
        for z in blocking:
            self._set_bypass(z, BY_FORCED, "auto-bypass on forced arm")
        self._new_period(a)
        self._amode[a] = mode
        self._aby[a] = self._user
        if s.a_exit_ns[a] > 0:
            self._astate[a] = EXIT
            self._set_timer(self._ti(a, K_DELAY), self._now + s.a_exit_ns[a])
            dec = self._emit("area", a, -1, 0, 0, False,
                             f"Exit delay started in '{an}' by {self._user}")
            dec.state = "exit_delay"
            self._outputs(a)
        else:
            self._armed(a)

    @cython.cfunc
    def _prevention(self, a):
        """EN 50131-1 prevention of setting: what stops area a from setting unless forced
        with authority (an un-reset hold-up incident, an active tamper, a fault)."""
        s = self._site
        found = []
        inc = self._ainc[a]
        if inc is not None and inc.holdup:
            found.append(f"hold-up incident {inc.id} not reset")
        for z in s.a_zones[a]:
            if self._bypass[z]:
                continue
            st = self._lst[z]
            ty = self._ztype[z]
            if st == TAMPER or (ty == T_TAMPER and st == ACTIVE):
                found.append(f"tamper on '{self._znames[z]}'")
            elif T_PERIMETER <= ty <= T_INTERIOR:
                continue                 # an intruder zone not at rest is "not ready"
            elif st == FAULT:
                found.append(f"fault (loop short) on '{self._znames[z]}'")
            elif self._ztrouble[z] == codes.SUPERVISION:
                found.append(f"'{self._znames[z]}' offline")
        return found

    @cython.cfunc
    def _new_period(self, a):
        """Each armed period starts clean: the previous incident is closed (reported), its
        alarms no longer confirm anything, swinger counts start again."""
        s = self._site
        inc = self._ainc[a]
        if inc is not None:
            self._deferred_restores(a, inc)
            self._emit_inc("reset", a, -1, codes.SILENCE_RESET, 3, True,
                           f"Incident {inc.id} in '{self._anames[a]}' closed: a new armed period "
                           f"starts ({self._user})")
            self._close_incident(a, inc)
        for z in s.a_zones[a]:
            self._zswing[z] = 0
            for g in s.z_groups[z]:
                self._ghist[g].pop(z, None)
        for hist in self._ghist:
            hist.pop(-1 - a, None)
        self._anoconf[a] = False
        self._aexiterr[a] = False
        self._aarmed_t[a] = -1
        self._aintr_t[a] = -1
        self._arecent[a] = False
        self._bell_period(a)

    @cython.cfunc
    def _bell_period(self, a):
        """The bell re-arm count and the sounding budget start again (arm, disarm)."""
        self._abells[a] = 1 if self._asiren[a] else 0
        self._abell_used[a] = 0
        self._abell_t0[a] = self._now

    @cython.cfunc
    def _deferred_restores(self, a, inc):
        s = self._site
        for name in inc.zones:
            z = s.zone_index.get(name, -1)
            if z >= 0 and self._zdefer[z]:
                self._emit("restore", a, z, self._zdefer[z], 3, True,
                           f"'{name}' restored at reset", inc.id)
                self._zdefer[z] = 0
                self._zinc[z] = 0

    @cython.cfunc
    def _close_incident(self, a, inc):
        s = self._site
        for name in inc.zones:
            z = s.zone_index.get(name, -1)
            if z < 0:
                continue
            self._latched[z] = False
            for g in s.z_groups[z]:      # a closed incident's alarms no longer confirm
                self._ghist[g].pop(z, None)
        if inc.holdup:
            for hist in self._ghist:
                hist.pop(-1 - a, None)
        self._set_timer(self._ti(a, K_FALLBACK), INF)
        self._siren_off(a)
        self._astrobe[a] = False
        self._abuzz[a] = False
        self._outputs(a)
        self._ainc[a] = None

    @cython.cfunc
    def _exit_ended(self, a):
        """The exit time is over: a zone still open is an exit fault (CID 374): an alarm
        (default) or, with exit_fault "fail_to_set", the area does not set."""
        s = self._site
        mode = self._amode[a]
        open_zones = []
        for z in s.a_zones[a]:
            ty = self._ztype[z]
            st = self._lst[z]
            if (not self._bypass[z] and st != NORMAL and st != TAMPER
                    and (ty == T_PERIMETER or ty == T_ENTRY or (ty == T_INTERIOR and mode == M_AWAY))):
                open_zones.append(z)
        if open_zones and s.a_fail_to_set[a]:
            names = ", ".join(f"{self._znames[z]} ({STATE_NAMES[self._lst[z]]})" for z in open_zones)
            self._set_timer(self._ti(a, K_DELAY), INF)
            self._astate[a] = DISARMED
            self._amode[a] = M_OFF
            dec = self._emit("area", a, open_zones[0], codes.EXIT_ERROR, 1, True,
                             f"Failed to set '{self._anames[a]}': open at the end of the exit "
                             f"time: {names}")
            dec.state = "disarmed"
            dec.user = self._aby[a]
            self._clear_bypasses(a)
            self._outputs(a)
            return
        self._armed(a, False)
        entry = False
        for z in open_zones:
            if self._ztype[z] == T_ENTRY and self._lst[z] == ACTIVE:
                if not entry and self._astate[a] != ALARM:
                    entry = True          # exit error: the entry delay gives a chance to unset
                    self._aexiterr[a] = True
                    self._start_entry(z)
                continue
            self._alarm(a, z, codes.EXIT_ERROR, self._zone_silent(z),
                        f"Exit error: '{self._znames[z]}' still open "
                        f"({STATE_NAMES[self._lst[z]]}) when the exit time ended",
                        False, True, True)
        self._outputs(a)

    @cython.cfunc
    def _armed(self, a, outputs=True):
        s = self._site
        mode = self._amode[a]
        user = self._aby[a]
        self._astate[a] = AWAY if mode == M_AWAY else STAY
        self._aarmed_t[a] = self._now
        if user == "keyswitch":
            cid = codes.KEYSWITCH_OPEN_CLOSE
        elif mode == M_STAY:
            cid = codes.ARMED_STAY
        else:
            cid = codes.OPEN_CLOSE
        dec = self._emit("area", a, -1, cid, 3, True,
                         f"Area '{self._anames[a]}' armed {MODE_NAMES[mode]} by {user}")
        dec.state = AREA_STATE_NAMES[self._astate[a]]
        dec.user = user
        if outputs:
            self._outputs(a)

    @cython.cfunc
    def _disarm(self, a):
        s = self._site
        an = self._anames[a]
        if self._astate[a] == DISARMED:
            self._refuse(a, -1, f"'{an}' is already disarmed")
            return
        inc = self._ainc[a]
        t0 = self._aintr_t[a]
        if (inc is not None and t0 >= 0 and s.a_abort_ns[a] > 0
                and self._now - t0 <= s.a_abort_ns[a]):
            # SIA CP-01 abort window: an intruder alarm disarmed soon enough is cancelled
            if inc.fallback == FB_PENDING:
                inc.fallback = FB_CANCELLED
                self._set_timer(self._ti(a, K_FALLBACK), INF)
            self._emit_inc("cancel", a, -1, codes.SILENCE_RESET, 1, True,
                           f"Alarm in '{an}' cancelled: disarmed by {self._user} "
                           f"{(self._now - t0) // S} s after it (abort window "
                           f"{s.a_abort_ns[a] // S} s)")
        self._aintr_t[a] = -1
        self._aarmed_t[a] = -1
        self._set_timer(self._ti(a, K_DELAY), INF)
        self._aentry[a] = -1
        self._astate[a] = DISARMED
        self._amode[a] = M_OFF
        cid = codes.KEYSWITCH_OPEN_CLOSE if self._user == "keyswitch" else codes.OPEN_CLOSE
        dec = self._emit("area", a, -1, cid, 1, True, f"Area '{an}' disarmed by {self._user}")
        dec.state = "disarmed"
        self._outputs(a)
        self._anoconf[a] = False
        self._aexiterr[a] = False
        self._clear_bypasses(a)
        inc = self._ainc[a]
        if self._asiren[a] and not (inc is not None and (inc.holdup or inc.fire)):
            self._siren_off(a)
            self._outputs(a)
        self._bell_period(a)

    @cython.cfunc
    def _clear_bypasses(self, a):
        s = self._site
        for z in s.a_zones[a]:
            self._zswing[z] = 0
            if self._bypass[z]:
                self._bypass[z] = BY_NONE
                self._emit("bypass", a, z, codes.BYPASS, 3, True, "bypass cleared on disarm")

    @cython.cfunc
    def _set_bypass(self, z, why: cython.int, text):
        self._bypass[z] = why
        self._emit("bypass", self._zarea[z], z, codes.BYPASS, 1, True, text)

    @cython.cfunc
    def _bypass_cmd(self, z):
        s = self._site
        name = self._znames[z]
        if self._ztype[z] <= T_DURESS:
            self._refuse(self._zarea[z], z, f"{s.z_type_name[z]} zone '{name}' cannot be bypassed")
        elif self._bypass[z]:
            self._refuse(self._zarea[z], z, f"'{name}' is already bypassed")
        else:
            self._set_bypass(z, BY_MANUAL, f"'{name}' bypassed by {self._user}")

    @cython.cfunc
    def _unbypass_cmd(self, z):
        s = self._site
        name = self._znames[z]
        if not self._bypass[z]:
            self._refuse(self._zarea[z], z, f"'{name}' is not bypassed")
            return
        self._bypass[z] = BY_NONE
        self._emit("bypass", self._zarea[z], z, codes.BYPASS, 3, True,
                   f"'{name}' back in service ({self._user})")

    @cython.cfunc
    def _reset(self, a):
        s = self._site
        an = self._anames[a]
        inc = self._ainc[a]
        if inc is None:
            self._refuse(a, -1, f"no open incident in '{an}'")
            return
        active = []
        for name in inc.zones:
            z = s.zone_index.get(name, -1)
            if z < 0:
                continue                # a zone no longer in the config cannot block a reset
            st = self._lst[z]
            if (st == ACTIVE or st == TAMPER) and not self._bypass[z]:
                active.append(f"{name} ({STATE_NAMES[st]})")
        if active:
            self._refuse(a, -1, f"cannot reset '{an}': still active: {', '.join(active)}")
            return
        self._deferred_restores(a, inc)
        self._emit_inc("reset", a, -1, codes.SILENCE_RESET, 3, True,
                       f"Incident {inc.id} in '{an}' reset by {self._user}")
        self._close_incident(a, inc)
        if self._astate[a] == ALARM:
            self._astate[a] = AWAY if self._amode[a] == M_AWAY else STAY
            dec = self._emit("area", a, -1, 0, 0, False,
                             f"Area '{an}' back to {AREA_STATE_NAMES[self._astate[a]]} after reset")
            dec.state = AREA_STATE_NAMES[self._astate[a]]

    @cython.cfunc
    def _silence(self, a):
        an = self._anames[a]
        inc = self._ainc[a]
        if inc is None and not self._asiren[a] and not self._atest[a]:
            self._refuse(a, -1, f"nothing to silence in '{an}'")
            return
        self._siren_off(a)
        self._atest[a] = False
        self._set_timer(self._ti(a, K_TEST), INF)
        if inc is not None and inc.fallback == FB_PENDING:
            inc.fallback = FB_CANCELLED
            self._set_timer(self._ti(a, K_FALLBACK), INF)
        self._emit_inc("silence", a, -1, codes.SILENCE_RESET, 1, True,
                       f"Sirens silenced in '{an}' by {self._user}")
        self._outputs(a)

    @cython.cfunc
    def _drill(self, a, start):
        an = self._anames[a]
        if start == self._adrill[a]:
            self._refuse(a, -1, f"drill {'already running' if start else 'not running'} in '{an}'")
            return
        if start:
            self._adrill[a] = True
            self._emit("drill", a, -1, 0, 1, True, f"Drill started in '{an}' by {self._user}")
        else:
            self._emit("drill", a, -1, 0, 3, True, f"Drill ended in '{an}' by {self._user}")
            self._adrill[a] = False

    @cython.cfunc
    def _walktest(self, a, start):
        s = self._site
        an = self._anames[a]
        if start:
            if self._awalk[a]:
                self._refuse(a, -1, f"walk test already running in '{an}'")
            elif self._astate[a] != DISARMED:
                self._refuse(a, -1, f"walk test needs '{an}' disarmed")
            else:
                self._awscope[a] = self._scope_of(a)
                self._awalk[a] = True
                self._awalked[a] = []
                if s.walktest_timeout_ns > 0:
                    self._set_timer(self._ti(a, K_WALK), self._now + s.walktest_timeout_ns)
                self._emit("walktest", a, -1, codes.WALK_TEST, 1, True,
                           f"Walk test started in '{an}' by {self._user}")
            return
        if not self._awalk[a]:
            self._refuse(a, -1, f"no walk test running in '{an}'")
            return
        self._walktest_end(a, "")

    @cython.cfunc
    def _walktest_timeout(self, a):
        if self._awalk[a]:
            self._walktest_end(a, f" after {self._site.walktest_timeout_ns // S} s (timeout)")

    @cython.cfunc
    def _walktest_end(self, a, why):
        an = self._anames[a]
        missing = self._untripped(a)
        self._awalk[a] = False
        self._awscope[a] = []
        self._set_timer(self._ti(a, K_WALK), INF)
        self._emit("walktest", a, -1, codes.WALK_TEST, 3, True,
                   f"Walk test ended in '{an}'{why}; not tripped: {', '.join(missing) or 'none'}")

    def _untripped(self, a):
        s = self._site
        return [self._znames[z] for z in self._scope_of(a)
                if self._znames[z] not in self._awalked[a]]

    @cython.cfunc
    def _siren_test(self, areas, arg):
        if not isinstance(arg, int) or isinstance(arg, bool) or not 0 < arg <= MAX_TEST_S:
            self._refuse(-1, -1, f"siren_test: arg must be 1..{MAX_TEST_S} seconds, got {arg!r}")
            return
        for a in areas:
            self._atest[a] = True
            self._set_timer(self._ti(a, K_TEST), self._now + arg * S)
            self._emit("test", a, -1, codes.MANUAL_TEST, 1, True,
                       f"Siren test for {arg} s in '{self._anames[a]}' by {self._user}")
            self._outputs(a)

    # ------------------------------------------------------------------ snapshot / restore

    def _remaining(self, i):
        d = self._dl[i]
        return None if d >= INF else max(d - self._now, 0)

    def _zone_dict(self, z):
        s = self._site
        nz = self._nz
        return {
            "state": STATE_NAMES[self._lst[z]], "raw": STATE_NAMES[self._acc[z]],
            "type": s.z_type_name[z], "area": self._anames[self._zarea[z]],
            "bypassed": BYPASS_NAMES[self._bypass[z]], "latched": bool(self._latched[z]),
            "alarm_cid": self._zalarm[z], "alarm_incident": self._zinc[z],
            "restore_at_reset": self._zdefer[z],
            "pulses": [self._now - p for p in self._zpulses[z]],
            "trouble_cid": self._ztrouble[z], "watch_trouble": bool(self._zwatch[z]),
            "swinger_count": self._zswing[z],
            "timers": {"offline_grace": self._remaining(nz + z),
                       "watch": self._remaining(2 * nz + z)},
        }

    def state_of_zone(self, name) -> dict:
        """The snapshot entry of one zone (KeyError for an unknown name)."""
        return self._zone_dict(self._site.zone_index[name])

    def snapshot(self) -> dict:
        """The engine's state as a JSON-able dict (see restore)."""
        s = self._site
        areas = {}
        incidents = []
        for a in range(self._na):
            inc = self._ainc[a]
            if inc is not None:
                incidents.append(inc.as_dict(self._anames[a]))
            z = self._aentry[a]
            areas[self._anames[a]] = {
                "state": AREA_STATE_NAMES[self._astate[a]], "mode": MODE_NAMES[self._amode[a]],
                "armed_by": self._aby[a], "drill": bool(self._adrill[a]), "walktest": bool(self._awalk[a]),
                "walktest_tripped": list(self._awalked[a]),
                "walktest_untripped": self._untripped(a) if self._awalk[a] else [],
                "walktest_scope": [self._znames[k] for k in self._scope_of(a)],
                "siren": bool(self._asiren[a]), "strobe": bool(self._astrobe[a]),
                "siren_by_fallback": bool(self._afb[a]), "siren_test": bool(self._atest[a]),
                "buzzer_by_fallback": bool(self._abuzz[a]),
                "entry_zone": self._znames[z] if z >= 0 else "",
                "confirmation_disabled": bool(self._anoconf[a]), "exit_error": bool(self._aexiterr[a]),
                "bell_soundings": self._abells[a],
                "armed_age": self._now - self._aarmed_t[a] if self._aarmed_t[a] >= 0 else None,
                "intruder_age": self._now - self._aintr_t[a] if self._aintr_t[a] >= 0 else None,
                "recent_closing_sent": bool(self._arecent[a]),
                "bell_sounded_ns": self._abell_used[a] + (
                    self._now - self._abell_t0[a] if self._asiren[a] else 0),
                "incident": inc.id if inc is not None else 0,
                "timers": {"delay": self._remaining(self._ti(a, K_DELAY)),
                           "bell": self._remaining(self._ti(a, K_BELL)),
                           "fallback": self._remaining(self._ti(a, K_FALLBACK)),
                           "siren_test": self._remaining(self._ti(a, K_TEST)),
                           "walktest": self._remaining(self._ti(a, K_WALK))},
            }
        return {
            "version": SNAPSHOT_VERSION, "build": BUILD, "controller": s.controller,
            "t_ns": self._now, "uplink": bool(self._uplink), "next_incident": self._next_inc,
            "areas": areas,
            "zones": {self._znames[z]: self._zone_dict(z) for z in range(self._nz)},
            "incidents": incidents,
            "groups": {s.group_names[g]: {self._key_name(k): self._now - t for k, t in h.items()}
                       for g, h in enumerate(self._ghist)},
            "outputs": dict(self._outs),
            "counters": {"samples": self._n_samples, "glitches": self._n_glitches,
                         "alarms": self._n_alarms, "decisions": self._n_decisions,
                         "refused": self._n_refused, "late": self._n_late},
        }

    def restore(self, snapshot, t_ns) -> list:
        """Rebuild the state from a snapshot after a restart; t_ns is the new clock's now.
        Returns the output orders (outputs that should be on)."""
        if not isinstance(snapshot, dict) or snapshot.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError("not a guardroom engine snapshot (version 1)")
        try:
            return self._restore(snapshot, max(int(t_ns), 0))
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            self._init_state()
            raise SnapshotError(f"snapshot unusable: {exc!r}") from exc

    def _restore(self, snap, t):
        s = self._site
        self._init_state()
        self._now = t
        self._started = True
        out = []
        self._out = out
        nz = self._nz
        done_watch = set()
        for name, zd in snap.get("zones", {}).items():
            z = s.zone_index.get(name, -1)
            if z < 0:
                continue
            self._lst[z] = STATE_NAMES.index(zd["state"])
            self._acc[z] = STATE_NAMES.index(zd.get("raw", zd["state"]))
            # a snapshot cannot bypass a hold-up zone
            why = str(zd.get("bypassed", ""))
            self._bypass[z] = (BY_NONE if self._ztype[z] <= T_DURESS or not why
                               else BYPASS_NAMES.index(why) if why in BYPASS_NAMES else BY_MANUAL)
            self._zdefer[z] = int(zd.get("restore_at_reset", 0))
            self._zpulses[z] = [t - int(age) for age in zd.get("pulses", [])]
            self._latched[z] = bool(zd.get("latched", False))
            self._zalarm[z] = int(zd.get("alarm_cid", 0))
            self._zinc[z] = int(zd.get("alarm_incident", 0))
            self._ztrouble[z] = int(zd.get("trouble_cid", 0))
            self._zwatch[z] = bool(zd.get("watch_trouble", False))
            self._zswing[z] = int(zd.get("swinger_count", 0))
            timers = zd.get("timers", {})
            if timers.get("offline_grace") is not None and self._lst[z] == OFFLINE:
                self._set_timer(nz + z, t + int(timers["offline_grace"]))
            if self._zwatch_ns[z] > 0 and (timers.get("watch") is not None or self._zwatch[z]):
                done_watch.add(z)
                if not self._zwatch[z]:
                    self._set_timer(2 * nz + z, t + min(int(timers["watch"]), self._zwatch_ns[z]))
        for z in range(nz):
            if self._zwatch_ns[z] > 0 and z not in done_watch:
                self._set_timer(2 * nz + z, t + self._zwatch_ns[z])
        for name, ad in snap.get("areas", {}).items():
            a = s.area_index.get(name, -1)
            if a < 0:
                continue
            self._astate[a] = AREA_STATE_NAMES.index(ad["state"])
            self._amode[a] = MODE_NAMES.index(ad.get("mode", ""))
            if self._astate[a] != DISARMED and self._amode[a] == M_OFF:
                self._amode[a] = M_STAY if self._astate[a] == STAY else M_AWAY
            self._aby[a] = str(ad.get("armed_by", ""))
            self._adrill[a] = bool(ad.get("drill", False))
            self._awalk[a] = bool(ad.get("walktest", False))
            self._awalked[a] = [n for n in ad.get("walktest_tripped", []) if n in s.zone_index]
            if self._awalk[a]:
                scope = ad.get("walktest_scope")
                self._awscope[a] = ([s.zone_index[n] for n in scope if n in s.zone_index]
                                    if scope is not None else list(s.a_zones[a]))
                rem = timers.get("walktest") if isinstance(timers := ad.get("timers", {}), dict) else None
                if rem is not None:
                    self._set_timer(self._ti(a, K_WALK), t + int(rem))
                elif s.walktest_timeout_ns > 0:
                    self._set_timer(self._ti(a, K_WALK), t + s.walktest_timeout_ns)
            self._asiren[a] = bool(ad.get("siren", False))
            self._astrobe[a] = bool(ad.get("strobe", False))
            self._afb[a] = bool(ad.get("siren_by_fallback", False))
            self._abuzz[a] = bool(ad.get("buzzer_by_fallback", False))
            self._aentry[a] = s.zone_index.get(ad.get("entry_zone", ""), -1)
            self._anoconf[a] = bool(ad.get("confirmation_disabled", False))
            self._aexiterr[a] = bool(ad.get("exit_error", False))
            self._abells[a] = int(ad.get("bell_soundings", 0))
            self._abell_used[a] = int(ad.get("bell_sounded_ns", 0))
            self._abell_t0[a] = t
            if ad.get("armed_age") is not None:
                self._aarmed_t[a] = max(t - int(ad["armed_age"]), 0)
            if ad.get("intruder_age") is not None:
                self._aintr_t[a] = max(t - int(ad["intruder_age"]), 0)
            self._arecent[a] = bool(ad.get("recent_closing_sent", False))
            timers = ad.get("timers", {})
            st = self._astate[a]
            if st == EXIT or (st == ENTRY and self._aentry[a] >= 0):
                rem = timers.get("delay")
                self._set_timer(self._ti(a, K_DELAY), t + (0 if rem is None else int(rem)))
            elif st == ENTRY:  # no zone to blame: fall back to armed
                self._astate[a] = AWAY if self._amode[a] == M_AWAY else STAY
            if self._asiren[a] and timers.get("bell") is not None:
                self._set_timer(self._ti(a, K_BELL), t + int(timers["bell"]))
            if timers.get("fallback") is not None:
                self._set_timer(self._ti(a, K_FALLBACK), t + int(timers["fallback"]))
        max_id = 0
        for d in snap.get("incidents", []):
            a = s.area_index.get(d["area"], -1)
            if a < 0:
                continue
            inc = Incident(int(d["id"]), a, bool(d.get("drill", False)))
            inc.zones = [str(n) for n in d.get("zones", [])]
            inc.silent = bool(d.get("silent", True))
            inc.has_silent = bool(d.get("has_silent", False))
            inc.verified = bool(d.get("verified", False))
            inc.acked = bool(d.get("acked", False))
            inc.holdup = bool(d.get("holdup", False))
            inc.fallback = FALLBACK_NAMES.index(d.get("fallback", "none"))
            inc.fire = bool(d.get("fire", False))
            self._ainc[a] = inc
            max_id = max(max_id, inc.id)
        for a in range(self._na):
            inc = self._ainc[a]
            if inc is None or inc.fallback != FB_PENDING:
                self._set_timer(self._ti(a, K_FALLBACK), INF)
            elif self._dl[self._ti(a, K_FALLBACK)] >= INF:
                inc.fallback = FB_NONE
            if self._astate[a] == ALARM and self._amode[a] == M_OFF:
                self._astate[a] = DISARMED
        for z in range(nz):
            if self._latched[z] and self._ainc[self._zarea[z]] is None:
                self._latched[z] = False
        self._next_inc = max(int(snap.get("next_incident", 1)), max_id + 1)
        for gname, ages in snap.get("groups", {}).items():
            g = s.group_index.get(gname, -1)
            if g < 0:
                continue
            for zname, age in ages.items():
                if zname in s.zone_index:
                    self._ghist[g][s.zone_index[zname]] = t - int(age)
                elif zname.startswith("keypad:") and zname[7:] in s.area_index:
                    self._ghist[g][-1 - s.area_index[zname[7:]]] = t - int(age)
        counters = snap.get("counters", {})
        self._n_samples = int(counters.get("samples", 0))
        self._n_glitches = int(counters.get("glitches", 0))
        self._n_alarms = int(counters.get("alarms", 0))
        self._n_decisions = int(counters.get("decisions", 0))
        self._n_refused = int(counters.get("refused", 0))
        self._n_late = int(counters.get("late", 0))
        for a in range(self._na):
            self._outputs(a)
        return out


def _int64_view(buf):
    """A flat, C-contiguous int64 memoryview of buf (array('q'), numpy int64, bytes...)."""
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    if view.format != "q" or view.ndim != 1 or not view.c_contiguous:
        view = view.cast("B").cast("q")
    return view
