"""A tiny stand-in for Cython's shadow module, so core/engine.py runs interpreted when Cython
is not installed (Cython is a build dependency, not a runtime one).

Only what engine.py uses: decorators become no-ops, ``declare`` returns its value, types are
placeholders (annotations are never evaluated: engine.py uses ``from __future__ import
annotations``).
"""

compiled = False


def _identity(func):
    return func


def _directive(*_args, **_kwargs):
    return _identity


cclass = cfunc = ccall = final = inline = no_gc = _identity
exceptval = boundscheck = wraparound = cdivision = locals = returns = _directive


def declare(_type=None, value=None, **_kwargs):
    return value


def cast(_type, value, **_kwargs):
    return value


class _Type:
    def __init__(self, name):
        self.name = name

    def __getitem__(self, _item):
        return self

    def __repr__(self):
        return f"cython.{self.name}"


int = _Type("int")  # noqa: A001 - mirrors Cython's names
longlong = _Type("longlong")
bint = _Type("bint")
Py_ssize_t = _Type("Py_ssize_t")
double = _Type("double")


def freelist(_n):
    return _identity
