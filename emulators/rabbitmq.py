"""A RabbitMQ cluster on this machine, for the fleet bench and its test: N nodes of Debian's
rabbitmq-server (3.10) with the MQTT plugin, each with its own node name, AMQP, MQTT and
distribution ports and data dir under one work dir, run as the calling user.

    with RabbitCluster(3) as rc:           # started and clustered; stopped on the way out
        rc.mqtt_ports, rc.amqp_ports, rc.kill(0), rc.alive

Every node shares one HOME (one ``.erlang.cookie``) and a private ``epmd`` on a free
loopback port that this class starts and stops, so nothing of the machine's own RabbitMQ or
Erlang is touched. The nodes are run with /usr/lib/rabbitmq/bin/* directly (the /usr/sbin
wrappers switch user). Each node is its own process group: ``kill`` SIGKILLs the group (a
node crash), ``stop`` ends every group this object started, and nothing else. Call
``stop`` in a ``finally`` (or use ``with``): the bench and the test do, Ctrl-C included.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Optional

from .broker import free_port

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
EPMD = shutil.which("epmd") or "/usr/bin/epmd"


class ClusterError(RuntimeError):
    """A node did not start or join; the message carries its log tail."""


def available() -> Optional[str]:
    """None when rabbitmq-server (with its MQTT plugin) is installed, else why not."""
    if not os.path.exists(os.path.join(RABBIT_BIN, "rabbitmq-server")):
        return "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
    if not os.path.exists(EPMD):
        return "epmd (erlang) not found"
    return None


class RabbitCluster:
    def __init__(self, nodes: int = 3, *, workdir: Optional[str] = None,
                 mqtt_config: Optional[dict] = None, log=lambda s: None):
        why = available()
        if why:
            raise ClusterError(why)
        self.n = nodes
        self.log = log
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="guardroom-rabbit-")
        self.home = os.path.join(self.dir, "home")
        self.tag = secrets.token_hex(3)          # node names unique to this run
        self.names = [f"gr{self.tag}{i}@localhost" for i in range(nodes)]
        self.epmd_port = free_port()
        self.amqp_ports = [free_port() for _ in range(nodes)]
        self.mqtt_ports = [free_port() for _ in range(nodes)]
        self.dist_ports = [free_port() for _ in range(nodes)]
        self.mqtt_config = dict(mqtt_config or {})
        self.procs: list[Optional[subprocess.Popen]] = [None] * nodes
        self.epmd: Optional[subprocess.Popen] = None

    # ------------------------------------------------------------------ setup
    def _env(self, i: int) -> dict:
        d = os.path.join(self.dir, f"node{i}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update({
            "HOME": self.home,
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.dir, "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.names[i],
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_ports[i]),
            "RABBITMQ_DIST_PORT": str(self.dist_ports[i]),
            "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
            "RABBITMQ_PID_FILE": os.path.join(d, "pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_ALLOW_INPUT": "",
            # Erlang distribution on loopback only (it listens on every address otherwise)
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface "
                                                   "{127,0,0,1}",
        })
        return env

    def _prepare(self) -> None:
        os.makedirs(self.home, exist_ok=True)
        cookie = os.path.join(self.home, ".erlang.cookie")
        if not os.path.exists(cookie):
            with open(cookie, "w") as fh:
                fh.write(secrets.token_hex(16).upper())
            os.chmod(cookie, 0o400)
        open(os.path.join(self.dir, "rabbitmq-env.conf"), "w").close()
        for i in range(self.n):
            d = os.path.join(self.dir, f"node{i}")
            os.makedirs(os.path.join(d, "log"), exist_ok=True)
            lines = [f"listeners.tcp.default = 127.0.0.1:{self.amqp_ports[i]}",
                     f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt_ports[i]}",
                     "mqtt.allow_anonymous = true",
                     "loopback_users = none",
                     "log.console = false", "log.file.level = warning"]
            lines += [f"{k} = {v}" for k, v in self.mqtt_config.items()]
            with open(os.path.join(d, "rabbitmq.conf"), "w") as fh:
                fh.write("\n".join(x for x in lines if x) + "\n")
            with open(os.path.join(d, "enabled_plugins"), "w") as fh:
                fh.write("[rabbitmq_mqtt].\n")

    def ctl(self, i: int, *args: str, timeout: float = 120) -> str:
        """rabbitmqctl against node ``i``; raises ClusterError on failure."""
        r = subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.names[i],
                            *args], env=self._env(i), capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise ClusterError(f"rabbitmqctl {' '.join(args)} on node {i}: "
                               f"{(r.stdout + r.stderr).strip()[-800:]}")
        return r.stdout

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 180) -> "RabbitCluster":
        """Start every node, join nodes 1.. to node 0; returns when the cluster runs."""
        self._prepare()
        self.epmd = subprocess.Popen([EPMD, "-port", str(self.epmd_port), "-address",
                                      "127.0.0.1"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        t0 = time.monotonic()
        for i in range(self.n):
            self.start_node(i, wait=False)
        for i in range(self.n):
            self.wait_node(i, timeout_s)
        self.log(f"rabbit: {self.n} nodes up in {time.monotonic() - t0:.1f} s")
        for i in range(1, self.n):
            self.ctl(i, "stop_app")
            self.ctl(i, "join_cluster", self.names[0])
            self.ctl(i, "start_app")
        for i in range(self.n):
            self.ctl(i, "await_startup", timeout=timeout_s)
        self.log(f"rabbit: clustered in {time.monotonic() - t0:.1f} s")
        return self

    def start_node(self, i: int, wait: bool = True, timeout_s: float = 180) -> None:
        d = os.path.join(self.dir, f"node{i}")
        with open(os.path.join(d, "stdout.log"), "ab") as out:
            self.procs[i] = subprocess.Popen(
                [os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self._env(i),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)       # its own group: kill() takes the whole node
        if wait:
            self.wait_node(i, timeout_s)

    def wait_node(self, i: int, timeout_s: float = 180) -> None:
        p = self.procs[i]
        deadline = time.monotonic() + timeout_s
        while True:
            if p is None or p.poll() is not None:
                raise ClusterError(f"node {i} exited: {self.log_tail(i)}")
            r = subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n",
                                self.names[i], "await_startup", "--timeout", "10"],
                               env=self._env(i), capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"node {i} not up in {timeout_s} s: {self.log_tail(i)}")
            time.sleep(0.5)   # the node is another process: polled

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (its whole process group): a crash, no goodbye to anyone."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        self.procs[i] = None

    @property
    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p is not None and p.poll() is None]

    def pids(self) -> list[int]:
        """The beam process of every running node (for CPU and memory figures)."""
        out = []
        for i in self.alive:
            try:
                with open(os.path.join(self.dir, f"node{i}", "pid")) as fh:
                    out.append(int(fh.read().strip()))
            except (OSError, ValueError):
                pass
        return out

    def log_tail(self, i: int, n: int = 30) -> str:
        d = os.path.join(self.dir, f"node{i}")
        text = ""
        for f in ("stdout.log", os.path.join("log", f"{self.names[i]}.log")):
            try:
                with open(os.path.join(d, f), errors="replace") as fh:
                    text += "".join(fh.readlines()[-n:])
            except OSError:
                pass
        return text

    def crash_reasons(self) -> dict[str, int]:
        """How often each reason for a crashed process appears in the nodes' logs (e.g. the
        MQTT plugin closing a connection on a publisher nack), node by node."""
        out: dict[str, int] = {}
        for i in range(self.n):
            path = os.path.join(self.dir, f"node{i}", "log", f"{self.names[i]}.log")
            try:
                with open(path, errors="replace") as fh:
                    lines = fh.readlines()
            except OSError:
                continue
            for k, line in enumerate(lines):
                if "Reason for termination" in line and k + 1 < len(lines):
                    why = lines[k + 1].split("** ", 1)[-1].strip()[:120]
                    key = f"node{i}: {why}"
                    out[key] = out.get(key, 0) + 1
        return out

    def stop(self) -> None:
        """End every node and the epmd this object started (SIGTERM, then SIGKILL)."""
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for i, p in enumerate(self.procs):
            if p is not None:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    pass
                try:
                    os.killpg(p.pid, signal.SIGKILL)   # stragglers of the group (erl_child_setup)
                except ProcessLookupError:
                    pass
                p.wait()
                self.procs[i] = None
        if self.epmd is not None:
            self.epmd.kill()
            self.epmd.wait()
            self.epmd = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RabbitCluster":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()
