"""Turn a site description (a dict, see docs/developer/engine.md) into the flat tables the
engine indexes by zone, area, group and output number. Inconsistencies raise SiteError naming
the key. Shared by both engine builds; runs once per Engine.
"""
from guardroom.core.errors import SiteError

ZONE_TYPES = ("panic", "duress", "tamper", "perimeter", "entry_exit", "interior", "technical",
              "keyswitch", "fire", "medical", "audible_24h", "technical_24h")
OUTPUT_KINDS = ("siren", "strobe", "buzzer", "relay")
EXIT_FAULTS = ("alarm", "fail_to_set")   # a zone open when the exit time ends

MAX_POINT = 65535
MAX_SECONDS = 10 * 366 * 86400          # keeps every deadline far below 2**62 ns
MAX_DAYS = 3660
S = 1_000_000_000
MS = 1_000_000

# The time window of a sample around the engine's clock (the caller's now_ns when given).
SAMPLE_DEFAULTS = {"max_ahead_s": 86400, "max_behind_s": 600}
AREA_DEFAULTS = {"entry_delay_s": 30, "exit_delay_s": 30, "bell_cutoff_s": 900,
                 "fallback_s": 60, "swinger_limit": 0, "bell_rearms": 3, "bell_max_s": 1200,
                 "abort_window_s": 30, "recent_closing_s": 120}
SMALL_AREA_KEYS = ("swinger_limit", "bell_rearms")
EXIT_MODES = ("timed", "final_door")       # BS 8243: exit ended by closing the final door
HOLDUP_FALLBACKS = ("siren", "strobe", "buzzer", "none")
WALKTEST_TIMEOUT_S = 1800
ZONE_DEFAULTS = {"invert": False, "silent": None, "groups": (), "offline_grace_s": 60,
                 "offline_alarm": None, "watch_days": 0, "cid": None, "momentary": False}


