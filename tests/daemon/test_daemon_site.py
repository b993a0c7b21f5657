"""The daemon as a separate process against the emulated site and a real Mosquitto: every
event field, retained state and last will, the fallback siren with and without the platform's
acknowledgement, arming state surviving SIGKILL, and platform commands refused when forged,
stale or replayed."""
import json
import re
import subprocess
import sys
import time

import pytest

from guardroom.cmdauth import sign
from guardroom.emulators.site import EmulatedSite

HMAC_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
FIELDS = {"id", "seq", "ts", "kind", "cid", "area", "zone", "incident", "verified", "silent",
          "drill", "user", "text"}


def fast(doc):
    """Short timers so the tests run in seconds."""
    doc["areas"]["building"]["fallback_s"] = 2
    doc["areas"]["building"]["exit_delay_s"] = 0
    doc["areas"]["perimeter"]["fallback_s"] = 2
    doc["mqtt"]["heartbeat_s"] = 1.5
    doc["mqtt"]["cmd_hmac_key"] = HMAC_KEY


@pytest.fixture
def site():
    with EmulatedSite(patch=fast) as s:
        s.platform.hmac_key = bytes.fromhex(HMAC_KEY)
        yield s


@pytest.fixture
def site_no_ack():
    with EmulatedSite(patch=fast, auto_ack=False) as s:
        s.platform.hmac_key = bytes.fromhex(HMAC_KEY)
        yield s


def is_alarm(zone):
    return lambda e: e["kind"] == "alarm" and e["zone"] == zone


def wait_zone_normal(p, zone, key="north-school/ctl-1"):
    """The button is released and debounced: a reset is accepted (the retained state may
    still be the one from before the press, so ask the engine itself)."""
    for _ in range(100):
        sent = p.send_cmd("ctl-1", "reset", area="building", signed=True)
        r = p.wait_result(lambda r: r.get("nonce") == sent["nonce"], 10)
        if r["ok"] or "still active" not in str(r.get("reason")):
            return r
        time.sleep(0.05)
    raise AssertionError(r)


def test_panic_event_carries_every_field(site):
    site.press("panic_reception")
    ev = site.platform.wait_for(is_alarm("panic_reception"), 10)
    assert FIELDS <= set(ev)
    assert ev["id"] == f"ctl-1-{ev['seq']}"
    assert ev["cid"] == "1120" and ev["area"] == "building"
    assert ev["silent"] is True and ev["verified"] is False and ev["drill"] is False
    assert ev["incident"] >= 1 and "panic_reception" in ev["text"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev["ts"])
    site.release("panic_reception")
    assert wait_zone_normal(site.platform, "panic_reception")["ok"]   # resets
    # a hold-up's restore is reported at reset, not at release (it latched the alarm)
    site.platform.wait_for(lambda e: e["kind"] == "restore" and e["zone"] == "panic_reception",
                           10)
    assert not site.platform.gaps and site.platform.duplicates == 0


def test_retained_state_and_last_will(site):
    key = "north-school/ctl-1"
    st = site.platform.wait_until(lambda: site.platform.states.get(key), 10)
    assert set(st["areas"]) == {"building", "perimeter"}
    assert st["zones"]["panic_reception"]["state"] == "normal"
    site.press("panic_office")
    site.platform.wait_until(
        lambda: site.platform.states[key]["zones"]["panic_office"]["state"] == "active", 10)
    site.kill_daemon()                       # no clean goodbye: the broker sends the will
    site.platform.wait_until(lambda: site.platform.status.get(key) == "offline", 15)


def test_silent_alarm_without_ack_sounds_the_siren(site_no_ack):
    site = site_no_ack
    assert not site.output_on("siren")
    site.press("panic_reception")
    ev = site.platform.wait_for(is_alarm("panic_reception"), 10)
    assert ev["silent"]
    assert site.wait_output("siren", True, 15), "fallback siren never sounded"
    site.platform.wait_for(lambda e: e["kind"] == "fallback", 10)


