"""`guardroom demo`: the emulated school, start to finish, narrated.

It starts Mosquitto on a free loopback port, the Modbus beams (RTU over a pty null-modem) and
fence energizer (TCP), the OSDP door reader (pty), the GPIO pins (mock factory), the daemon as
its own process and a monitoring platform that prints every event as a guard reads it and
acknowledges alarms, and (with pysiaalarm installed) an alarm receiving centre with a primary and
a backup SIA DC-09 receiver. Then it plays a scenario: a silent panic acknowledged by the
platform; a panic at the platform and the ARC, then the ARC's primary failing over to the
backup; the perimeter armed and a beam pair broken in sequence (unverified, then verified with
the siren); the broker and the ARC stopped during a panic (the silent alarm escalates to the local siren, then the
outbox drains in order); a door forced open; a Modbus device unplugged. It ends with a summary
table and exits 0. Ctrl-C at any time stops everything it started.

``guardroom demo --interactive`` keeps the site running with a prompt to press buttons, break
beams, open doors, stop the broker... (``help`` lists the commands), and puts the commissioning
console on a pseudo-terminal whose path it prints (open it with picocom or screen).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Callable, Optional

from guardroom.console import cols
from guardroom.i18n import N_, Msg, env_gettext, msg_of, tr, translator

from .site import EmulatedSite

CTL = "ctl-1"
SITE_KEY = "north-school/ctl-1"
HMAC_KEY = "6775617264726f6f6d2d64656d6f2d6b65792d6e6f742d666f722d7573652121"
ARC_KEY = "6172632d64656d6f2d6b65792d313238"   # AES-128 between the site and the ARC


def _arc_receivers() -> int:
    """2 (primary + backup) when the ARC emulator can run (pysiaalarm, the test extra)."""
    try:
        import pysiaalarm  # noqa: F401
    except ImportError:
        return 0
    return 2


def demo_patch(doc) -> None:
    """Timers short enough for a demo, a signing key for the platform's commands."""
    doc["areas"]["building"]["exit_delay_s"] = 3
    doc["areas"]["building"]["entry_delay_s"] = 10
    doc["areas"]["building"]["fallback_s"] = 10
    doc["areas"]["perimeter"]["fallback_s"] = 10
    doc["mqtt"]["heartbeat_s"] = 3
    doc["mqtt"]["cmd_hmac_key"] = HMAC_KEY
    for z in doc["zones"]:
        if str(z["name"]).startswith("beam_"):
            z["offline_grace_s"] = 3


def _chinese(patch):
    """``patch`` plus ``[site] language = "zh-CN"``: the platform receives Chinese texts."""
    def chinese(doc) -> None:
        patch(doc)
        doc["site"]["language"] = "zh-CN"
    return chinese


DESCRIPTION = N_("The emulated school, start to finish, narrated: Mosquitto, Modbus beams and "
                 "fence, the OSDP door reader, GPIO pins, the daemon, a monitoring platform and "
                 "(with pysiaalarm) an alarm receiving centre, then a scenario of panics, a "
                 "verified intrusion, a broker outage, a forced door and a Modbus device "
                 "unplugged, and a summary table. --interactive keeps the site running with a "
                 "prompt and the commissioning console on a pseudo-terminal.")