def _int(value, key, lo=0, hi=MAX_SECONDS):
    if not isinstance(value, int) or isinstance(value, bool):
        raise SiteError(f"{key}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SiteError(f"{key}: {value} is outside {lo}..{hi}")
    return value


def _choice(value, choices, key):
    if value not in choices:
        raise SiteError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(value, key):
    if not isinstance(value, bool):
        raise SiteError(f"{key}: expected true or false, got {value!r}")
    return value


def _mapping(site, key):
    value = site.get(key, {})
    if not isinstance(value, dict):
        raise SiteError(f"{key}: expected a table")
    return value


def _get(table, name, key):
    if name not in table:
        raise SiteError(f"{key}: missing")
    return table[name]


class Site:
    """The compiled site: parallel lists indexed by zone / area / group number."""

    def __init__(self, site: dict):
        if not isinstance(site, dict):
            raise SiteError("site: expected a table")
        self.controller = str(site.get("controller", ""))
        self._outputs(site)
        self._profiles(site)
        self._areas(site)
        self._groups(site)
        self._zones(site)
        sab = _mapping(site, "sabotage")
        self.sab_count = _int(sab.get("count", 0), "sabotage.count", 0, 10_000)
        self.sab_window_ns = _int(sab.get("window_s", 60), "sabotage.window_s") * S
        self.sab_grace_ns = _int(sab.get("grace_s", 5), "sabotage.grace_s", 0, 3600) * S
        self.walktest_timeout_ns = _int(site.get("walktest_timeout_s", WALKTEST_TIMEOUT_S),
                                        "walktest_timeout_s", 0) * S
        clock = _mapping(site, "samples")
        for k in clock:
            if k not in SAMPLE_DEFAULTS:
                raise SiteError(f"samples.{k}: unknown key")
        self.max_ahead_ns = _int(clock.get("max_ahead_s", SAMPLE_DEFAULTS["max_ahead_s"]),
                                 "samples.max_ahead_s", 1, 366 * 86400) * S
        self.max_behind_ns = _int(clock.get("max_behind_s", SAMPLE_DEFAULTS["max_behind_s"]),
                                  "samples.max_behind_s", 1, 366 * 86400) * S

    def _outputs(self, site):
        outputs = _mapping(site, "outputs")
        self.output_names = []
        self.output_kinds = {}
        for name, spec in outputs.items():
            key = f"outputs.{name}"
            if not isinstance(spec, dict):
                raise SiteError(f"{key}: expected a table")
            kind = _get(spec, "kind", key + ".kind")
            if kind not in OUTPUT_KINDS:
                raise SiteError(f"{key}.kind: unknown kind {kind!r}")
            self.output_names.append(name)
            self.output_kinds[name] = kind

    def _profiles(self, site):
        self.profiles = {}
        for name, spec in _mapping(site, "profiles").items():
            key = f"profiles.{name}"
            if not isinstance(spec, dict):
                raise SiteError(f"{key}: expected a table")
            self.profiles[name] = (
                _int(_get(spec, "active_ms", key + ".active_ms"), key + ".active_ms", 0, 3_600_000) * MS,
                _int(_get(spec, "restore_ms", key + ".restore_ms"), key + ".restore_ms", 0, 3_600_000) * MS,
                _int(spec.get("pulses", 1), key + ".pulses", 1, 1000),
                _int(spec.get("pulse_window_ms", 0), key + ".pulse_window_ms", 0, MAX_SECONDS * 1000) * MS,
            )

    def _areas(self, site):
        self.area_names = []
        self.area_index = {}
        self.a_entry_ns, self.a_exit_ns, self.a_bell_ns, self.a_fallback_ns = [], [], [], []
        self.a_swinger, self.a_sirens, self.a_strobes, self.a_zones = [], [], [], []
        self.a_buzzers = []
        self.a_fail_to_set = []
        self.a_bell_rearms, self.a_bell_max_ns, self.a_abort_ns, self.a_recent_ns = [], [], [], []
        self.a_final_door, self.a_holdup_fb = [], []
        for name, spec in _mapping(site, "areas").items():
            key = f"areas.{name}"
            if not isinstance(spec, dict):
                raise SiteError(f"{key}: expected a table")
            val = {k: _int(spec.get(k, d), f"{key}.{k}", 0,
                           10_000 if k in SMALL_AREA_KEYS else MAX_SECONDS)
                   for k, d in AREA_DEFAULTS.items()}
            self.area_index[name] = len(self.area_names)
            self.area_names.append(name)
            self.a_entry_ns.append(val["entry_delay_s"] * S)
            self.a_exit_ns.append(val["exit_delay_s"] * S)
            self.a_bell_ns.append(val["bell_cutoff_s"] * S)
            self.a_fallback_ns.append(val["fallback_s"] * S)
            self.a_swinger.append(val["swinger_limit"])
            exit_fault = spec.get("exit_fault", "alarm")
            if exit_fault not in EXIT_FAULTS:
                raise SiteError(f"{key}.exit_fault: expected one of {', '.join(EXIT_FAULTS)}, "
                                f"got {exit_fault!r}")
            self.a_fail_to_set.append(exit_fault == "fail_to_set")
            self.a_bell_rearms.append(val["bell_rearms"])
            self.a_bell_max_ns.append(val["bell_max_s"] * S)
            self.a_abort_ns.append(val["abort_window_s"] * S)
            self.a_recent_ns.append(val["recent_closing_s"] * S)
            self.a_final_door.append(_choice(spec.get("exit_mode", "timed"), EXIT_MODES,
                                             key + ".exit_mode") == "final_door")
            self.a_holdup_fb.append(HOLDUP_FALLBACKS.index(_choice(
                spec.get("holdup_fallback", "siren"), HOLDUP_FALLBACKS, key + ".holdup_fallback")))
            for field, kinds in (("sirens", self.a_sirens), ("strobes", self.a_strobes),
                                 ("buzzers", self.a_buzzers)):
                names = spec.get(field, [])
                if not isinstance(names, (list, tuple)):
                    raise SiteError(f"{key}.{field}: expected a list of output names")
                for out in names:
                    if out not in self.output_kinds:
                        raise SiteError(f"{key}.{field}: unknown output {out!r}")
                kinds.append(list(dict.fromkeys(names)))
            self.a_zones.append([])
        # output -> [(area, role)]: an output shared by areas is on while any area wants it
        self.out_members = {name: [] for name in self.output_names}
        for a in range(len(self.area_names)):
            for role, outs in enumerate((self.a_sirens[a], self.a_strobes[a], self.a_buzzers[a])):
                for out in outs:
                    self.out_members[out].append((a, role))
        self.a_outputs = [list(dict.fromkeys(self.a_sirens[a] + self.a_strobes[a] + self.a_buzzers[a]))
                          for a in range(len(self.area_names))]

    def _groups(self, site):
        self.group_names, self.group_index, self.g_window_ns, self.g_siren = [], {}, [], []
        for name, spec in _mapping(site, "groups").items():
            key = f"groups.{name}"
            if not isinstance(spec, dict):
                raise SiteError(f"{key}: expected a table")
            self.group_index[name] = len(self.group_names)
            self.group_names.append(name)
            self.g_window_ns.append(_int(_get(spec, "window_s", key + ".window_s"), key + ".window_s") * S)
            self.g_siren.append(_bool(spec.get("siren_on_verify", False), key + ".siren_on_verify"))

    def _zones(self, site):
        zones = site.get("zones", [])
        if not isinstance(zones, (list, tuple)):
            raise SiteError("zones: expected a list")
        self.zone_names, self.zone_index = [], {}
        cols = ("z_point", "z_type", "z_area", "z_act_ns", "z_rest_ns", "z_pulses", "z_pulse_ns",
                "z_invert", "z_silent", "z_groups", "z_grace_ns", "z_offline_alarm", "z_watch_ns",
                "z_cid", "z_momentary", "z_type_name")
        for c in cols:
            setattr(self, c, [])
        points = {}
        for i, spec in enumerate(zones):
            key = f"zones[{i}]"
            if not isinstance(spec, dict):
                raise SiteError(f"{key}: expected a table")
            name = _get(spec, "name", key + ".name")
            if not isinstance(name, str) or not name:
                raise SiteError(f"{key}.name: expected a non-empty string")
            if name in self.zone_index:
                raise SiteError(f"{key}.name: duplicate zone {name!r}")
            key = f"zones[{i}] ({name})"
            point = _int(_get(spec, "point", key + ".point"), key + ".point", 0, MAX_POINT)
            if point in points:
                raise SiteError(f"{key}.point: point {point} already used by zone {points[point]!r}")
            points[point] = name
            ztype = _get(spec, "type", key + ".type")
            if ztype not in ZONE_TYPES:
                raise SiteError(f"{key}.type: unknown zone type {ztype!r}")
            area = _get(spec, "area", key + ".area")
            if area not in self.area_index:
                raise SiteError(f"{key}.area: unknown area {area!r}")
            profile = _get(spec, "profile", key + ".profile")
            if profile not in self.profiles:
                raise SiteError(f"{key}.profile: unknown profile {profile!r}")
            opt = dict(ZONE_DEFAULTS)
            opt.update({k: spec[k] for k in ZONE_DEFAULTS if k in spec})
            silent = opt["silent"]
            if silent is not None:
                _bool(silent, key + ".silent")
            groups = opt["groups"]
            if not isinstance(groups, (list, tuple)):
                raise SiteError(f"{key}.groups: expected a list of group names")
            for g in groups:
                if g not in self.group_index:
                    raise SiteError(f"{key}.groups: unknown group {g!r}")
            cid = opt["cid"]
            if cid is not None:
                _int(cid, key + ".cid", 1, 999)
            z = len(self.zone_names)
            self.zone_index[name] = z
            self.zone_names.append(name)
            act, rest, pulses, pulse_ns = self.profiles[profile]
            a = self.area_index[area]
            self.a_zones[a].append(z)
            self.z_point.append(point)
            self.z_type.append(ZONE_TYPES.index(ztype))
            self.z_type_name.append(ztype)
            self.z_area.append(a)
            self.z_act_ns.append(act)
            self.z_rest_ns.append(rest)
            self.z_pulses.append(pulses)
            self.z_pulse_ns.append(pulse_ns)
            self.z_invert.append(_bool(opt["invert"], key + ".invert"))
            self.z_silent.append(-1 if silent is None else int(silent))
            self.z_groups.append(list(dict.fromkeys(self.group_index[g] for g in groups)))
            self.z_grace_ns.append(_int(opt["offline_grace_s"], key + ".offline_grace_s") * S)
            off = opt["offline_alarm"]
            if off is None:   # default: an armed intruder zone that goes offline is an alarm
                off = ztype in ("perimeter", "entry_exit", "interior")
            self.z_offline_alarm.append(_bool(off, key + ".offline_alarm"))
            self.z_watch_ns.append(_int(opt["watch_days"], key + ".watch_days", 0, MAX_DAYS) * 86400 * S)
            self.z_cid.append(0 if cid is None else cid)
            self.z_momentary.append(_bool(opt["momentary"], key + ".momentary"))
        self.n_points = (max(points) + 1) if points else 0
