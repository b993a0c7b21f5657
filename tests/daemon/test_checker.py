"""`guardroom check` as the installer runs it: every problem at once (schema errors do not
hide cross-references), a non-UTF-8 or broken file is one clear line, never a traceback."""
import subprocess
import sys

from minimal_config import MINIMAL


def check(tmp_path, text=None, data=None):
    f = tmp_path / "site.toml"
    if data is not None:
        f.write_bytes(data)
    else:
        f.write_text(text)
    return subprocess.run([sys.executable, "-m", "guardroom", "check", "-c", str(f)],
                          capture_output=True, text=True, timeout=60)


def test_non_utf8_file_is_one_clear_problem(tmp_path):
    r = check(tmp_path, data=MINIMAL.replace('name = "s"', 'name = "s\xe9"').encode("latin-1"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "is not UTF-8 text: byte 0xe9 on line 3" in r.stderr


def test_schema_errors_and_unknown_point_reported_together(tmp_path):
    text = (MINIMAL.replace('point = "p1"\ntype', 'point = "p9"\ntype')
            .replace("[areas.main]", "[areas.main]\nexit_delay_s = 999"))
    r = check(tmp_path, text)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "areas.main.exit_delay_s" in r.stderr and "above the maximum 255" in r.stderr
    assert "zones[0].point" in r.stderr and "no driver declares a point named 'p9'" \
        in r.stderr


def test_strobe_listed_as_siren_and_mistyped_area_named(tmp_path):
    text = MINIMAL.replace("[areas.main]", '[areas.main]\nsirens = ["lamp"]\nbogus = 1') \
        .replace('area = "main"', 'area = "mian"') + """
[[drivers.gpio.output]]
name = "lamp"
pin = 22
kind = "strobe"
"""
    r = check(tmp_path, text)
    assert "output 'lamp' is a strobe, not a siren" in r.stderr
    assert "no area named 'mian' (did you mean 'main'?)" in r.stderr
    assert "areas.main.bogus" in r.stderr


def test_good_file_summary(tmp_path):
    r = check(tmp_path, MINIMAL)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "1 zone(s): 1 panic" in r.stdout


def test_readers_table_must_name_a_reader(tmp_path):
    r = check(tmp_path, MINIMAL + '\n[readers.front]\narea = "main"\n')
    assert r.returncode == 2
    assert "readers.front" in r.stderr and "must be a reader's name; readers: none" in r.stderr


def test_reference_gives_meaning_and_units():
    from guardroom.configdoc import render

    text = render()
    rows = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| `")}
    for key in ("areas.<name>.entry_delay_s", "areas.<name>.exit_delay_s", "zones[].name",
                "zones[].point", "zones[].type", "zones[].area", "zones[].groups",
                "zones[].offline_grace_s", "profiles.<name>.pulse_window_ms",
                "users[].enabled", "sabotage.window_s", "areas.<name>.bell_cutoff_s"):
        assert not rows[key].rstrip().endswith("|  |"), key
    for key in ("areas.<name>.entry_delay_s", "zones[].offline_grace_s", "sabotage.window_s"):
        assert "seconds" in rows[key], key
    for profile in ("polled", "beam", "panic"):
        assert f"| `{profile}` |" in text
    assert "(1-255 min)" not in text