class Narrator:
    def __init__(self, out=sys.stdout, lang: str = "en"):
        self.out = out
        self.t = translator(lang)             # --lang zh: narration from the catalog
        self.rows: list[tuple[str, str, str]] = []
        self.step = 0

    def say(self, text: str, **fields) -> None:
        fields = {k: self.t(v) if v in ("ON", "off") else v for k, v in fields.items()}
        self.out.write(f"\n==> {self.t(text, **fields)}\n")
        self.out.flush()

    def title(self, text: str) -> None:
        text = self.t(text)
        self.step += 1
        bar = "-" * 78
        self.out.write(f"\n{bar}\n {self.step}. {text}\n{bar}\n")
        self.out.flush()

    def row(self, event: str, latency: str, siren: str) -> None:
        self.rows.append((event, latency, siren))

    def summary(self) -> None:
        """The table of every step: event, latency, siren (columns by display width)."""
        t = self.t
        rows = [(t(ev), lat, t(siren)) for ev, lat, siren in self.rows]
        head = (t("event"), t("stimulus -> platform"), t("siren"))
        w = max([cols.width(r[0]) for r in rows] + [cols.width(head[0]), 5])
        lw = max([cols.width(r[1]) for r in rows] + [cols.width(head[1]), 20])

        def line(a: str, b: str, c: str) -> str:
            return f" {cols.ljust(a, w)}  {' ' * (lw - cols.width(b))}{b}  {c}\n"

        self.out.write("\n" + "=" * 78 + "\n " + t("Summary") + "\n" + "=" * 78 + "\n")
        self.out.write(line(*head))
        for ev, lat, siren in rows:
            self.out.write(line(ev, lat, siren))
        self.out.flush()


