# C declarations of core/incidents.py: incidents, alarms, verification, reset (Cython pure-Python mode).
# Functions of the engine: core/engine.py calls them as C functions (cimport), and they
# read and write the Engine's C fields (core/engine.pxd).

from guardroom.core.engine cimport Engine

cdef alarm(Engine e, a, z, cid, silent, text, holdup, condition, correlate)
cdef verify(Engine e, z)
cdef keypad_confirm(Engine e, a, covert)
cdef key_name(Engine e, k)
cdef key_area(Engine e, k)
cdef confirm(Engine e, key, groups, area, hold, covert)
cdef deferred_restores(Engine e, a, inc)
cdef close_incident(Engine e, a, inc)
cdef reset(Engine e, a)
