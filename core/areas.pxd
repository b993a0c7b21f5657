# C declarations of core/areas.py: commands, arming, entry/exit, bypasses, drill, walk test (Cython pure-Python mode).
# Functions of the engine: core/engine.py calls them as C functions (cimport), and they
# read and write the Engine's C fields (core/engine.pxd).

from guardroom.core.engine cimport Engine

cdef command(Engine e, name, area, zone, force, arg)
cdef by_keyswitch(Engine e, a, to_arm)
cdef arm(Engine e, a, mode, force)
cdef prevention(Engine e, a)
cdef new_period(Engine e, a)
cdef exit_ended(Engine e, a)
cdef armed(Engine e, a, outputs=*)
cdef disarm(Engine e, a)
cdef clear_bypasses(Engine e, a)
cdef bypass_cmd(Engine e, z)
cdef unbypass_cmd(Engine e, z)
cdef start_entry(Engine e, z)
cdef delay_expired(Engine e, a)
cdef drill(Engine e, a, start)
cdef walktest(Engine e, a, start)
cdef walktest_timeout(Engine e, a)
cdef walktest_end(Engine e, a, why)
cdef untripped(Engine e, a)
cdef scope_of(Engine e, a)
cdef walk_trip(Engine e, a, z, what)
