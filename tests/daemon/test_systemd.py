"""Under systemd (Type=notify): READY=1 once the daemon is up, watchdog pings from the loop,
STOPPING=1 and exit code 0 on SIGTERM. systemd is played by a datagram socket."""
import os
import socket

from guardroom.emulators.site import EmulatedSite


def recv_until(sock, wanted, timeout=20.0):
    sock.settimeout(timeout)
    seen = []
    while True:
        msg = sock.recv(4096).decode()
        seen.append(msg)
        if wanted in msg.split("\n"):
            return seen


def test_notify_ready_watchdog_and_stopping(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")      # ping every 0.5 s
    try:
        with EmulatedSite(platform=True) as site:
            recv_until(sock, "READY=1")
            recv_until(sock, "WATCHDOG=1")
            recv_until(sock, "WATCHDOG=1")                # keeps pinging
            assert site.stop_daemon() == 0                  # SIGTERM: a clean exit
            recv_until(sock, "STOPPING=1")
            site.platform.wait_status("ctl-1", "offline", 10)
    finally:
        sock.close()
        os.unlink(path)
