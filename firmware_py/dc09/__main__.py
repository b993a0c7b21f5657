"""``python -m guardroom.dc09 SITE.toml``: the numbers the ARC sees for this site (areas, zones,
users as Contact ID area and zone/user numbers) and what each routed event class sends, to
hand to the alarm receiving centre when the account is set up."""
from __future__ import annotations

import sys

from ..config import load
from ..errors import ConfigError
from .payload import Numbering


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m guardroom.dc09 SITE.toml", file=sys.stderr)
        return 2
    try:
        cfg = load(argv[0])
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 1
    dc = cfg.get("dc09")
    if dc:
        print(f"account {dc['account']}  receiver R{dc['receiver'] or '-'}  line L{dc['line']}  "
              f"format {dc['format']}  {'AES-%d' % (len(dc['key']) * 4) if dc['key'] else 'plain'}"
              f"  poll every {dc['poll_s']} s")
        print("classes sent: " + ", ".join(dc["classes"]))
    else:
        print("no [dc09] section: the second path is off (numbers shown anyway)")
    zones = {z["name"]: z for z in cfg["zones"]}
    print(f"{'kind':5} {'no':>3}  name")
    for kind, no, name in Numbering(cfg).table():
        extra = ""
        if kind == "zone":
            z = zones[name]
            extra = f"  ({z['type']}, area {z['area']})"
        print(f"{kind:5} {no:>3}  {name}{extra}")
    print("path troubles (CID 350): zone 001 = platform path (MQTT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
