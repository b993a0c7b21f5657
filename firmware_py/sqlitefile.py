"""A SQLite file that may be deleted or replaced while it is open (the outbox, the event log).

SQLite keeps writing to the unlinked inode of a deleted database, so what is written after the
delete would be gone at the next start; a file put at the path meanwhile (an old backup
restored over it) is not the one being written. The owners compare the path's identity with the
file they opened (``ident``), copy what the old connection still holds into ``<path>.rescue``
and put that in place (``put_in_place``) once the old connection is closed:

    if ident(path) != opened: ...copy to path + ".rescue"...; old.close()
    aside = put_in_place(path + ".rescue", path)   # a file found at the path: kept aside

Closing a connection whose file was moved or deleted neither checkpoints nor deletes its WAL
(SQLite sees the move), so the old ``-wal``/``-shm`` stay at the path: beside a file someone put
there, anyone opening that file would read our WAL into it, and a new database would take it
for its own. So the ``-wal``/``-shm`` that were ours (``side_idents``, noted at open) are
removed before the file found at the path is set aside, and any ``-wal``/``-shm`` left with no
database beside them too.
"""
from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from typing import Optional

SIDE = ("-wal", "-shm", "-journal")


def ident(path: str) -> Optional[tuple[int, int]]:
    """(st_dev, st_ino) of the file at ``path``, None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def side_idents(path: str) -> set:
    """The identities of the -wal and -shm at ``path`` now (note them once the database is
    open in WAL mode: they are the connection's own)."""
    return {i for i in (ident(path + "-wal"), ident(path + "-shm")) if i is not None}


def remove(path: str) -> None:
    """``path`` and its -wal, -shm and -journal, those that exist."""
    for suffix in ("",) + SIDE:
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def set_aside(path: str, label: str = "replaced") -> Optional[str]:
    """Move a database found at ``path`` (with its -wal/-shm) to ``<path>.<label>-<unix
    time>``; returns that name, or None when nothing was there."""
    if not os.path.exists(path):
        return None
    aside = f"{path}.{label}-{int(time.time())}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    return aside


def put_in_place(rescue: str, path: str, ours: set = frozenset()) -> Optional[str]:
    """Make the closed single-file database ``rescue`` the file at ``path`` (the folder is
    made again if it went). The -wal/-shm at the path whose identity is in ``ours`` (the old
    connection's, ``side_idents``) are removed; a database found at the path is then set aside
    (its name is returned); an orphan -wal/-shm is removed. A connection still open on the
    old file may be closed afterwards: SQLite sees its file moved (the path names another
    inode now), so closing it neither checkpoints nor deletes a -wal/-shm by its name."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for suffix in ("-wal", "-shm"):
        if ident(path + suffix) in ours:
            os.remove(path + suffix)
    aside = set_aside(path)
    for suffix in ("-wal", "-shm"):
        if not os.path.exists(path) and os.path.exists(path + suffix):
            os.remove(path + suffix)
    os.replace(rescue, path)
    return aside


def open_existing(path: str, timeout: float = 0.2) -> sqlite3.Connection:
    """A second connection (a checkpointer's, on another thread) to the database at ``path``,
    opened on an existing file only: a file deleted a moment ago is not made again, empty,
    before its owner's check finds it gone."""
    return sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=rw", uri=True,
                           timeout=timeout, check_same_thread=False)


def close_quietly(conn: Optional[sqlite3.Connection]) -> None:
    """Close ``conn`` (None allowed), ignoring SQLite's errors: its file may be gone."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
