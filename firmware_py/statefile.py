"""The persisted engine state (arming, latches, bypasses, open incidents): one JSON file,
written atomically (temp file, fsync, rename, fsync of the folder) so a power cut leaves either
the old or the new state, never half of one."""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Optional

log = logging.getLogger("guardroom.state")


class StateFile:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()  # saves may run in a worker thread

    def load(self) -> Optional[dict]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            bad = self.path + ".corrupt"
            log.error("state file %s unreadable (%s); kept as %s", self.path, e, bad)
            try:
                os.replace(self.path, bad)
            except OSError:
                pass
            return None
        return data if isinstance(data, dict) and "engine" in data else None

    def save(self, data: dict, sync: bool = True) -> None:
        """Write atomically. ``sync=False`` skips the fsyncs: the new state then survives a
        killed process (it is in the page cache) but not yet a power cut, until ``sync()``."""
        with self._lock:
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            if sync:
                self._sync_dir()

    def sync(self) -> None:
        """Make the last save durable (file and folder)."""
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._sync_dir()

    def _sync_dir(self) -> None:
        dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
