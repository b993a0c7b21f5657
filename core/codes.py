"""Contact ID (SIA DC-05) event codes and qualifiers carried on engine decisions.

Only the codes the engine emits are named here; ``DESCRIPTIONS`` maps each to its text.
"""

Q_NEW = 1
Q_RESTORE = 3

MEDICAL = 100
FIRE = 110
PANIC = 120
DURESS = 121
SILENT_24H = 122          # not emitted by default: a silent panic keeps 120 with silent=True
AUDIBLE_24H = 123
PANIC_VERIFIED = 129      # hold-up confirmed by a second hold-up zone of a group
BURGLARY = 130
PERIMETER = 131
INTERIOR = 132
ENTRY_EXIT = 134
SABOTAGE = 137            # K zones went offline within the sabotage window
BURGLARY_VERIFIED = 139
SENSOR_TAMPER = 144       # a zone of type "tamper" became active
NON_BURGLARY_24H = 150    # default code of a 24 h technical alarm zone (technical_24h)
SUPERVISION = 147         # a zone stayed offline past its grace time
TECHNICAL = 300           # default trouble code of a technical zone ("system trouble")
AC_LOSS = 301
LOW_BATTERY = 302
EXIT_ERROR = 374          # a zone still open when the exit delay ended (exit fault)
COMM_TROUBLE = 350        # fallback because the uplink is down
FAIL_TO_COMMUNICATE = 354 # fallback because the platform did not acknowledge in time
LOOP_FAULT = 380          # supervised loop short
LOOP_TAMPER = 383         # supervised loop open (value TAMPER on any zone)
SENSOR_WATCH = 391        # inactive sensor ("sensor watch")
OPEN_CLOSE = 401          # arm (q3) / disarm (q1) by a user
SILENCE_RESET = 406       # silence (q1) / reset, incident closed (q3)
KEYSWITCH_OPEN_CLOSE = 409
ARMED_STAY = 441
RECENT_CLOSING = 459      # an alarm soon after the area was set
BYPASS = 570
MANUAL_TEST = 601
WALK_TEST = 607
TIME_INACCURATE = 626     # a sample stamped far from the engine's clock was refused

DESCRIPTIONS = {
    MEDICAL: "Medical", FIRE: "Fire", NON_BURGLARY_24H: "24 hour non-burglary",
    PANIC: "Panic", DURESS: "Duress", SILENT_24H: "Silent 24 hour", AUDIBLE_24H: "Audible 24 hour",
    PANIC_VERIFIED: "Panic verified", BURGLARY: "Burglary", PERIMETER: "Perimeter",
    INTERIOR: "Interior", ENTRY_EXIT: "Entry/exit", SABOTAGE: "Panel tamper (sabotage)",
    BURGLARY_VERIFIED: "Burglary verified", SENSOR_TAMPER: "Sensor tamper",
    SUPERVISION: "Sensor supervision failure", TECHNICAL: "System trouble", AC_LOSS: "AC loss",
    LOW_BATTERY: "Low system battery", COMM_TROUBLE: "Communication trouble",
    FAIL_TO_COMMUNICATE: "Failure to communicate", LOOP_FAULT: "Sensor trouble (loop short)",
    LOOP_TAMPER: "Sensor tamper (loop open)", SENSOR_WATCH: "Sensor watch (inactive sensor)",
    OPEN_CLOSE: "Open/close by user", SILENCE_RESET: "Cancel / silence / reset",
    KEYSWITCH_OPEN_CLOSE: "Keyswitch open/close", ARMED_STAY: "Armed stay", BYPASS: "Zone bypass",
    MANUAL_TEST: "Manual trigger test", WALK_TEST: "Walk test", EXIT_ERROR: "Exit error",
    TIME_INACCURATE: "Time/date inaccurate", RECENT_CLOSING: "Recent closing",
}

# Alarm code of each zone type when it becomes active (technical: its trouble code).
ZONE_TYPE_CID = {
    "panic": PANIC, "duress": DURESS, "tamper": SENSOR_TAMPER, "perimeter": PERIMETER,
    "entry_exit": ENTRY_EXIT, "interior": INTERIOR, "technical": TECHNICAL, "keyswitch": 0,
    "fire": FIRE, "medical": MEDICAL, "audible_24h": AUDIBLE_24H, "technical_24h": NON_BURGLARY_24H,
}


def describe(cid: int) -> str:
    """The human name of a Contact ID code ('' for 0 or an unknown code)."""
    return DESCRIPTIONS.get(cid, "")
