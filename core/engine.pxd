# The engine's extension type (core/engine.py, Cython pure-Python mode): its C state and its
# C methods. The cold domains (core/areas.py, incidents.py, sirens.py, snapshot.py) cimport
# it and work on the same C fields; see docs/developer/engine.md (file map).

cimport cython

from guardroom.core.decisions cimport Decision


@cython.final
cdef class Engine:
    # ---- hot state (C in the compiled build) ----
    cdef long long _now
    cdef long long _next
    cdef Py_ssize_t _nz
    cdef Py_ssize_t _na
    cdef Py_ssize_t _np
    cdef Py_ssize_t _nt
    cdef bint _started
    cdef bint _uplink
    cdef long long _n_samples
    cdef long long _n_glitches
    cdef long long _n_alarms
    cdef long long _n_decisions
    cdef long long _n_refused              # samples stamped outside the plausible window
    cdef long long _n_late                 # samples older than the last one of their point
    cdef long long _ahead_ns
    cdef long long _behind_ns
    cdef long long _ref                    # the caller's clock for this call (-1: none)
    cdef long long _next_inc
    cdef int[::1] _ptz
    cdef int[::1] _inv
    cdef int[::1] _acc
    cdef int[::1] _seen                    # per zone: 1 once it reported anything but OFFLINE since start
    cdef int[::1] _pend
    cdef int[::1] _lst
    cdef int[::1] _zclk                    # per zone: a clock (time/date inaccurate) trouble is open
    cdef long long[::1] _tlast             # per zone: time of the last sample taken
    cdef int[::1] _ztype                   # per zone: its type (T_*)
    cdef int[::1] _zarea                   # per zone: its area
    cdef int[::1] _zpulse_n                # per zone: activations that make one (pulse counting)
    cdef long long[::1] _zwatch_ns         # per zone: sensor watch period (0: off)
    cdef long long[::1] _zpulse_ns         # per zone: pulse counting window
    cdef int[::1] _zsilent                 # per zone: -1 type default, 0 audible, 1 silent
    cdef int[::1] _zcid                    # per zone: its own alarm code (0: the type's)
    cdef int[::1] _zmomentary              # per zone: a momentary keyswitch
    cdef int[::1] _afinal                  # per area: exit ended by closing the final door
    cdef long long[::1] _dact
    cdef long long[::1] _drest
    cdef long long[::1] _dl
    cdef long long[::1] _hk
    cdef int[::1] _hi
    cdef int[::1] _hpos
    cdef Py_ssize_t _hn
    # ---- the rest (Python objects) ----
    cdef object _site
    cdef list _out
    cdef list _znames                      # zone names (Decision fields)
    cdef list _anames                      # area names
    cdef list _ztexts                      # zone-decision texts, formatted once: [25 * z + 5 * old + new]
    cdef object _user
    cdef int[::1] _bypass                  # per zone: why it is bypassed (BY_*, 0 not bypassed)
    cdef int[::1] _latched                 # per zone: hold-up latched until reset
    cdef int[::1] _zalarm                  # per zone: cid of the alarm its current condition raised (0 none)
    cdef long long[::1] _zinc              # per zone: incident id of that alarm
    cdef int[::1] _zdefer                  # per zone: hold-up alarm code whose restore waits for the reset
    cdef int[::1] _ztrouble                # per zone: cid of the trouble its current condition raised (0 none)
    cdef int[::1] _zwatch                  # per zone: sensor-watch trouble raised
    cdef int[::1] _zswing                  # per zone: alarms in this armed period (swinger shutdown)
    cdef int[::1] _zpoff                   # per zone: offset of its ring in _zpt (nz + 1 entries)
    cdef long long[::1] _zpt               # per zone: ring of accepted activation times (pulse counting)
    cdef int[::1] _zph                     # per zone: first entry of its ring
    cdef int[::1] _zpc                     # per zone: entries in its ring (< its pulses)
    cdef int[::1] _astate                  # per area: its state (DISARMED...ALARM)
    cdef int[::1] _amode                   # per area: its arming mode (M_*)
    cdef object _aby                       # who armed
    cdef int[::1] _adrill
    cdef int[::1] _awalk
    cdef object _awalked                   # zone names tripped since walk test start
    cdef object _awscope                   # zone numbers the running walk test covers
    cdef int[::1] _asiren                  # sirens wanted by an alarm / fallback
    cdef int[::1] _astrobe                 # strobes wanted (until reset)
    cdef int[::1] _atest                   # siren test running
    cdef int[::1] _afb                     # sirens on only because of a fallback (ack turns them off)
    cdef int[::1] _aentry                  # zone that started the entry delay, or -1
    cdef object _ainc                      # open Incident or None
    cdef int[::1] _anoconf                 # per area: confirmation disabled for this entry (BS 8243)
    cdef int[::1] _aexiterr                # per area: the running entry delay is an exit error
    cdef int[::1] _abells                  # per area: siren soundings in this armed period
    cdef long long[::1] _abell_used        # per area: ns of siren sounding in this armed period
    cdef long long[::1] _abell_t0          # per area: when the current sounding started
    cdef long long[::1] _aarmed_t          # per area: when the exit time ended (-1: not armed)
    cdef long long[::1] _aintr_t           # per area: first intruder alarm of this armed period (-1: none)
    cdef int[::1] _arecent                 # per area: recent closing (459) reported in this armed period
    cdef int[::1] _abuzz                   # per area: buzzers on by a hold-up fallback (policy "buzzer")
    cdef object _outs                      # output name -> on
    cdef object _ghist                     # per group: {zone: time of its last alarm}
    cdef object _sab                       # {zone: time it went offline} inside the sabotage window

    # ---- hot path: samples, the timer heap, decisions, zone changes (core/engine.py) ----
    cdef int _step(self, long long t, long long p, long long v) except -1
    cdef int _hup(self, Py_ssize_t k) noexcept
    cdef int _hdown(self, Py_ssize_t k) noexcept
    cdef int _hpop(self) noexcept
    cdef int _set_timer(self, Py_ssize_t i, long long d) noexcept
    cdef long long _top(self) noexcept
    cdef int _fire_until(self, long long t) except -1
    cdef Py_ssize_t _ti(self, Py_ssize_t a, Py_ssize_t k) noexcept
    cdef _fire(self, Py_ssize_t i)
    cdef _clock_trouble(self, z, t)
    cdef _clock_restore(self, z)
    cdef Decision _emit(self, kind, int a, int z, int cid, int q, bint report, text,
                        long long incident=*)
    cdef Decision _emit_inc(self, kind, int a, int z, int cid, int q, bint report, text)
    cdef _change_text(self, int z, int old, int new)
    cdef _refuse(self, a, z, text)
    cdef _accept(self, int z, int v)
    cdef _activity(self, int z)
    cdef _zone_change(self, int z, int old, int new)
    cdef bint _walking(self, int z) except -1
    cdef _short(self, int z)
    cdef _activate(self, int z)
    cdef _trigger(self, int z, int offline)
    cdef _zone_silent(self, int z)
    cdef _zone_alarm(self, int z, int offline)
    cdef _went_offline(self, int z)
    cdef _sabotage_count(self, z)
    cdef _grace_expired(self, z)
    cdef _watch_expired(self, z)
    cdef _set_bypass(self, z, int why, text)
