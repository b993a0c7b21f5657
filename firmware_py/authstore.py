"""Security state that must survive a restart, a SIGKILL or a power cut: the newest ``ts``
accepted from each authenticated sender of commands and acks (so a command accepted once is
refused forever after) and the wrong-code lockouts.

One small JSON file (``auth.json`` in the storage folder, mode 0600), rewritten atomically and
fsynced before the command it records is acted on::

    store = AuthStore("/var/lib/guardroom/auth.json")
    if store.advance("cmd:platform", ts):      # False: not newer than the last one accepted
        ...act...
    store.put("lockout:keypad", {...})

Thread-safe: the relay checks commands in a worker thread, the keypads and the console use
the loop thread. Without a path (tests, tools) it keeps the same state in memory only.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Optional

log = logging.getLogger(__name__)

MAX_SENDERS = 4096   # senders are created only by authenticated messages; a bound anyway


def boot_id() -> str:
    """This boot of the machine (monotonic time stamps are comparable within one boot)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


class AuthStore:
    def __init__(self, path: Optional[str] = None):
        self.path = path
        self._lock = threading.Lock()
        self._data: dict = {"senders": {}, "state": {}}
        if path:
            self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            # Refuse to start blind: forgetting the counters would reopen every old command
            # to replay. The operator moves the file away knowingly.
            raise OSError(f"security state {self.path} unreadable ({e}); move it away to "
                          "start afresh (old commands could then be replayed once)") from None
        if isinstance(data, dict):
            senders = data.get("senders")
            state = data.get("state")
            self._data["senders"] = {str(k): int(v) for k, v in (senders or {}).items()
                                     if isinstance(v, int)}
            self._data["state"] = state if isinstance(state, dict) else {}

    def _save(self) -> None:
        """Atomic write (temp file 0600, fsync, rename, fsync of the folder). Lock held."""
        if not self.path:
            return
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._data, fh, separators=(",", ":"), sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # ------------------------------------------------------------------ sender counters
    def last(self, key: str) -> int:
        with self._lock:
            return self._data["senders"].get(key, -1)

    def advance(self, key: str, ts: int) -> bool:
        """Record ``ts`` for sender ``key`` if it is newer than the last one; False if not
        (a replay, or an older command overtaken by a newer one). Durable on return."""
        with self._lock:
            senders = self._data["senders"]
            if ts <= senders.get(key, -1):
                return False
            if key not in senders and len(senders) >= MAX_SENDERS:
                raise OverflowError("too many senders")
            old = senders.get(key)
            senders[key] = int(ts)
            try:
                self._save()
            except OSError:
                if old is None:
                    senders.pop(key, None)
                else:
                    senders[key] = old
                raise
            return True

    # ------------------------------------------------------------------ other state
    def get(self, key: str) -> Optional[dict]:
        with self._lock:
            v = self._data["state"].get(key)
            return dict(v) if isinstance(v, dict) else None

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._data["state"][key] = dict(value)
            try:
                self._save()
            except OSError as e:
                log.error("security state not saved: %s", e)
