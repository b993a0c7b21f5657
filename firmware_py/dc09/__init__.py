"""The second path: SIA DC-09 (ANSI/SIA DC-09) to an alarm receiving centre. ``Dc09Path``
(durable, ordered, supervised, encrypted, with failover), ``DC09_SCHEMA`` (the ``[dc09]``
section), framing in ``frame``, payloads and routing classes in ``payload``. Operator guide:
docs/operator/dc09.md."""
from .config import DC09_SCHEMA
from .path import Dc09Path
from .payload import CLASSES, Numbering, event_class

__all__ = ["DC09_SCHEMA", "Dc09Path", "CLASSES", "Numbering", "event_class"]
