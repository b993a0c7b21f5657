"""The chatter guard end to end: the daemon as a process on the emulated site, an input
flooded at 50 k edges/s through the mock pin factory's wire. The platform gets a sensor
trouble (CID 380) for the zone, the zone's status shows the counts, another input still
alarms, and the trouble restores once the input has been quiet."""
import threading

from guardroom.emulators.site import EmulatedSite


def patch(doc):
    doc["drivers"]["gpio"]["chatter_quiet_s"] = 1.0
    # the flooded zone must not alarm from its sampled level: a technical zone
    doc["zones"][1]["profile"] = "technical"
    assert doc["zones"][1]["name"] == "panic_office"


def test_flooded_input_raises_chatter_trouble_and_restores():
    with EmulatedSite(patch=patch) as site:
        p = site.platform
        p.wait_until(lambda: p.states, 10)
        result = {}
        flood = threading.Thread(
            target=lambda: result.update(site.gpio.burst(27, 50_000, 20)))   # 1 s at 50 k/s
        flood.start()
        try:
            trouble = p.wait_for(lambda e: e["cid"] == "1380" and e["zone"] == "panic_office",
                                 10)
            assert trouble["kind"] == "trouble" and "chattering" in trouble["text"]
            # another input still alarms during the flood
            site.press("panic_reception")
            p.wait_for(lambda e: e["kind"] == "alarm" and e["zone"] == "panic_reception", 10)
        finally:
            flood.join(60)
        assert result["count"] == 50_000 and result["heard"] < 5_000, result
        p.wait_until(lambda: p.states and next(iter(p.states.values()))["zones"]
                     ["panic_office"]["trouble"] == "chatter", 10)
        restore = p.wait_for(lambda e: e["cid"] == "3380" and e["zone"] == "panic_office", 20)
        assert restore["seq"] > trouble["seq"]
        assert not p.gaps