class Scenario:
    def __init__(self, site: EmulatedSite, n: Narrator, timeout: float = 20.0):
        self.site, self.n, self.p, self.timeout = site, n, site.platform, timeout
        self.arc = bool(site.arcs)

    def arc_wait(self, i: int, cid: str, zone_no: str, what: str, since: int) -> dict:
        try:
            return self.site.arc_wait(lambda r: r["cid"] == cid and r["zone"] == zone_no
                                      and r["t_ns"] >= since, self.timeout, i=i)
        except TimeoutError:
            raise RuntimeError(Msg("the ARC never received: {what}", what=Msg(what))) from None

    def wait(self, pred: Callable[[dict], bool], what: str, timeout: Optional[float] = None):
        try:
            return self.p.wait_for(pred, timeout or self.timeout)
        except TimeoutError:
            raise RuntimeError(Msg("the platform never received: {what}",
                                   what=Msg(what))) from None

    def latency(self, ev: dict, t0: int, minus_ms: float = 0.0) -> str:
        return f"{self.p.latency_ms(ev['id'], t0) - minus_ms:8.1f} ms"

    def siren(self) -> str:
        return N_("ON") if self.site.output_on("siren") else N_("off")

    def cmd(self, name: str, area: str) -> dict:
        for _ in range(100):  # a reset right after a release waits for the button's debounce
            sent = self.p.send_cmd(CTL, name, area=area, signed=True)
            res = self.p.wait_result(lambda r: r.get("nonce") == sent["nonce"], self.timeout)
            if res.get("ok") or "still active" not in str(res.get("reason")):
                break
            time.sleep(0.05)
        if not res.get("ok"):
            raise RuntimeError(Msg("platform command {name} {area} refused: {why}", name=name,
                                   area=area, why=res.get("reason")))
        return res

    def released(self, zone: str) -> None:
        """Wait until the retained state shows the zone back to normal (a hold-up's restore
        is reported at reset, not at release)."""
        self.p.wait_until(lambda: self.p.states.get(SITE_KEY, {}).get("zones", {})
                          .get(zone, {}).get("state") == "normal", self.timeout)

    def after(self) -> int:
        """Index of the next event to arrive (to wait only for new ones)."""
        return len(self.p.events)

    def new(self, start: int, pred: Callable[[dict], bool]) -> Callable[[dict], bool]:
        events = self.p.events
        ids = {e["id"] for e in events[:start]}
        return lambda e: e["id"] not in ids and pred(e)

    # ---------------------------------------------------------------- the steps
    def silent_panic(self) -> None:
        n, s = self.n, self.site
        n.title("A silent panic (hold-up) button, acknowledged by the platform")
        n.say("The receptionist presses the panic button under the desk (held 1 s).")
        k = self.after()
        t0 = time.monotonic_ns()
        s.press("panic_reception")
        ev = self.wait(self.new(k, lambda e: e["kind"] == "alarm"
                                and e["zone"] == "panic_reception"), N_("the panic alarm"))
        n.row(N_("silent panic -> platform"), self.latency(ev, t0, 50), self.siren())
        time.sleep(1.0)  # the button is held for a second: a real press, not a glitch
        s.release("panic_reception")
        self.p.wait_until(lambda: any(a.get("incident") == ev["incident"]
                                      for a in self.p.acks_sent), self.timeout)
        n.say("The operator acknowledged incident {n}: no local siren (silent hold-up, police "
              "are on their way). Siren: {siren}.", n=ev['incident'], siren=self.siren())
        self.released("panic_reception")
        self.cmd("reset", "building")
        self.wait(self.new(k, lambda e: e["kind"] == "restore"
                           and e["zone"] == "panic_reception"), N_("the button's restore"))
        n.say("The guard resets the building after the police left.")

    def beam_pair(self) -> None:
        n, s = self.n, self.site
        n.title("Perimeter: one beam is a warning, a beam pair is a verified intrusion")
        self.cmd("arm_away", "perimeter")
        n.say("Night: the platform arms the perimeter. Someone climbs the north fence and "
              "breaks the outer beam...")
        k = self.after()
        t0 = time.monotonic_ns()
        s.press("beam_north_a")
        ev = self.wait(self.new(k, lambda e: e["kind"] == "alarm"
                                and e["zone"] == "beam_north_a"), N_("the first beam"))
        n.row(N_("beam north A (unverified)"), self.latency(ev, t0, 300), self.siren())
        n.say("Unverified and silent (a fox could do that). Siren: {siren}. Two seconds later "
              "the inner beam breaks too...", siren=self.siren())
        time.sleep(2.0)  # the intruder walks from the outer to the inner beam
        t1 = time.monotonic_ns()
        s.press("beam_north_b")
        v = self.wait(self.new(k, lambda e: e["kind"] == "verified"), N_("verification"))
        on = s.wait_output("siren", True, self.timeout)
        n.row(N_("beam pair -> verified"), self.latency(v, t1, 300), N_("ON") if on else N_("off"))
        n.say("Two distinct beams of the pair within 30 s: VERIFIED, the siren sounds ({on}) "
              "and the strobe flashes.", on=n.t('ON') if on else n.t('off'))
        s.release("beam_north_a")
        s.release("beam_north_b")
        for z in ("beam_north_a", "beam_north_b"):
            self.wait(self.new(k, lambda e, z=z: e["kind"] == "restore" and e["zone"] == z),
                      f"{z} restore")
        self.cmd("silence", "perimeter")
        s.wait_output("siren", False, self.timeout)
        self.cmd("reset", "perimeter")
        n.say("The platform silences the siren and resets the perimeter once the guard has "
              "walked the fence.")

    def arc_failover(self) -> None:
        n, s = self.n, self.site
        n.title("The second path: the alarm receiving centre (SIA DC-09), with failover")
        n.say("Every alarm also goes to an ARC over SIA DC-09 (AES-128, Contact ID), to a "
              "primary receiver with a backup. The receptionist presses the panic button...")
        k = self.after()
        t0 = time.monotonic_ns()
        s.press("panic_reception")
        self.wait(self.new(k, lambda e: e["kind"] == "alarm"
                           and e["zone"] == "panic_reception"), N_("the panic alarm"))
        got = self.arc_wait(0, "1120", "001", N_("the panic on the primary receiver"), t0)
        n.row(N_("silent panic -> ARC primary"), f"{(got['t_ns'] - t0) / 1e6 - 50:8.1f} ms",
              self.siren())
        time.sleep(1.0)
        s.release("panic_reception")
        self.released("panic_reception")
        self.cmd("reset", "building")      # a hold-up's restore (3120) is sent at reset
        self.arc_wait(0, "3120", "001", N_("the button's restore"), t0)
        n.say("The ARC's primary receiver fails (its port closes)...")
        s.arc_down(0)
        t1 = time.monotonic_ns()
        s.press("panic_office")
        got = self.arc_wait(1, "1120", "002", N_("the panic on the backup receiver"), t1)
        n.row(N_("panic -> ARC backup (primary down)"), f"{(got['t_ns'] - t1) / 1e6 - 50:8.1f} ms",
              self.siren())
        n.say("...after 2 failed attempts on the primary the backup receiver took the office "
              "panic. Nothing was lost, nothing reordered.")
        time.sleep(1.0)
        s.release("panic_office")
        self.released("panic_office")
        self.cmd("reset", "building")
        self.arc_wait(1, "3120", "002", N_("the office button's restore"), t1)
        s.arc_up(0)
        n.say("The primary receiver is back; the next supervision poll returns to it.")

    def broker_down(self) -> None:
        n, s = self.n, self.site
        n.title("The platform cannot be told: broker down during a panic")
        if self.arc:
            n.say("The site's internet link fails: neither the monitoring platform (the broker "
                  "is stopped) nor the ARC receivers can be reached...")
            for i in range(len(s.arcs)):
                s.arc_down(i)
        else:
            n.say("The network to the monitoring platform fails (the broker is stopped)...")
        s.stop_broker()
        k = self.after()
        t0 = time.monotonic_ns()
        s.press("panic_office")
        n.say("...and the head teacher presses the office panic button. The event waits in "
              "the durable outbox; the uplink is declared down after 3 s without the broker.")
        on = s.wait_output("siren", True, self.timeout)
        t_siren = (time.monotonic_ns() - t0) / 1e6
        n.say("The silent alarm cannot reach the platform, so the local siren sounds: {on} "
              "after {ms} ms.", on=n.t('ON') if on else n.t('off'), ms=f"{t_siren:.0f}")
        time.sleep(1.0)  # held for a second
        s.release("panic_office")
        n.say("The network comes back (the broker restarts); the outbox drains in order.")
        t_up = time.monotonic_ns()
        s.start_broker()
        for i in range(len(s.arcs)):
            s.arc_up(i)
        ev = self.wait(self.new(k, lambda e: e["kind"] == "alarm"
                                and e["zone"] == "panic_office"), N_("the buffered panic"))
        n.row(N_("panic during outage -> siren"), f"{t_siren:8.1f} ms", N_("ON") if on else N_("off"))
        n.row(N_("buffered panic (from broker back)"),
              f"{self.p.latency_ms(ev['id'], t_up):8.1f} ms", self.siren())
        gaps = self.p.gaps
        n.say("Delivered with seq {seq}; sequence gaps seen by the platform: {gaps}; "
              "duplicates ignored: {dups}.", seq=ev['seq'], gaps=len(gaps),
              dups=self.p.duplicates)
        self.p.wait_until(lambda: any(a.get("incident") == ev["incident"]
                                      for a in self.p.acks_sent), self.timeout)
        s.wait_output("siren", False, self.timeout)
        n.say("The late acknowledgement silences the fallback siren: {siren}.",
              siren=self.siren())
        self.released("panic_office")
        self.cmd("reset", "building")
        self.wait(self.new(k, lambda e: e["kind"] == "restore" and e["zone"] == "panic_office"), N_("the office button's restore"))

    def door_forced(self) -> None:
        n, s = self.n, self.site
        n.title("A door forced open")
        n.say("The last guard leaves: PIN 1234# on the front door keypad arms the building "
              "(3 s exit delay in this demo).")
        k = self.after()
        s.readers["front"].keys("1234#")
        self.wait(self.new(k, lambda e: e["kind"] == "area" and e["area"] == "building"
                           and e["cid"].endswith("401")), N_("the building armed"), 30)
        n.say("Armed. At 2 a.m. the front door is pried open without a card...")
        k = self.after()
        t0 = time.monotonic_ns()
        s.readers["front"].door(True)
        ev = self.wait(self.new(k, lambda e: e["kind"] == "alarm"
                                and e["zone"] == "front_forced"), N_("door forced"))
        on = s.wait_output("siren", True, self.timeout)
        n.row(N_("door forced open"), self.latency(ev, t0), N_("ON") if on else N_("off"))
        n.say("Door forced: alarm, siren {on}.", on=n.t('ON') if on else n.t('off'))
        s.readers["front"].door(False)
        self.wait(self.new(k, lambda e: e["kind"] == "restore" and e["zone"] == "front_forced"), N_("the door's restore"))
        # the door contact itself restores on its own debounce: a reset before that is refused
        key = f"{s.config['site']['name']}/{s.config['site']['controller']}"
        try:
            self.p.wait_until(lambda: self.p.states.get(key, {}).get("zones", {})
                              .get("front_door", {}).get("state") == "normal", self.timeout)
        except TimeoutError:
            raise RuntimeError(Msg("the front door contact never went back to normal")) from None
        self.cmd("disarm", "building")
        self.cmd("reset", "building")

    def modbus_unplugged(self) -> None:
        n, s = self.n, self.site
        n.title("A Modbus device unplugged (sabotage of the beam controller)")
        n.say("Someone cuts the RS-485 cable of the beam I/O module (it stops answering).")
        k = self.after()
        t0 = time.monotonic_ns()
        s.modbus_power("rs485-beams", 1, False)
        sab = self.wait(self.new(k, lambda e: e["cid"] == "1137"), N_("sabotage"), 30)
        n.row(N_("4 beams offline -> sabotage"), self.latency(sab, t0), self.siren())
        tr = self.wait(self.new(k, lambda e: e["kind"] == "trouble" and e["cid"] == "1147"), N_("supervision trouble"), 30)
        n.row(N_("beam offline -> trouble 147"), self.latency(tr, t0), self.siren())
        n.say("Four beams went offline together: a sabotage alarm at once, and a supervision "
              "trouble (147) per beam after the offline grace.")
        s.modbus_power("rs485-beams", 1, True)
        for z in ("beam_north_a", "beam_north_b", "beam_south_a", "beam_south_b"):
            self.wait(self.new(k, lambda e, z=z: e["kind"] == "trouble_restore"
                               and e["zone"] == z), Msg("{zone} back online", zone=z), 30)
        n.say("The cable is repaired: the device answers again and the troubles restore.")

    def run(self) -> None:
        steps = [self.silent_panic, self.beam_pair, self.broker_down, self.door_forced,
                 self.modbus_unplugged]
        if self.arc:
            steps.insert(1, self.arc_failover)
        for step in steps:
            step()


