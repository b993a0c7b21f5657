# C declarations of core/sirens.py: sirens, strobes, buzzers, bell, fallback (Cython pure-Python mode).
# Functions of the engine: core/engine.py calls them as C functions (cimport), and they
# read and write the Engine's C fields (core/engine.pxd).

from guardroom.core.engine cimport Engine

cdef sound(Engine e, a, by_fallback)
cdef siren_off(Engine e, a)
cdef outputs(Engine e, a)
cdef fallback(Engine e, a, cid, why)
cdef fallback_expired(Engine e, a)
cdef bell_period(Engine e, a)
cdef silence(Engine e, a)
cdef siren_test(Engine e, which, arg)
