"""Build script: maps the source folders into the one import package ``guardroom``
and compiles the alarm engine with Cython (pure-Python mode source, core/engine.py).

Set GUARDROOM_NO_CYTHON=1 to install without compiling (the interpreted engine is used).
"""
import os

from setuptools import Extension, setup

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


def extensions():
    if os.environ.get("GUARDROOM_NO_CYTHON"):
        return []
    from Cython.Build import cythonize

    # Explicit names: names inferred from file paths would land in the wrong package.
    exts = [Extension("guardroom.core.engine", ["core/engine.py"])]
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(
    packages=packages(),
    package_dir=PACKAGE_DIR,  # sub-packages follow their root
    package_data={"guardroom.drivers": ["profiles/*.toml"], "guardroom.examples": ["*.toml"],
                  "guardroom": ["locale/*/LC_MESSAGES/*.mo", "locale/*/LC_MESSAGES/*.po"]},
    include_package_data=True,
    ext_modules=extensions(),
    zip_safe=False,
)