def interactive(site: EmulatedSite, t=translator("en")) -> None:
    """Drive the running site from the keyboard (words through translator ``t``)."""
    help_text = "\n".join([
        t("commands:"),
        "  press POINT | release POINT | pulse POINT MS     " + t("drive an input point"),
        "  door open|close | rex | card NUMBER | keys 1234#    " + t("the front door reader"),
        "  broker stop|start                                  "
        + t("the network to the platform"),
        "  power BUS ADDR on|off                              " + t("a Modbus device"),
        "  cmd NAME AREA                                      "
        + t("a signed platform command"),
        "  points | outputs | status | help | quit"])
    print(help_text)
    print(t("points:"), ", ".join(sorted(site.points)))
    reader = site.readers.get("front")
    while True:
        try:
            line = input("demo> ").strip()
        except EOFError:
            return
        if not line:
            continue
        w = shlex.split(line)
        try:
            if w[0] in ("quit", "exit"):
                return
            elif w[0] == "help":
                print(help_text)
            elif w[0] in ("press", "release"):
                site.set_point(w[1], w[0] == "press")
            elif w[0] == "pulse":
                site.pulse(w[1], int(w[2]))
            elif w[0] == "door":
                reader.door(w[1] == "open")
            elif w[0] == "rex":
                reader.rex()
            elif w[0] == "card":
                reader.card(w[1])
            elif w[0] == "keys":
                reader.keys(w[1])
            elif w[0] == "broker":
                site.stop_broker() if w[1] == "stop" else site.start_broker()
            elif w[0] == "power":
                site.modbus_power(w[1], int(w[2]), w[3] == "on")
            elif w[0] == "cmd":
                site.platform.send_cmd(CTL, w[1], area=w[2] if len(w) > 2 else "",
                                       signed=True)
            elif w[0] == "points":
                print(", ".join(sorted(site.points)))
            elif w[0] == "outputs":
                for o in sorted(site.outputs):
                    state = t("ON") if site.output_on(o) else t("off")
                    print(f"  {o}: {state}")
            elif w[0] == "status":
                st = site.platform.states.get(SITE_KEY, {})
                for a, v in st.get("areas", {}).items():
                    print(t("  area {area}: {state} incident={incident}", area=a,
                            state=v.get("state"), incident=v.get("incident")))
            else:
                print(t("unknown command; help lists them"))
        except (IndexError, ValueError, KeyError) as e:
            print(t("error: {e}; help lists the commands", e=repr(e)))


