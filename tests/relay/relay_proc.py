"""A small controller process for the kill tests: a Relay over an Outbox that publishes
``--count`` events (``--interval`` s apart), printing ``seq <n>`` for each, then idles until it
is stopped (SIGTERM: clean stop) or killed (SIGKILL: nothing clean happens)."""
import argparse
import asyncio
import signal
import sys

from guardroom.outbox import Outbox
from guardroom.relay import MQTT_SCHEMA, Relay


async def main(a) -> None:
    loop = asyncio.get_running_loop()
    box = Outbox(a.outbox, fsync_ms=50)
    cfg = MQTT_SCHEMA.validate({"host": "127.0.0.1", "port": a.port, "heartbeat_s": 1.0},
                               "mqtt")
    relay = Relay(cfg, a.controller, "site", box, loop,
                  on_uplink=lambda up: print(f"uplink {up}", flush=True))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await relay.start()
    print(f"start next_seq={box.next_seq} pending={box.depth()}", flush=True)
    for i in range(a.count):
        ev = relay.publish_event({"ts": "2024-05-01T10:00:00.000Z", "kind": "alarm",
                                  "cid": "1130", "area": "yard", "zone": f"beam{i % 4}",
                                  "incident": i + 1, "verified": False, "silent": False,
                                  "drill": False, "user": "", "text": f"Beam {i}"})
        print(f"seq {ev['seq']}", flush=True)
        if a.interval:
            await asyncio.sleep(a.interval)
    print("published", flush=True)
    await stop.wait()
    await relay.stop()
    box.close()
    print("stopped", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outbox", required=True)
    ap.add_argument("--controller", default="proc")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.0)
    asyncio.run(main(ap.parse_args()))
    sys.exit(0)
