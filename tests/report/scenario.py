"""The scripted drill the report tests play on the emulated site (also run by hand to make the
pictures in docs/images: ``python tests/report/scenario.py WORKDIR``)."""
import sys
import time

HMAC_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def fast(doc):
    """Short timers so a drill takes seconds."""
    doc["areas"]["building"]["fallback_s"] = 2
    doc["areas"]["building"]["exit_delay_s"] = 0
    doc["mqtt"]["heartbeat_s"] = 1.5
    doc["mqtt"]["cmd_hmac_key"] = HMAC_KEY


def play_drill(site) -> None:
    """A drill in 'building': the reception panic pressed and acknowledged, reset; then pressed
    again with the platform silent, so the fallback siren sounds, then reset. The office panic
    is never pressed. Commands come signed from the platform."""
    p = site.platform
    p.hmac_key = bytes.fromhex(HMAC_KEY)

    def cmd(name):
        for _ in range(100):   # a reset waits for the released button's debounce
            m = p.send_cmd("ctl-1", name, area="building", signed=True)
            r = p.wait_result(lambda r: r.get("nonce") == m["nonce"], 10)
            if r["ok"] or "still active" not in str(r.get("reason")):
                break
            time.sleep(0.05)
        assert r["ok"], r

    def released(zone, key="north-school/ctl-1"):
        p.wait_until(lambda: (p.states.get(key) or {}).get("zones", {}).get(zone, {})
                     .get("state") == "normal", 15)

    def kind(k, n=1):
        return p.wait_until(lambda: (lambda got: got if len(got) >= n else None)(
            [e for e in p.events if e["kind"] == k]), 15)[n - 1]

    cmd("drill_start")
    site.press("panic_reception")
    kind("alarm")
    p.wait_until(lambda: p.acks_sent, 10)
    site.release("panic_reception")
    released("panic_reception")
    cmd("reset")                           # a hold-up's restore is reported at reset
    kind("restore")
    kind("reset")
    p.auto_ack = False                     # the platform stays silent this time
    site.press("panic_reception")
    kind("alarm", 2)
    assert site.wait_output("siren", True, 15), "fallback siren never sounded"
    site.release("panic_reception")
    released("panic_reception")
    cmd("reset")
    kind("restore", 2)
    kind("reset", 2)
    assert site.wait_output("siren", False, 10)
    cmd("drill_stop")
    kind("drill", 2)
    p.auto_ack = True


if __name__ == "__main__":
    from guardroom.emulators.site import EmulatedSite

    with EmulatedSite(workdir=sys.argv[1], patch=fast) as s:
        play_drill(s)
        s.stop_daemon()
    print(f"{sys.argv[1]}/site.toml")
