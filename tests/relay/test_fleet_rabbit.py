"""The broker tier on a real RabbitMQ cluster (Debian's rabbitmq-server 3.10, MQTT plugin):
three nodes started by `guardroom bench fleet --broker rabbitmq-cluster`, controllers spread
over them with `[mqtt] hosts`, AMQP platform consumers on quorum queues, one node SIGKILLed
mid-run. The controllers on the killed node must move to a live node and the platform must
get every event, every alarm acked. Skipped where rabbitmq-server is not installed
(packaging/install-system-deps.sh installs it)."""
import json
import subprocess
import sys

import pytest

from guardroom.emulators.rabbitmq import available

pytestmark = [pytest.mark.rabbitmq,
              pytest.mark.skipif(available() is not None, reason=str(available()))]


def test_controllers_on_a_killed_node_fail_over_and_the_platform_gets_everything():
    pytest.importorskip("pika")
    r = subprocess.run([sys.executable, "-m", "guardroom", "bench", "fleet", "--broker",
                        "rabbitmq-cluster", "--controllers", "6", "--processes", "1",
                        "--consumers", "2", "--rate", "1", "--seconds", "6",
                        "--reconnect-max-s", "1", "--scenarios", "nodekill", "--settle-s", "0",
                        "--json"],
                       capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(r.stdout)
    k = res["nodekill"]
    assert k["controllers_on_killed_node"] == 2            # 6 controllers over 3 nodes
    assert k["moved_s"] is not None                        # all on the two live nodes
    assert k["made"] > 0 and k["lost"] == 0, k
    assert res["lost_total"] == 0 and res["seq_gaps"] == 0, res["lost_ids_sample"]
    assert k["alarms_raised"] == 6 and k["acks"] >= 6      # acks reached the moved ones too
    assert k["platform_saw_births"] == 2                   # their births from the new node
    assert k["platform_last_status_offline"] == 0          # the platform's last value: online