def test_platform_ack_stops_the_fallback(site):
    site.press("panic_reception")
    ev = site.platform.wait_for(is_alarm("panic_reception"), 10)
    site.platform.wait_until(lambda: any(a.get("incident") == ev["incident"]
                                         for a in site.platform.acks_sent), 10)
    # the fallback time is 2 s: the siren must still be silent well after it
    assert not site.wait_output("siren", True, 4.0)
    assert not any(e["kind"] == "fallback" for e in site.platform.events)


def test_late_ack_silences_a_fallback_siren(site_no_ack):
    site = site_no_ack
    site.press("panic_reception")
    ev = site.platform.wait_for(is_alarm("panic_reception"), 10)
    assert site.wait_output("siren", True, 15)
    site.platform.send_ack("ctl-1", ev["incident"], "op1")
    assert site.wait_output("siren", False, 10), "ack did not stop the fallback siren"


def test_unsigned_forged_and_replayed_acks_are_refused(site_no_ack):
    """Anyone who may publish on the broker could send an ack: it must carry the platform's
    signature, be fresh and new, or the silent alarm's fallback siren still sounds, and the
    platform hears that an ack was refused."""
    site, p = site_no_ack, site_no_ack.platform
    site.press("panic_reception")
    ev = p.wait_for(is_alarm("panic_reception"), 10)
    p.send_ack("ctl-1", ev["incident"], "intruder", signed=False)
    forged = dict(sign({"incident": ev["incident"] + 1, "user": "x"}, p.hmac_key),
                  incident=ev["incident"])
    p.client.publish("guardroom/north-school/ctl-1/ack", json.dumps(forged), qos=1)
    assert site.wait_output("siren", True, 15), "an unsigned ack silenced the fallback"
    refused = p.wait_for(lambda e: e["kind"] == "ack_refused" and "missing auth" in e["text"],
                         10)
    assert str(ev["incident"]) in refused["text"]
    p.wait_for(lambda e: e["kind"] == "ack_refused" and "bad signature" in e["text"], 10)
    good = p.send_ack("ctl-1", ev["incident"], "op1")
    assert site.wait_output("siren", False, 10), "a signed ack did not stop the siren"
    site.release("panic_reception")
    assert wait_zone_normal(p, "panic_reception")["ok"]               # resets
    p.wait_for(lambda e: e["kind"] == "restore" and e["zone"] == "panic_reception", 10)
    site.press("panic_office")                       # a new incident, then the old ack again
    ev2 = p.wait_for(is_alarm("panic_office"), 10)
    assert ev2["incident"] != ev["incident"]
    p.client.publish("guardroom/north-school/ctl-1/ack",
                     json.dumps(dict(good, incident=ev2["incident"])), qos=1)
    p.client.publish("guardroom/north-school/ctl-1/ack", json.dumps(good), qos=1)
    p.wait_for(lambda e: e["kind"] == "ack_refused" and "replayed" in e["text"], 10)
    assert site.wait_output("siren", True, 15), "a replayed ack silenced the new incident"


def test_command_accepted_once_is_refused_after_sigkill(site):
    """The sender's counter is on disk before the command acts: replaying a captured command
    after a crash and restart is refused (the nonce memory died with the process)."""
    p = site.platform
    good = p.send_cmd("ctl-1", "drill_start", area="building", signed=True)
    assert p.wait_result(lambda r: r.get("nonce") == good["nonce"], 10)["ok"] is True
    site.kill_daemon()
    # the new process must be the one that is online (not the old retained status)
    p.wait_until(lambda: p.status.get("north-school/ctl-1") == "offline", 15)
    site.start_daemon()
    n_before = len(p.results)
    p.client.publish("guardroom/north-school/ctl-1/cmd", json.dumps(good), qos=1)
    r = p.wait_until(lambda: next((r for r in p.results[n_before:]
                                   if r.get("nonce") == good["nonce"]), None), 10)
    assert r["ok"] is False and r["reason"] == "replayed", r
    # an older captured command (never delivered) is refused as well
    held = p.send_cmd("ctl-1", "drill_stop", area="building", signed=True,
                      ts=good["ts"] - 1)
    r = p.wait_result(lambda r: r.get("nonce") == held["nonce"], 10)
    assert r["ok"] is False and r["reason"] == "replayed", r
    fresh = p.send_cmd("ctl-1", "drill_stop", area="building", signed=True)
    assert p.wait_result(lambda r: r.get("nonce") == fresh["nonce"], 10)["ok"] is True


