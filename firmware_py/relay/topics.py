"""Topic names of one controller: root ``<prefix>/<site>/<controller>``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str
    site: str
    controller: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.site}/{self.controller}"

    @property
    def status(self) -> str:      # retained "online" / "offline" (birth, will, clean stop)
        return self.root + "/status"

    @property
    def state(self) -> str:       # retained JSON
        return self.root + "/state"

    @property
    def event(self) -> str:       # QoS 1 JSON, one message per event
        return self.root + "/event"

    @property
    def heartbeat(self) -> str:   # QoS 1 probe when idle (path supervision)
        return self.root + "/heartbeat"

    @property
    def ack(self) -> str:         # from the platform
        return self.root + "/ack"

    @property
    def cmd(self) -> str:         # from the platform
        return self.root + "/cmd"

    @property
    def cmd_result(self) -> str:
        return self.root + "/cmd/result"


def parse(topic: str, prefix: str) -> tuple[str, str, str] | None:
    """``(site, controller, leaf)`` of a topic under ``prefix``, or None. ``leaf`` may contain
    slashes (``cmd/result``)."""
    if not topic.startswith(prefix + "/"):
        return None
    rest = topic[len(prefix) + 1:].split("/", 2)
    if len(rest) != 3:
        return None
    return rest[0], rest[1], rest[2]
