"""Build script: maps the source folders into the one import package ``guardroom``
and compiles the alarm engine with Cython (pure-Python mode source, core/engine.py) and the
Modbus driver's steady poll loop (drivers/modbus/_steady.pyx).

Set GUARDROOM_NO_CYTHON=1 to install without compiling (the interpreted engine is used, and
every Modbus poll runs in Python).

The extensions are built without debug information and stripped at link time on Linux (the
engine's ``.so`` is ~5 MB with the interpreter's default ``-g``, ~1 MB without): that is what
an installed controller carries. Set GUARDROOM_DEBUG_SYMBOLS=1 to keep them (perf, gdb).
"""
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE_DIR = {
    "guardroom": "firmware_py",
    "guardroom.core": "core",
    "guardroom.drivers": "drivers",
    "guardroom.emulators": "emulators",
    "guardroom.examples": "examples",
}


def packages():
    """Every folder with an __init__.py below the mapped roots, as dotted names."""
    found = []
    for pkg, root in PACKAGE_DIR.items():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, root)
                name = pkg if rel == "." else pkg + "." + rel.replace(os.sep, ".")
                if name not in found:
                    found.append(name)
    return found


# the compiled modules of guardroom.core (each core/<name>.py, with core/<name>.pxd if any)
CORE_MODULES = ("decisions", "engine", "areas", "incidents", "sirens", "snapshot")
PXD_TREE = os.path.join("build", "pxd")


def _pxd_tree():
    """``cimport guardroom.core.X`` needs guardroom/core/X.pxd on Cython's include path, but
    the package lives in core/: mirror the .pxd files into build/pxd/guardroom/core/."""
    dest = os.path.join(PXD_TREE, "guardroom", "core")
    os.makedirs(dest, exist_ok=True)
    for pkg in (os.path.join(PXD_TREE, "guardroom"), dest):
        open(os.path.join(pkg, "__init__.pxd"), "a").close()
    for name in os.listdir("core"):
        if name.endswith(".pxd"):
            with open(os.path.join("core", name)) as src:
                text = src.read()
            target = os.path.join(dest, name)
            if not os.path.exists(target) or open(target).read() != text:
                with open(target, "w") as out:
                    out.write(text)
    return PXD_TREE


def extensions():
    if os.environ.get("GUARDROOM_NO_CYTHON"):
        return []
    from Cython.Build import cythonize

    # Explicit names: names inferred from file paths would land in the wrong package.
    exts = [Extension("guardroom.core." + name, [f"core/{name}.py"]) for name in CORE_MODULES]
    # the Modbus bus thread's steady state in C (drivers/modbus/_steady.pyx); optional: the
    # driver polls in Python without it
    exts.append(Extension("guardroom.drivers.modbus._steady", ["drivers/modbus/_steady.pyx"]))
    return cythonize(
        exts,
        include_path=[_pxd_tree()],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


class StrippedBuildExt(build_ext):
    """``build_ext`` that compiles with ``-g0`` (after the interpreter's ``-g``, so it wins)
    and links with ``-s`` (strip all symbols but the dynamic ones Python imports by), for
    ``pip install .``, ``pip install -e .`` and wheels alike. Only for a GCC/Clang toolchain
    on Linux; elsewhere, or with GUARDROOM_DEBUG_SYMBOLS=1, the default flags stay."""

    def build_extension(self, ext):
        if (self.compiler.compiler_type == "unix" and sys.platform.startswith("linux")
                and not os.environ.get("GUARDROOM_DEBUG_SYMBOLS")):
            for flags, flag in ((ext.extra_compile_args, "-g0"), (ext.extra_link_args, "-s")):
                if flag not in flags:
                    flags.append(flag)
        super().build_extension(ext)


setup(
    cmdclass={"build_ext": StrippedBuildExt},
    packages=packages(),
    package_dir=PACKAGE_DIR,  # sub-packages follow their root
    package_data={"guardroom.drivers": ["profiles/*.toml"], "guardroom.examples": ["*.toml"],
                  "guardroom": ["locale/*/LC_MESSAGES/*.mo", "locale/*/LC_MESSAGES/*.po"]},
    include_package_data=True,
    ext_modules=extensions(),
    zip_safe=False,
)
