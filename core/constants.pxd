# C constants of core/constants.py for the compiled engine modules: the same names and values
# (tests/core/test_engine_loader.py compares them), folded in at compile time.

cdef enum:
    # sample values (the drivers' contract)
    NORMAL = 0
    ACTIVE = 1
    TAMPER = 2
    FAULT = 3
    OFFLINE = 4
    # zone types, in site.ZONE_TYPES order
    T_PANIC = 0
    T_DURESS = 1
    T_TAMPER = 2
    T_PERIMETER = 3
    T_ENTRY = 4
    T_INTERIOR = 5
    T_TECHNICAL = 6
    T_KEYSWITCH = 7
    T_FIRE = 8
    T_MEDICAL = 9
    T_AUDIBLE24 = 10
    T_TECH24 = 11
    # area states and arming modes
    DISARMED = 0
    EXIT = 1
    AWAY = 2
    STAY = 3
    ENTRY = 4
    ALARM = 5
    M_OFF = 0
    M_AWAY = 1
    M_STAY = 2
    # area timers
    K_DELAY = 0
    K_BELL = 1
    K_FALLBACK = 2
    K_TEST = 3
    K_WALK = 4
    NK = 5
    # output roles in an area (site.out_members)
    ROLE_SIREN = 0
    ROLE_STROBE = 1
    ROLE_BUZZER = 2
    # fallback state of an incident
    FB_NONE = 0
    FB_PENDING = 1
    FB_FIRED = 2
    FB_CANCELLED = 3
    # the local signal of a silent hold-up's fallback (site.HOLDUP_FALLBACKS order)
    FBP_SIREN = 0
    FBP_STROBE = 1
    FBP_BUZZER = 2
    FBP_NONE = 3
    # why a zone is bypassed (0: it is not), BYPASS_NAMES order
    BY_NONE = 0
    BY_MANUAL = 1
    BY_FORCED = 2
    BY_SWINGER = 3
    # why a zone counts as triggered
    WHY_ACTIVE = 0
    WHY_OFFLINE = 1
    WHY_SHORT = 2

# 64-bit times do not fit a C enum
cdef extern from *:
    """
    #define GUARDROOM_INF 4611686018427387904LL
    #define GUARDROOM_TMAX 2305843009213693952LL
    """
    const long long INF "GUARDROOM_INF"     # 2**62: "no deadline"
    const long long TMAX "GUARDROOM_TMAX"   # 2**61: no time at or above
