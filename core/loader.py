"""Pick and load a build of the alarm engine.

``load_engine("compiled")`` loads the Cython extension next to this file (ImportError when it
was not built); ``load_engine("interpreted")`` loads core/engine.py explicitly from its source
file (a built .so in the same folder would win a normal import), and the interpreted engine
loads its cold modules (areas, incidents, sirens, snapshot) from their sources the same way
(``source_module``). When Cython is not installed, the interpreted build runs on
core/_cython_shim.py.
"""
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path

BUILDS = ("compiled", "interpreted")
HERE = Path(__file__).resolve().parent
COMPILED_NAME = "guardroom.core.engine"
INTERPRETED_NAME = "guardroom.core._engine_interpreted"
# the compiled modules of the engine besides engine itself (setup.py CORE_MODULES)
ENGINE_PARTS = ("constants", "areas", "incidents", "sirens", "snapshot")

_loaded = {}
_MISSING = object()


def compiled_path():
    """Path of the built extension, or None."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = HERE / ("engine" + suffix)
        if path.exists():
            return path
    return None


def _load_compiled():
    known = sys.modules.get(COMPILED_NAME)
    if known is not None and getattr(known, "BUILD", "") == "compiled":
        return known
    path = compiled_path()
    if path is None:
        raise ImportError("the compiled engine is not built (python setup.py build_ext --inplace)")
    for name in ("engine",) + ENGINE_PARTS:
        source = HERE / (name + ".py")
        if source.exists() and source.stat().st_mtime > path.stat().st_mtime + 1:
            warnings.warn(f"{path.name} is older than core/{name}.py: rebuild it "
                          "(python setup.py build_ext --inplace)", RuntimeWarning, stacklevel=3)
    loader = importlib.machinery.ExtensionFileLoader(COMPILED_NAME, str(path))
    spec = importlib.util.spec_from_file_location(COMPILED_NAME, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    # registered before it runs: its cold modules import it back for the Engine type
    sys.modules[COMPILED_NAME] = module
    try:
        loader.exec_module(module)
        if module.BUILD != "compiled":
            raise ImportError(f"{path} is not a compiled engine")
    except BaseException:
        if sys.modules.get(COMPILED_NAME) is module:
            del sys.modules[COMPILED_NAME]
        raise
    return module


def source_module(name):
    """core/<name>.py loaded from its source file as ``guardroom.core._<name>_interpreted``
    (once; a built extension of the same name would win a normal import): the interpreted
    engine's cold modules. Registered before it runs, so modules that load each other work."""
    full = f"guardroom.core._{name}_interpreted"
    known = sys.modules.get(full)
    if known is not None:
        return known
    spec = importlib.util.spec_from_file_location(full, HERE / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full]
        raise
    return module


def load_source(name=INTERPRETED_NAME, force_shim=False):
    """Load core/engine.py as a fresh module: on Cython's shadow module, or on
    core/_cython_shim.py when Cython is not installed (or ``force_shim``, for tests)."""
    saved = sys.modules.get("cython", _MISSING)
    if force_shim:
        sys.modules["cython"] = None  # makes "import cython" raise ImportError
    try:
        spec = importlib.util.spec_from_file_location(name, HERE / "engine.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if force_shim:
            if saved is _MISSING:
                sys.modules.pop("cython", None)
            else:
                sys.modules["cython"] = saved
    return module


def load_engine(build: str):
    """The engine module of that build ("compiled" or "interpreted")."""
    if build not in BUILDS:
        raise ValueError(f"unknown engine build {build!r} (expected one of {BUILDS})")
    if build not in _loaded:
        _loaded[build] = _load_compiled() if build == "compiled" else load_source()
    return _loaded[build]


def default_build() -> str:
    """compiled when built, unless GUARDROOM_PURE=1; else interpreted."""
    if os.environ.get("GUARDROOM_PURE", "") not in ("", "0"):
        return "interpreted"
    return "compiled" if compiled_path() is not None else "interpreted"
