"""A real Mosquitto broker on a free loopback port, for the tests and the demo.

    with MosquittoBroker() as b:                       # plain, anonymous
        ... b.port, b.url
    b = MosquittoBroker(tls=True, users={"ctl-1": "s3cret"}); b.start()
    ... b.ca_file (throwaway CA that signed the server certificate for 127.0.0.1/localhost)
    b.restart(); b.kill(); b.stop()

The config, password file, certificates, persistence and log live in ``workdir`` (a temp dir
unless given). Mosquitto ignores ``-p`` when the config has a ``listener`` line, and as root it
drops to the ``mosquitto`` user: when run as root the config says ``user root`` so the
persistence dir stays writable. The process is stopped by its pid, never by name.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional
from guardroom.i18n import env_gettext as _

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


class BrokerError(RuntimeError):
    """Mosquitto could not be set up or started; the message carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MosquittoBroker:
    def __init__(self, port: int = 0, *, tls: bool = False,
                 users: Optional[dict[str, str]] = None, workdir: Optional[str] = None,
                 host: str = "127.0.0.1", persistence: bool = True, verbose: bool = False):
        self.host = host
        self.port = port or free_port(host)
        self.tls = tls
        self.users = dict(users or {})
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="guardroom-broker-")
        os.makedirs(self.workdir, exist_ok=True)
        self.persistence = persistence
        self.verbose = verbose
        self.conf_path = os.path.join(self.workdir, "mosquitto.conf")
        self.log_path = os.path.join(self.workdir, "mosquitto.log")
        self.ca_file = ""
        self.cert_file = ""
        self.key_file = ""
        self.proc: Optional[subprocess.Popen] = None
        self._prepared = False

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        if self._prepared:
            return
        lines = [f"listener {self.port} {self.host}",
                 f"allow_anonymous {'false' if self.users else 'true'}",
                 # a platform that is reconnecting must not lose a backlog being drained
                 "max_queued_messages 100000"]
        if self.users:
            pw = os.path.join(self.workdir, "passwd")
            open(pw, "w").close()
            for name, password in self.users.items():
                _run([MOSQUITTO_PASSWD, "-b", pw, name, password])
            os.chmod(pw, 0o600)
            lines.append(f"password_file {pw}")
        if self.tls:
            self._make_certs()
            lines += [f"cafile {self.ca_file}", f"certfile {self.cert_file}",
                      f"keyfile {self.key_file}", "tls_version tlsv1.2"]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/"]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += [f"log_dest file {self.log_path}",
                  "log_type error", "log_type warning", "log_type notice"]
        if self.verbose:
            lines.append("log_type all")
        with open(self.conf_path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self._prepared = True

    def _make_certs(self) -> None:
        d = self.workdir
        ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
        key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
        ext = os.path.join(d, "server.ext")
        with open(ext, "w") as fh:
            fh.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                     "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=serverAuth\n")
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-keyout", ca_key, "-out", ca, "-subj", "/CN=guardroom test CA"])
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
              "-subj", "/CN=localhost"])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
              "-CAcreateserial", "-days", "2", "-out", crt, "-extfile", ext])
        self.ca_file, self.cert_file, self.key_file = ca, crt, key

    # ------------------------------------------------------------------ process
    def start(self, timeout_s: float = 10.0) -> "MosquittoBroker":
        self._prepare()
        if self.proc is not None and self.proc.poll() is None:
            return self
        with open(os.path.join(self.workdir, "stderr.log"), "ab") as err:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf_path],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                with open(os.path.join(self.workdir, "stderr.log"), errors="replace") as fh:
                    err = fh.read()[-2000:]
                raise BrokerError(f"mosquitto exited ({self.proc.returncode}): "
                                  f"{err.strip()} {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise BrokerError(f"mosquitto did not listen on {self.port} "
                                      f"within {timeout_s} s {self.log_tail()}") from None
                time.sleep(0.01)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM by pid, wait (mosquitto saves persistence on the way out)."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL by pid: the broker vanishes without a goodbye."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.kill()
            p.wait()
        self._reap()

    def restart(self, timeout_s: float = 10.0) -> "MosquittoBroker":
        self.stop()
        return self.start(timeout_s)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _reap(self) -> None:
        self.proc = None

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "MosquittoBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<MosquittoBroker {self.url} pid={self.pid}>"


def _run(argv: list[str]) -> None:
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        raise BrokerError(f"{os.path.basename(argv[0])} failed: "
                          f"{r.stdout.decode(errors='replace').strip()}")


def main(argv=None) -> int:
    """`guardroom emulate broker`: a throwaway Mosquitto on loopback until Ctrl-C."""
    import argparse
    import signal as _signal

    ap = argparse.ArgumentParser(prog="guardroom emulate broker", description=main.__doc__)
    ap.add_argument("--port", type=int, default=0, help=_("TCP port (0 = any free port)"))
    ap.add_argument("--tls", action="store_true", help=_("TLS with a throwaway CA (printed)"))
    ap.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                    help=_("require this user (repeatable); anonymous is then refused"))
    ns = ap.parse_args(argv)
    users = dict(u.split(":", 1) for u in ns.user)
    with MosquittoBroker(ns.port, tls=ns.tls, users=users or None) as b:
        print(f"mosquitto listening on {b.host}:{b.port}" + (f" (CA: {b.ca_file})" if ns.tls
                                                              else ""), flush=True)
        sigs = {_signal.SIGINT, _signal.SIGTERM}
        _signal.pthread_sigmask(_signal.SIG_BLOCK, sigs)
        _signal.sigwait(sigs)
    return 0