def test_deep_or_huge_command_gets_a_refusal(site):
    p = site.platform
    n = len(p.results)
    p.send_cmd("ctl-1", "", raw=b"[" * 100_000 + b"]" * 100_000)
    r = p.wait_until(lambda: p.results[n:] and p.results[n], 10)
    assert r["ok"] is False and r["reason"] == "malformed"
    p.client.publish("guardroom/north-school/ctl-1/ack", b"{" * 100_000, qos=1)
    p.wait_for(lambda e: e["kind"] == "ack_refused" and "malformed" in e["text"], 10)
    site.stop_daemon()
    log = open(site.log_path, encoding="utf-8", errors="replace").read()
    assert "Exception in callback" not in log and "Traceback" not in log


def test_arming_survives_sigkill_and_nothing_is_lost(site):
    p = site.platform
    sent = p.send_cmd("ctl-1", "arm_away", area="perimeter", signed=True)
    res = p.wait_result(lambda r: r.get("nonce") == sent["nonce"], 10)
    assert res["ok"], res
    p.wait_for(lambda e: e["kind"] == "area" and e["area"] == "perimeter"
               and e["cid"] == "3401", 10)
    site.press("panic_office")
    p.wait_for(is_alarm("panic_office"), 10)
    site.kill_daemon()
    p.states.pop("north-school/ctl-1", None)   # wait for the restarted daemon's own state
    site.start_daemon()
    st = p.wait_until(lambda: p.states.get("north-school/ctl-1", {}).get("areas", {})
                      .get("perimeter", {}).get("state") == "armed_away"
                      and p.states["north-school/ctl-1"], 15)
    assert st["areas"]["building"]["incident"] >= 1, "open incident forgotten"
    # armed without being re-armed: a beam pair alarms at once
    site.press("beam_north_a")
    p.wait_for(is_alarm("beam_north_a"), 10)
    # at-least-once: an event whose PUBACK died with the process is sent again (same id,
    # deduplicated by the platform); never a gap
    assert not p.gaps
    seqs = [e["seq"] for e in p.events]
    assert seqs == sorted(seqs) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_forged_stale_and_replayed_commands_are_refused(site):
    p = site.platform

    def result(msg):
        return p.wait_result(lambda r: r.get("nonce") == msg["nonce"], 10)

    assert result(p.send_cmd("ctl-1", "disarm", area="building", code="0000"))["ok"] is False
    stale = p.send_cmd("ctl-1", "disarm", area="building", signed=True,
                       ts=int(time.time() * 1000) - 3_600_000)
    r = result(stale)
    assert r["ok"] is False and "stale" in r["reason"]
    forged = p.send_cmd("ctl-1", "disarm", area="building", signed=True,
                        extra={"sig": "00" * 32})
    assert result(forged)["ok"] is False
    good = p.send_cmd("ctl-1", "drill_start", area="building", signed=True)
    assert result(good)["ok"] is True
    n_before = len([r for r in p.results if r.get("nonce") == good["nonce"]])
    p.client.publish("guardroom/north-school/ctl-1/cmd", json.dumps(good), qos=1)
    p.wait_until(lambda: len([r for r in p.results if r.get("nonce") == good["nonce"]])
                 > n_before, 10)
    replay = [r for r in p.results if r.get("nonce") == good["nonce"]][-1]
    assert replay["ok"] is False and "replay" in replay["reason"]
    code_ok = p.send_cmd("ctl-1", "drill_stop", area="building", code="1234")
    assert result(code_ok)["ok"] is True


