# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The steady state of a Modbus bus in C: poll a device whose answers do not change, again and
again, without the interpreter.

At idle nearly every poll of a bus gets the answer it got last time. driver.py then only
counts the poll; yet each poll woke the bus thread twice (the poll timer, the answer) and ran
some hundred lines of Python from a cold cache: about 0.3 ms of CPU per poll on a shared x86
core, most of the daemon's idle cost. ``steady()`` runs that loop with the GIL released:
sleep until the poll is due (or a job is queued: the bus's wake pipe), send each prepared
request, read its answer, compare it with the answer already reported, count, repeat. It
returns to Python as soon as anything else happens, with what it has: the wake pipe is
readable (a coil write, a scan probe, stop), or an answer is not the expected one (a change,
an exception response, a stray or late frame, a timeout, a link error, a short write). The
Python code then finishes that very transaction (``LeanClient.resume``) and the poll as it
always did, so every error path, the chatter guard and the decoding stay in one place.

An RTU answer is compared with the whole expected frame (address, PDU and CRC: equal bytes
need no CRC pass); a Modbus TCP answer with the expected ADU but its transaction id, which
must be the id of the request just sent (the unit id byte is not compared: the Python path
does not check it either). Built only with Cython (setup.py); without it the
driver polls in Python as before (``STEADY = None`` in driver.py).
"""
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.errno cimport EAGAIN, EINTR, errno
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.unistd cimport read, write


cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int ppoll(pollfd *fds, unsigned long nfds, const timespec *tmo, const void *sigmask)
    enum: POLLIN


cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, int *arg)
    enum: FIONREAD


cdef enum:
    MAXREQ = 8      # read blocks per device poll handled here (more: polled in Python)
    BUFSZ = 520     # an RTU frame is at most 256 bytes, a TCP ADU 260

cdef enum:
    S_WOKEN = 0     # the wake pipe is readable; nothing was sent since the last completed poll
    S_RESUME = 1    # request ``index`` was sent (``wrote`` bytes of it) and its answer differs

WOKEN = S_WOKEN
RESUME = S_RESUME
MAX_REQUESTS = MAXREQ


cdef inline long long _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000000000LL + ts.tv_nsec


cdef int _wait(int fd, long long until) noexcept nogil:
    """1: ``fd`` readable (or in error: the caller's read tells); 0: ``until`` reached (an
    overdue ``until`` still looks once, so a bus that never catches up still sees its jobs)."""
    cdef pollfd p
    cdef timespec ts
    cdef long long left
    cdef int r
    p.fd = fd
    p.events = POLLIN
    while True:
        left = until - _now()
        if left <= 0:
            ts.tv_sec = 0
            ts.tv_nsec = 0
            p.revents = 0
            return 1 if ppoll(&p, 1, &ts, NULL) > 0 else 0
        ts.tv_sec = left // 1000000000LL
        ts.tv_nsec = left % 1000000000LL
        p.revents = 0
        r = ppoll(&p, 1, &ts, NULL)
        if r > 0:
            return 1
        if r == 0:          # CLOCK_MONOTONIC, never early: ``until`` is reached
            return 0
        if errno != EINTR:
            return 1


cdef void _drop_stale(int fd, unsigned char *scratch) noexcept nogil:
    """Bytes that arrived since the last answer (noise, a late answer) are not ours."""
    cdef int avail = 0
    if ioctl(fd, FIONREAD, &avail) == 0 and avail == 0:
        return
    while read(fd, scratch, BUFSZ) > 0:
        pass


def steady(int wake_fd, int link_fd, bint rtu, tuple frames, tuple answers,
           double next_due, double period, double timeout, int tid, object live):
    """Poll until something needs Python. ``frames``: the prepared requests of one poll (RTU
    frames with their CRC, or TCP ADUs whose transaction id is filled in here); ``answers``:
    the answer each had last time. ``next_due``, ``period``, ``timeout``: ``time.monotonic()``
    seconds. ``tid``: the TCP transaction id last used. ``live``: ``array('q')`` of [polls, end
    of the last poll in monotonic ns, its duration in ns], counted here for the driver's stats
    (a plain buffer, not a typed memoryview: Cython's memoryview support would triple the size
    of this module, and the install is capped at 60 MB).

    Returns ``(status, next_due, index, tid, wrote, data, deadline)``: ``WOKEN`` (nothing in
    flight), or ``RESUME``: request ``index`` went out (``wrote`` bytes of it, with id ``tid``),
    ``data`` is what came back so far, ``deadline`` when its answer is late."""
    cdef int n = len(frames)
    if n < 1 or n > MAXREQ or len(answers) != n:
        raise ValueError("steady: 1 to 8 requests, one answer each")
    cdef const unsigned char *fp[MAXREQ]
    cdef Py_ssize_t fl[MAXREQ]
    cdef const unsigned char *ap[MAXREQ]
    cdef Py_ssize_t al[MAXREQ]
    cdef bytes b
    cdef int i
    for i in range(n):
        b = frames[i]
        fp[i] = <const unsigned char *> (<char *> b)
        fl[i] = len(b)
        b = answers[i]
        ap[i] = <const unsigned char *> (<char *> b)
        al[i] = len(b)
        if fl[i] < (1 if rtu else 8) or fl[i] > BUFSZ or al[i] < 2 or al[i] > BUFSZ:
            raise ValueError("steady: a frame or an answer of a wrong length")
    cdef long long due = <long long> (next_due * 1e9)
    cdef long long per = <long long> (period * 1e9)
    cdef long long tmo = <long long> (timeout * 1e9)
    cdef long long t0 = 0, t = 0, deadline = 0
    cdef unsigned char out[BUFSZ]
    cdef unsigned char buf[BUFSZ]
    cdef const unsigned char *src
    cdef Py_ssize_t got = 0, want = 0, k, m
    cdef Py_ssize_t wrote = 0
    cdef int status = S_WOKEN, idx = 0, differs = 0
    cdef unsigned int ttid = tid & 0xFFFF
    cdef Py_buffer view
    PyObject_GetBuffer(live, &view, PyBUF_WRITABLE)
    if view.len < 3 * <Py_ssize_t> sizeof(long long) or view.itemsize != sizeof(long long):
        PyBuffer_Release(&view)
        raise ValueError("steady: live must be array('q') of 3")
    cdef long long *lv = <long long *> view.buf
    try:
        with nogil:
            while True:
                if _wait(wake_fd, due):
                    status = S_WOKEN
                    break
                t0 = _now()
                differs = 0
                for i in range(n):
                    idx = i
                    got = 0
                    if rtu:
                        _drop_stale(link_fd, buf)
                        src = fp[i]
                    else:   # a late answer to an earlier request is told apart by its id
                        ttid = (ttid + 1) & 0xFFFF
                        memcpy(out, fp[i], fl[i])
                        out[0] = <unsigned char> (ttid >> 8)
                        out[1] = <unsigned char> (ttid & 0xFF)
                        src = out
                    wrote = write(link_fd, src, fl[i])
                    deadline = _now() + tmo
                    if wrote != fl[i]:
                        if wrote < 0:
                            wrote = 0       # Python writes it (again) and meets the error
                        differs = 1
                        break
                    want = al[i]
                    while True:
                        if not _wait(link_fd, deadline):
                            differs = 1     # late: Python waits out nothing and reports it
                            break
                        k = read(link_fd, buf + got, BUFSZ - got)
                        if k < 0 and (errno == EAGAIN or errno == EINTR):
                            continue
                        if k <= 0:
                            differs = 1     # closed or failed: Python's read sees it again
                            break
                        m = got
                        got += k
                        if got > want:
                            differs = 1
                            break
                        while m < got:      # only the new bytes: they are few
                            if rtu or m > 6:
                                differs = buf[m] != ap[i][m]
                            elif m < 2:     # the id of the request just sent
                                differs = buf[m] != out[m]
                            elif m < 6:     # (byte 6, the unit id, is not checked in Python either)
                                differs = buf[m] != ap[i][m]
                            if differs:
                                break
                            m += 1
                        if differs:
                            break
                        if got == want:
                            break
                    if differs:
                        break
                if differs:
                    status = S_RESUME
                    break
                t = _now()
                lv[0] += 1
                lv[1] = t
                lv[2] = t - t0
                due += per
                if due < t:
                    due = t
    finally:
        PyBuffer_Release(&view)
    return (status, due / 1e9, idx, <int> ttid, wrote, (<char *> buf)[:got], deadline / 1e9)
