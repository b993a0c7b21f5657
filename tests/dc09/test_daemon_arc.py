"""The daemon with both paths, as a separate process against the emulated site, a real
Mosquitto and the ARC emulator (pysiaalarm): an alarm at the platform and at the ARC, each
path's failure told over the other, the fallback siren decided by "no path delivered", and
failover to the backup receiver."""
import time

import pytest

from guardroom.emulators.site import EmulatedSite

from .conftest import KEY128

HMAC_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def fast(doc):
    doc["areas"]["building"]["fallback_s"] = 2
    doc["areas"]["building"]["exit_delay_s"] = 0
    doc["areas"]["perimeter"]["fallback_s"] = 2
    doc["mqtt"]["heartbeat_s"] = 1.5
    doc["mqtt"]["cmd_hmac_key"] = HMAC_KEY


def site_with(n_arc: int, auto_ack: bool = True) -> EmulatedSite:
    s = EmulatedSite(patch=fast, arc=n_arc, arc_key=KEY128, auto_ack=auto_ack)
    s.start()
    s.platform.hmac_key = bytes.fromhex(HMAC_KEY)
    return s


@pytest.fixture
def site():
    s = site_with(1)
    yield s
    s.stop()


def adm(cid, zone=None):
    return lambda r: r["type"] == "ADM-CID" and r["cid"] == cid and \
        (zone is None or r["zone"] == zone)


def released(p, zone, key="north-school/ctl-1"):
    """The retained state shows the zone back to normal: a hold-up's restore (3120) is
    reported at reset, so a test resets once the button is released."""
    p.wait_until(lambda: (p.states.get(key) or {}).get("zones", {}).get(zone, {})
                 .get("state") == "normal", 10)


def reset(p, area="building"):
    for _ in range(100):   # the released button's debounce may still run
        sent = p.send_cmd("ctl-1", "reset", area=area, signed=True)
        r = p.wait_result(lambda r: r.get("nonce") == sent["nonce"], 10)
        if r["ok"] or "still active" not in str(r.get("reason")):
            break
        time.sleep(0.05)
    assert r["ok"], r


def test_alarm_reaches_the_platform_and_the_arc(site):
    site.press("panic_reception")
    ev = site.platform.wait_for(lambda e: e["kind"] == "alarm", 10)
    got = site.arc_wait(adm("1120"), 10)
    assert got["encrypted"] and got["area"] == "01" and got["zone"] == "001"
    assert ev["zone"] == "panic_reception"
    key = "north-school/ctl-1"
    # the state published at the alarm may predate the ARC's ACK: the delivery publishes it
    # again, with the ARC outbox empty
    arc = site.platform.wait_until(
        lambda: (a := (site.platform.states.get(key) or {}).get("arc") or {}).get("up") and
        a.get("outbox_depth") == 0 and a, 10)
    assert arc["receiver"] == "arc-primary"
    site.release("panic_reception")
    released(site.platform, "panic_reception")
    reset(site.platform)
    site.arc_wait(adm("3120"), 10)


def test_each_path_failure_is_told_over_the_other(site):
    site.arc_wait(lambda r: r["type"] == "NULL", 10)          # the ARC path is up
    site.arc_down()
    tr = site.platform.wait_for(lambda e: e["cid"] == "1350" and "ARC path" in e["text"], 20)
    assert tr["kind"] == "trouble"
    site.arc_up()
    site.platform.wait_for(lambda e: e["cid"] == "3350" and "ARC path" in e["text"], 20)
    site.stop_broker()
    site.arc_wait(adm("1350", "001"), 20)                    # zone 1 = the platform path
    site.start_broker()
    site.arc_wait(adm("3350", "001"), 20)


def test_arc_receipt_stands_in_for_the_platform_when_mqtt_is_down():
    """MQTT down, ARC up: the silent alarm reaches the ARC (a manned centre), so no local
    siren (without the second path it sounds after fallback_s: test_daemon_site)."""
    s = site_with(1, auto_ack=False)
    try:
        s.arc_wait(lambda r: r["type"] == "NULL", 10)
        s.stop_broker()
        s.arc_wait(adm("1350", "001"), 20)                    # the daemon knows MQTT is down
        s.press("panic_reception")
        s.arc_wait(adm("1120"), 10)
        assert not s.wait_output("siren", True, 4.0)          # fallback_s is 2 s
    finally:
        s.stop()


def test_failover_to_the_backup_receiver():
    s = site_with(2)
    try:
        s.arc_wait(lambda r: r["type"] == "NULL", 10, i=0)
        s.arc_down(0)
        t0 = time.monotonic()
        s.press("panic_reception")
        got = s.arc_wait(adm("1120"), 20, i=1)
        assert got["zone"] == "001"
        assert time.monotonic() - t0 < 15
    finally:
        s.stop()


def test_arc_events_survive_sigkill_and_the_key_stays_out_of_the_log(site):
    """The ARC is down when a panic is pressed; the daemon is SIGKILLed before it could
    deliver; after the restart (and the ARC's return) the panic reaches the ARC in order with
    its restore. The AES key never reaches the daemon log."""
    site.arc_wait(lambda r: r["type"] == "NULL", 10)
    site.arc_down()
    site.press("panic_reception")
    site.platform.wait_for(lambda e: e["kind"] == "alarm", 10)
    site.release("panic_reception")
    released(site.platform, "panic_reception")
    reset(site.platform)
    site.platform.wait_for(lambda e: e["kind"] == "restore", 10)
    site.kill_daemon()
    site.arc_up()
    site.start_daemon()
    site.arc_wait(adm("3120", "001"), 20)
    cids = [r["cid"] for r in site.arcs[0].received if r["type"] == "ADM-CID"]
    assert cids.index("1120") < cids.index("3120")
    site.stop_daemon()
    log = open(site.log_path, encoding="utf-8", errors="replace").read()
    assert KEY128.lower() not in log.lower() and "dc09" in log
