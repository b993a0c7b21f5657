"""The `guardroom` command: delegation of options to emulators, benchmarks and the demo, the
code hasher, and the core benchmark producing figures."""
import json
import subprocess
import sys

from guardroom.codes import verify_code


def run(*args, input=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "guardroom", *args], capture_output=True,
                          text=True, input=input, timeout=timeout)


def test_options_reach_the_delegated_modules():
    for args in (("demo", "--help"), ("emulate", "gpio", "--help"),
                 ("emulate", "broker", "--help"), ("bench", "e2e", "--help")):
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert "usage:" in r.stdout
    assert "--interactive" in run("demo", "--help").stdout


def test_hash_code_from_stdin_verifies():
    r = run("hash-code", "--stdin", input="4826\n")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert "4826" not in line and verify_code("4826", line)
    bad = run("hash-code", "--stdin", input="12\n")
    assert bad.returncode == 2 and "4 to 12 digits" in bad.stderr


def test_core_benchmark_prints_figures():
    r = run("bench", "core", "--repeats", "1", "--samples", "20000", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    for build in ("compiled", "interpreted"):
        for stream in ("normal", "flood"):
            assert data["builds"][build][stream]["batch"] > 0
