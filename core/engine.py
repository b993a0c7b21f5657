"""The guardroom alarm engine: the Engine type and its hot path (samples, debounce, the timer
heap, decisions, zone changes and zone supervision).

One source per module, two builds: compiled by Cython in pure-Python mode (setup.py builds
``guardroom.core.engine`` and the cold modules below) and run as plain Python
(``load_engine("interpreted")``). Both must give identical decisions; tests/core runs every
test against both.

The engine never reads a clock, never sleeps and does no I/O: time comes in with every call
(``time.monotonic_ns()`` integers). The contract and the semantics are in
docs/developer/engine.md.

The cold domains live in their own modules, as functions that take the engine (typed by
core/engine.pxd in the compiled build, so they read and write the same C fields and call its
C methods; the engine calls them as C functions, cimported through their .pxd):

    core/areas.py       commands, arming, exit/entry delays, bypasses, drill, walk test
    core/incidents.py   incidents, alarms, verification (sequential confirmation), reset
    core/sirens.py      sirens, strobes, buzzers, bell cut-off, the silent alarm's fallback
    core/snapshot.py    snapshot and restore
    core/constants.py   the constants (core/constants.pxd: the same as C enum constants)

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
from guardroom.core.constants import *  # noqa: F401,F403 - the one set of names

if cython.compiled:
    # the C enum constants (core/constants.pxd) replace the Python integers
    from cython.cimports.guardroom.core.constants import *  # noqa: F401,F403
    # the extension type's C fields (core/decisions.pxd), set without __init__
    from cython.cimports.guardroom.core.decisions import Decision
    # the cold domains, called as C functions (their .pxd files)
    from cython.cimports.guardroom.core import areas, incidents, sirens
    from cython.cimports.guardroom.core import snapshot as snapshots
else:  # the same class, through a Python import; the cold modules from their sources
    from guardroom.core.decisions import Decision
    from guardroom.core.loader import source_module
    areas = source_module("areas")
    incidents = source_module("incidents")
    sirens = source_module("sirens")
    snapshots = source_module("snapshot")
from guardroom.core.site import S, Site

BUILD = "compiled" if cython.compiled else "interpreted"


@cython.final
@cython.cclass
class Engine:
    """The alarm engine of one controller, built from the validated site description. Its C
    fields and C methods are declared in core/engine.pxd."""

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
        # pulse counting: a ring of the last activation times per zone (capacity: its pulses)
        off = [0] * (nz + 1)
        for z in range(nz):
            off[z + 1] = off[z] + (s.z_pulses[z] if s.z_pulses[z] > 1 else 0)
        self._zpoff = array("i", off)
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
        self._zpt = array("q", [0]) * max(self._zpoff[nz], 1)
        self._zph = array("i", [0]) * n
        self._zpc = array("i", [0]) * n
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

    # Both sifts move a hole instead of swapping: each level costs one move (key, index and
    # the moved timer's position), the sifted entry is written once at the end.

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hup(self, k: cython.Py_ssize_t) -> cython.int:
        parent: cython.Py_ssize_t
        dp: cython.longlong
        ip: cython.int
        d: cython.longlong = self._hk[k]
        i: cython.int = self._hi[k]
        while k > 0:
            parent = (k - 1) >> 1
            dp = self._hk[parent]
            ip = self._hi[parent]
            if dp < d or (dp == d and ip < i):
                break
            self._hk[k] = dp
            self._hi[k] = ip
            self._hpos[ip] = k
            k = parent
        self._hk[k] = d
        self._hi[k] = i
        self._hpos[i] = k
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hdown(self, k: cython.Py_ssize_t) -> cython.int:
        c: cython.Py_ssize_t
        n: cython.Py_ssize_t = self._hn
        dc: cython.longlong
        ic: cython.int
        d2: cython.longlong
        i2: cython.int
        d: cython.longlong = self._hk[k]
        i: cython.int = self._hi[k]
        while True:
            c = 2 * k + 1
            if c >= n:
                break
            dc = self._hk[c]
            ic = self._hi[c]
            if c + 1 < n:
                d2 = self._hk[c + 1]
                i2 = self._hi[c + 1]
                if d2 < dc or (d2 == dc and i2 < ic):
                    c += 1
                    dc = d2
                    ic = i2
            if d < dc or (d == dc and i < ic):
                break
            self._hk[k] = dc
            self._hi[k] = ic
            self._hpos[ic] = k
            k = c
        self._hk[k] = d
        self._hi[k] = i
        self._hpos[i] = k
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _hpop(self) -> cython.int:
        """Remove the top of the heap."""
        last: cython.Py_ssize_t = self._hn - 1
        self._hpos[self._hi[0]] = -1
        self._hn = last
        if last > 0:
            self._hk[0] = self._hk[last]
            self._hi[0] = self._hi[last]
            self._hdown(0)
        return 0

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
            self._hup(k)
        elif d < self._hk[k]:
            self._hk[k] = d
            self._hup(k)
        if d < self._next:
            self._next = d
        return 0

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
                        sirens.fallback(self, a, codes.COMM_TROUBLE, "uplink down")
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
                sirens.siren_off(self, a)
                sirens.outputs(self, a)
            if self._abuzz[a]:
                self._abuzz[a] = False
                sirens.outputs(self, a)
        self._user = ""
        return out

    def command(self, t_ns, name, area="", zone="", user="", force=False, arg=0) -> list:
        """A command from a user (console, platform, keyswitch, card). See the docs for the
        names; a refused command returns a "refused" decision."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}")
        out = self._begin(t_ns, user)
        try:
            areas.command(self, name, area, zone, bool(force), arg)
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

    def _ti(self, a: cython.Py_ssize_t, k: cython.Py_ssize_t) -> cython.Py_ssize_t:
        return 4 * self._nz + NK * a + k

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
                areas.delay_expired(self, a)
            elif k == K_BELL:
                sirens.siren_off(self, a)
                sirens.outputs(self, a)
            elif k == K_FALLBACK:
                sirens.fallback_expired(self, a)
            elif k == K_WALK:
                areas.walktest_timeout(self, a)
            else:
                self._atest[a] = False
                sirens.outputs(self, a)

    def _clock_trouble(self, z, t):
        s = self._site
        self._zclk[z] = 1
        self._emit("trouble", self._zarea[z], z, codes.TIME_INACCURATE, 1, True,
                   f"Sample of '{self._znames[z]}' stamped {t} ns, far from the engine's clock "
                   f"({self._now} ns): refused")

    def _clock_restore(self, z):
        s = self._site
        self._zclk[z] = 0
        self._emit("trouble_restore", self._zarea[z], z, codes.TIME_INACCURATE, 3, True,
                   f"'{self._znames[z]}' samples on time again")

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

    def _emit_inc(self, kind, a: cython.int, z: cython.int, cid: cython.int, q: cython.int,
                  report: cython.bint, text) -> Decision:
        """_emit for a decision that belongs to area a's open incident (if any)."""
        cur = self._ainc[a] if a >= 0 else None
        return self._emit(kind, a, z, cid, q, report, text, cur.id if cur is not None else 0)

    def _change_text(self, z: cython.int, old: cython.int, new: cython.int):
        """The text of a zone decision, formatted once per zone and transition."""
        k: cython.Py_ssize_t = 25 * z + 5 * old + new
        t = self._ztexts[k]
        if t is None:
            t = f"'{self._znames[z]}' {STATE_NAMES[old]} -> {STATE_NAMES[new]}"
            self._ztexts[k] = t
        return t

    def _refuse(self, a, z, text):
        self._emit("refused", a, z, 0, 0, False, text)

    # ------------------------------------------------------------------ zones

    def _accept(self, z: cython.int, v: cython.int):
        """A debounced value change of zone z at self._now."""
        logical: cython.int
        n: cython.int
        old: cython.int
        now: cython.longlong
        off: cython.Py_ssize_t
        h: cython.int
        c: cython.int
        j: cython.int
        self._acc[z] = v
        logical = v
        if v == ACTIVE:
            self._activity(z)
            n = self._zpulse_n[z]
            if n > 1:
                # pulse counting on the zone's ring of activation times (at most n - 1 are
                # kept between activations): add this one, forget those out of the window
                now = self._now
                off = self._zpoff[z]
                h = self._zph[z]
                c = self._zpc[z]
                j = h + c
                if j >= n:
                    j -= n
                self._zpt[off + j] = now
                c += 1
                while c > 0 and now - self._zpt[off + h] > self._zpulse_ns[z]:
                    h += 1
                    if h >= n:
                        h = 0
                    c -= 1
                if c >= n:
                    c = 0
                else:
                    logical = NORMAL
                self._zph[z] = h
                self._zpc[z] = c
        old = self._lst[z]
        if logical != old:
            self._lst[z] = logical
            self._zone_change(z, old, logical)

    def _pulse_times(self, z) -> list:
        """The activation times zone z's pulse counting holds, oldest first."""
        n = self._zpulse_n[z]
        off = self._zpoff[z]
        return [self._zpt[off + (self._zph[z] + k) % n] for k in range(self._zpc[z])]

    def _set_pulse_times(self, z, times):
        """Restore: the pulse counting of zone z holds these times (oldest first; only the
        latest n - 1 matter: n in the window make one activation)."""
        n = self._zpulse_n[z]
        keep = list(times)[-(n - 1):] if n > 1 else []
        off = self._zpoff[z]
        for k, p in enumerate(keep):
            self._zpt[off + k] = p
        self._zph[z] = 0
        self._zpc[z] = len(keep)

    def _activity(self, z: cython.int):
        """An accepted activation: restores a sensor-watch trouble and restarts its timer."""
        if self._zwatch_ns[z] > 0:
            if self._zwatch[z]:
                self._zwatch[z] = False
                self._emit("trouble_restore", self._zarea[z], z, codes.SENSOR_WATCH, 3, True,
                           f"'{self._znames[z]}' active again")
            self._set_timer(2 * self._nz + z, self._now + self._zwatch_ns[z])

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
            areas.exit_ended(self, a)
        if (self._ztype[z] == T_KEYSWITCH and old == ACTIVE and new == NORMAL
                and not self._zmomentary[z] and not self._bypass[z] and not self._awalk[a]
                and self._astate[a] != DISARMED):
            areas.by_keyswitch(self, a, False)
        if new == ACTIVE:
            self._activate(z)
        elif (new == TAMPER or new == FAULT) and self._walking(z) and self._ztype[z] > T_DURESS:
            # a walk test trips tamper switches and loops on purpose: 607, no incident
            areas.walk_trip(self, a, z, f"loop {STATE_NAMES[new]}")
        elif new == TAMPER:
            hold = self._ztype[z] <= T_DURESS or self._zsilent[z] == 1
            incidents.alarm(self, a, z, codes.LOOP_TAMPER, hold or self._astate[a] == DISARMED,
                        f"Loop tamper (open circuit) on '{name}'", False, True, True)
        elif new == FAULT:
            self._ztrouble[z] = codes.LOOP_FAULT
            self._emit("trouble", a, z, codes.LOOP_FAULT, 1, True,
                       f"Loop fault (short circuit) on '{name}'")
            self._short(z)
        elif new == OFFLINE:
            self._went_offline(z)

    def _walking(self, z: cython.int) -> cython.bint:
        """Zone z is in the scope of its area's running walk test."""
        a: cython.int = self._zarea[z]
        return self._awalk[a] != 0 and z in self._awscope[a]

    def walktest_scope(self, area) -> list:
        """The zones a walk test of this area covers (the one definition the console and
        the report use): every zone of the area not bypassed when it starts (while one runs:
        the zones it started with)."""
        a = self._site.area_index[area]
        return [self._znames[z] for z in areas.scope_of(self, a)]

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

    def _activate(self, z: cython.int):
        ty: cython.int = self._ztype[z]
        a: cython.int = self._zarea[z]
        if self._walking(z):
            areas.walk_trip(self, a, z, "tripped")
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
                areas.by_keyswitch(self, a, False)
            elif self._astate[a] == DISARMED:
                areas.by_keyswitch(self, a, True)
            return
        self._trigger(z, WHY_ACTIVE)

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
                areas.start_entry(self, z)
        elif ty == T_INTERIOR:
            if self._amode[a] == M_AWAY and (st == AWAY or st == ALARM):
                self._zone_alarm(z, offline)

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

    def _zone_alarm(self, z: cython.int, offline: cython.int):
        s = self._site
        name = self._znames[z]
        if offline == WHY_OFFLINE:
            text = f"'{name}' offline for more than {s.z_grace_ns[z] // S} s"
        elif offline == WHY_SHORT:
            text = f"Loop short on {s.z_type_name[z]} zone '{name}'"
        else:
            text = ALARM_TEXT[self._ztype[z]].format(name)
        incidents.alarm(self, self._zarea[z], z, self._zcid[z] or TYPE_CID[self._ztype[z]], self._zone_silent(z),
                    text, self._ztype[z] <= T_DURESS, True, True)

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
                incidents.alarm(self, a, z, codes.SABOTAGE, self._astate[a] == DISARMED,
                            f"Sabotage: {s.sab_count} zones went offline within "
                            f"{s.sab_window_ns // S} s", False, False, False)

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

    def _watch_expired(self, z):
        s = self._site
        self._zwatch[z] = True
        self._emit("trouble", self._zarea[z], z, codes.SENSOR_WATCH, 1, True,
                   f"'{self._znames[z]}' not active for {self._zwatch_ns[z] // (86400 * S)} days")

    # ------------------------------------------------------------------ bypass

    def _set_bypass(self, z, why: cython.int, text):
        self._bypass[z] = why
        self._emit("bypass", self._zarea[z], z, codes.BYPASS, 1, True, text)

    # ------------------------------------------------------------------ snapshot / restore

    def state_of_zone(self, name) -> dict:
        """The snapshot entry of one zone (KeyError for an unknown name)."""
        return snapshots.zone_dict(self, self._site.zone_index[name])

    def snapshot(self) -> dict:
        """The engine's state as a JSON-able dict (see restore)."""
        return snapshots.snapshot(self)

    def restore(self, snapshot, t_ns) -> list:
        """Rebuild the state from a snapshot after a restart; t_ns is the new clock's now.
        Returns the output orders (outputs that should be on). SnapshotError when it is not
        usable (the state is then the initial one)."""
        return snapshots.restore(self, snapshot, t_ns)


def _int64_view(buf):
    """A flat, C-contiguous int64 memoryview of buf (array('q'), numpy int64, bytes...)."""
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    if view.format != "q" or view.ndim != 1 or not view.c_contiguous:
        view = view.cast("B").cast("q")
    return view
