"""guardroom.core: the alarm engine (debounce, zones, areas, correlation, timers, sirens).

    from guardroom.core import Engine, Decision, BUILD, load_engine

``Engine`` is the compiled (Cython) build when it is built, else the interpreted one;
``GUARDROOM_PURE=1`` forces the interpreted build. The contract is docs/developer/engine.md.
"""
from guardroom.core.decisions import Decision
from guardroom.core.errors import EngineError, SiteError, SnapshotError
from guardroom.core.loader import default_build, load_engine

try:
    _engine = load_engine(default_build())
except ImportError:  # a stale or broken extension: fall back rather than refuse to start
    _engine = load_engine("interpreted")

Engine = _engine.Engine
BUILD = _engine.BUILD

__all__ = ["Engine", "Decision", "BUILD", "load_engine", "EngineError", "SiteError",
           "SnapshotError"]
