"""80-column text: tables shrink to fit, usage lines wrap at their choices."""
from guardroom.console.commands import REGISTRY
from guardroom.console.render import fit, kv, table, usage


def test_table_fits_and_wraps_instead_of_cutting():
    rows = [("zone_with_a_very_long_name_indeed_" * 2, "perimeter", "x" * 60)]
    out = table(["ZONE", "TYPE", "TEXT"], rows)
    assert all(len(line) <= 79 for line in out)
    assert "~" not in "".join(out)
    assert "".join(out[2:]).replace(" ", "").count("x") == 60        # nothing lost
    assert out[0].startswith("ZONE") and set(out[1]) <= {"-", " "}


def test_short_columns_are_never_cut_while_long_ones_can_give_way():
    rows = [(1, "panic_reception", "panic", "building", "normal", "latched", 3,
             "11-28 03:58"),
            (14, "beam_north_fence", "perimeter", "perimeter", "offline",
             "bypassed,offline,latched", 12, "11-28 03:58")]
    out = table(["#", "ZONE", "TYPE", "AREA", "STATE", "FLAGS", "TRIPS", "CHANGED"], rows)
    assert all(len(line) <= 79 for line in out)
    assert "11-28 03:58" in out[2] and "panic_reception" in out[2]
    assert "beam_north_fence" in out[3] and "perimeter" in out[3]
    flags_col = out[3].index("bypassed")
    assert (out[3][flags_col:].split()[0] + out[4][flags_col:].split()[0]) == \
        "bypassed,offline,latched"          # wrapped under itself, nothing lost
    # room enough: nothing wraps at all
    out = table(["DEVICE", "LAST ERROR"], [("io1", "timeout: no answer from address 3")])
    assert len(out) == 3 and out[2].endswith("timeout: no answer from address 3")


def test_table_cells_render_plainly():
    out = table(["A", "B", "C"], [(None, True, ["x", "y"])])
    assert out[2].split() == ["-", "yes", "x,y"]


def test_kv_wraps_values_under_themselves():
    out = kv([("last_error", "word " * 30)])
    assert all(len(line) <= 79 for line in out) and len(out) > 1
    assert out[1].startswith(" " * len("last_error  "))


def test_every_usage_and_fit_stay_inside_79_columns():
    for cmd in REGISTRY.values():
        assert cmd.help or cmd.summary, cmd.name
        for line in usage(cmd.usage):
            assert len(line) <= 79, line
    long = "  refused: " + "zone door_main is open and more words follow " * 3
    pieces = fit(long)
    assert len(pieces) > 1 and all(len(p) <= 79 for p in pieces)
    assert pieces[1].startswith("    ")
