# Declarations that make core/decisions.py's Decision a compiled extension type (Cython
# pure-Python mode). The field order and names follow decisions.FIELDS.

cdef class Decision:
    cdef public object kind
    cdef public long long t_ns
    cdef public object area
    cdef public object zone
    cdef public long long incident
    cdef public long long cid
    cdef public long long q
    cdef public bint verified
    cdef public bint silent
    cdef public bint drill
    cdef public object user
    cdef public object text
    cdef public object output
    cdef public bint on
    cdef public object state
    cdef public bint report
