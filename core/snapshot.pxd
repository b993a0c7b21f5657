# C declarations of core/snapshot.py: snapshot and restore (Cython pure-Python mode).
# Functions of the engine: core/engine.py calls them as C functions (cimport), and they
# read and write the Engine's C fields (core/engine.pxd).

from guardroom.core.engine cimport Engine

cdef remaining(Engine e, i)
cdef zone_dict(Engine e, z)
cdef snapshot(Engine e)
cdef restore(Engine e, snap, t_ns)
cdef rebuild(Engine e, snap, t)
