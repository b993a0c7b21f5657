"""The engine's constants: sample values, zone types, area states, timer kinds, codes of the
bypass and fallback states, and the name tables of the snapshot.

One definition for every engine module. The integers are repeated as C enum constants in
core/constants.pxd so the compiled build folds them in (``from cython.cimports...constants
import *`` after the Python import); tests/core/test_engine_loader.py checks both agree.
"""
from guardroom.core import codes

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
T_FIRE = 8        # 24 h, audible, own cadence (output state "fire")
T_MEDICAL = 9     # 24 h, silent
T_AUDIBLE24 = 10  # 24 h, audible
T_TECH24 = 11     # 24 h technical alarm, its own code
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
NK = 5      # timers per area
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
FALLBACK_POLICY_TEXT = ("sounded locally", "shown on the strobes only",
                        "sounded on the guard-room buzzers only", "not signalled locally (policy)")
# why a zone is bypassed (0: it is not), BYPASS_NAMES order
BY_NONE = 0
BY_MANUAL = 1
BY_FORCED = 2
BY_SWINGER = 3
BYPASS_NAMES = ("", "manual", "forced", "swinger")
# why a zone counts as triggered
WHY_ACTIVE = 0
WHY_OFFLINE = 1
WHY_SHORT = 2

INF = 4611686018427387904  # 2**62: "no deadline"
TMAX = 2305843009213693952  # 2**61: no time at or above

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