def test_event_log_chain_verifies(site):
    site.press("panic_reception")
    site.platform.wait_for(is_alarm("panic_reception"), 10)
    r = subprocess.run([sys.executable, "-m", "guardroom", "log", "--config", site.config_path,
                        "--verify"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hash chain intact" in r.stdout


def test_state_reports_field_devices(site):
    key = "north-school/ctl-1"
    p = site.platform
    st = p.wait_until(lambda: (p.states.get(key, {}).get("devices", {}).get("front", {})
                               .get("online") and p.states[key]), 15)
    dev = st["devices"]
    assert dev["beams"]["kind"] == "modbus" and dev["beams"]["online"] is True
    assert dev["fence"]["crc_errors"] == 0
    assert dev["front"]["secure_channel"] is True
    site.modbus_power("rs485-beams", 1, False)       # the beam module stops answering
    p.wait_until(lambda: p.states[key]["devices"]["beams"]["online"] is False, 20)


def test_no_secret_reaches_the_log(site):
    p = site.platform
    site.readers["front"].keys("987654#")                 # a wrong PIN
    p.wait_for(lambda e: e["cid"] == "1461", 15)
    reader = site.readers["front"]
    reader.card("12345678")                              # a good card: the strike opens
    assert reader.wait_for(lambda: any(reader.output_pulses), 15)
    site.stop_daemon()
    log = open(site.log_path, encoding="utf-8", errors="replace").read()
    assert "987654" not in log
    assert "0F1E2D3C4B5A69788796A5B4C3D2E1F0".lower() not in log.lower()
    assert HMAC_KEY not in log
    assert "pbkdf2_sha256" not in log


def test_sounding_siren_sounds_again_after_sigkill(site):
    """Perimeter armed, both beams broken: the siren sounds. A SIGKILL and a restart must
    leave it sounding (the restored orders reach the pin), and the retained state says what
    the pin was told."""
    p = site.platform
    sent = p.send_cmd("ctl-1", "arm_away", area="perimeter", signed=True)
    assert p.wait_result(lambda r: r.get("nonce") == sent["nonce"], 10)["ok"]
    site.press("beam_north_a")
    site.press("beam_north_b")
    assert site.wait_output("siren", True, 15), "verified perimeter alarm did not sound"
    site.kill_daemon()
    key = "north-school/ctl-1"
    p.wait_until(lambda: p.status.get(key) == "offline", 15)
    p.states.pop(key, None)
    site.start_daemon()
    assert site.wait_output("siren", True, 10), "siren silent after the restart"
    st = p.wait_until(lambda: p.states.get(key), 10)
    assert st["outputs"]["siren"] is True


def test_duress_code_in_a_platform_or_hass_command_is_covert(site):
    """A command with the guard's duress code (Home Assistant sends exactly this: REMOTE_CODE)
    disarms like the code, answers like the code, and sends a silent duress alarm (1121) to
    the platform; the retained state (Home Assistant's screen) shows no incident."""
    p, key = site.platform, "north-school/ctl-1"
    arm = p.send_cmd("ctl-1", "arm_away", area="perimeter", code="1234")
    assert p.wait_result(lambda r: r.get("nonce") == arm["nonce"], 10)["ok"]
    dis = p.send_cmd("ctl-1", "disarm", area="perimeter", code="4321")    # duress code
    res = p.wait_result(lambda r: r.get("nonce") == dis["nonce"], 10)
    assert res["ok"] is True and "duress" not in json.dumps(res)
    assert res["decisions"] == [d for d in res["decisions"] if d != "alarm"]
    ev = p.wait_for(lambda e: e["cid"] == "1121", 10)
    assert ev["silent"] is True and ev["area"] == "perimeter" and ev["user"] == "guard"
    p.wait_for(lambda e: e["kind"] == "area" and e["area"] == "perimeter"
               and e["cid"] == "1401", 10)
    # the platform acknowledges it (auto-ack); the site still shows nothing
    p.wait_until(lambda: any(a.get("incident") == ev["incident"] for a in p.acks_sent), 10)
    st = p.wait_until(lambda: (p.states.get(key, {}).get("areas", {}).get("perimeter", {})
                               .get("state") == "disarmed") and p.states[key], 10)
    assert all(a["incident"] == 0 for a in st["areas"].values()), st["areas"]
    assert site.wait_output("siren", True, 4.0) is False


def _log_cli(site, *args):
    return subprocess.run([sys.executable, "-m", "guardroom", "log", "--config",
                           site.config_path, "--verify", *args],
                          capture_output=True, text=True, timeout=60)


def test_published_log_head_catches_a_rewritten_or_cut_log(site):
    """The head (row, hash) goes out in the retained state; a log whose chain was recomputed
    after an edit, or whose tail was cut, still passes a bare --verify but fails --head."""
    import os
    import sqlite3

    from guardroom.eventlog import canonical, chain_hash

    p, key = site.platform, "north-school/ctl-1"
    site.press("panic_reception")
    p.wait_for(is_alarm("panic_reception"), 10)
    st = p.wait_until(lambda: p.states.get(key, {}).get("log_head", {}).get("row", 0) >= 2
                      and p.states[key], 10)
    site.stop_daemon()
    db_path = os.path.join(site.config["storage"]["dir"], "events.sqlite")
    db = sqlite3.connect(db_path)
    head_row = db.execute("SELECT max(row) FROM log").fetchone()[0]
    head_hash = db.execute("SELECT hash FROM log WHERE row=?", (head_row,)).fetchone()[0]
    published = st["log_head"]
    assert published["row"] <= head_row
    pin = f"{head_row}:{head_hash}"
    r = _log_cli(site, "--head", pin)
    assert r.returncode == 0 and "published hash" in r.stdout, r.stdout + r.stderr
    # an attacker rewrites the alarm's text and recomputes the whole chain
    rows = db.execute("SELECT row, body FROM log ORDER BY row").fetchall()
    prev = "0" * 64
    for row, body in rows:
        rec = json.loads(body)
        if rec.get("kind") == "alarm":
            rec["text"] = "nothing happened"
        body = canonical(rec)
        prev = chain_hash(prev, body)
        db.execute("UPDATE log SET body=?, hash=? WHERE row=?", (body, prev, row))
    db.commit()
    assert _log_cli(site).returncode == 0                    # the bare chain still verifies
    r = _log_cli(site, "--head", pin)
    assert r.returncode == 1 and "TAMPERED" in r.stdout, r.stdout
    # ... or deletes the last rows
    db.execute("DELETE FROM log WHERE row >= ?", (head_row - 1,))
    db.commit()
    db.close()
    assert _log_cli(site).returncode == 0
    r = _log_cli(site, "--head", pin)
    assert r.returncode == 1 and "missing" in r.stdout, r.stdout


def test_storage_is_private_and_check_warns_about_plain_tcp(site):
    import os
    import stat

    site.press("panic_reception")
    site.platform.wait_for(is_alarm("panic_reception"), 10)
    d = site.config["storage"]["dir"]
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    files = [f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f))]
    assert "auth.json" in files or files
    for f in files:
        assert stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode) == 0o600, f
    r = subprocess.run([sys.executable, "-m", "guardroom", "check", "--config",
                        site.config_path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning: mqtt: code commands" in r.stdout
    assert "plain TCP" in r.stdout


def test_log_redaction_keeps_prose():
    from guardroom.logsetup import redact

    text = "it holds code hashes and keys: chmod 640 it (owner root)"
    assert redact(text) == text
    assert redact("cmd_hmac_key = abcd password: hunter2 pin=1234") == \
        "cmd_hmac_key = <hidden> password: <hidden> pin=<hidden>"


def test_unit_file_makes_storage_private():
    import os

    unit = open(os.path.join(os.path.dirname(__file__), "..", "..", "packaging",
                             "guardroom.service"), encoding="utf-8").read()
    assert "\nUMask=0077\n" in unit and "\nStateDirectoryMode=0700\n" in unit