def main(argv=None) -> int:
    _ = env_gettext                           # --help follows LANG, like the other commands
    ap = argparse.ArgumentParser(prog="guardroom demo", description=_(DESCRIPTION),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interactive", action="store_true",
                    help=_("keep the site running and drive it from the keyboard"))
    ap.add_argument("--site", help=_("site file (default: examples/school.toml)"))
    ap.add_argument("--keep", action="store_true",
                    help=_("keep the work folder (logs, config)"))
    ap.add_argument("--lang", choices=["en", "zh"], default="en",
                    help=_("zh: narration in Chinese and the site's language zh-CN (event "
                           "texts)"))
    ns = ap.parse_args(argv)
    n = Narrator(lang=ns.lang)
    n.say("Starting the emulated site: Mosquitto, Modbus beams (RTU on a pty) and fence (TCP), "
          "OSDP door reader (pty), GPIO (mock pins), the daemon, the monitoring platform.")
    t0 = time.monotonic()
    patch = demo_patch if ns.lang == "en" else _chinese(demo_patch)
    site = EmulatedSite(site_file=ns.site, patch=patch, quiet_platform=False,
                        console=ns.interactive, arc=_arc_receivers(), arc_key=ARC_KEY)
    if ns.keep:
        site._own_dir = False
    try:
        site.start()
        site.platform.hmac_key = bytes.fromhex(HMAC_KEY)
        n.say("Site up in {s} s (work folder {dir}, daemon log {log}). Lines from the "
              "platform look like this:", s=f"{time.monotonic() - t0:.1f}", dir=site.workdir,
              log=site.log_path)
        if ns.interactive:
            if site.console_path:
                n.say("The commissioning console is on {path}: open it in another terminal with "
                      "`picocom -b 115200 {path}` (or `screen {path} 115200`), press Enter, "
                      "`login` (demo codes: installer 7777, guard 1234).",
                      path=site.console_path)
            else:
                n.say("This site file has no [console] section: no commissioning console.")
            interactive(site, n.t)
            return 0
        Scenario(site, n).run()
        site.platform.out = None  # the platform's lines would interleave with the table
        n.summary()
        gaps = site.platform.gaps
        n.say("{n} events received, {gaps} sequence gaps. Done.",
              n=len(site.platform.events), gaps=len(gaps))
        return 0 if not gaps else 1
    except KeyboardInterrupt:
        n.say("Interrupted: stopping everything.")
        return 130
    except RuntimeError as e:
        print("\n" + n.t("demo failed: {e}", e=tr(msg_of(e), n.t)) + "\n" + n.t("--- daemon log ---") + "\n"
              + site.daemon_log_tail(), file=sys.stderr)
        return 1
    finally:
        site.stop()


if __name__ == "__main__":
    sys.exit(main())
