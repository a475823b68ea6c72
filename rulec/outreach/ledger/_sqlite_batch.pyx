# cython: language_level=3, boundscheck=False, wraparound=False
"""The SQLite ledger's batch step on SQLite's C API: the twin of sqlite_batch.py (same rows).

Why: per million consumers Python's sqlite3 spent ~2.2 s in `executemany` of the upserts and
~0.5 s in the history lookups (issue 15). Here one connection of its own keeps its prepared
statements for the run, binds each Python str's UTF-8 buffer as is and steps from C. The
lookup skip and why it is safe (O13) are described in sqlite_batch.py; this twin does exactly
the same (the same filter size, bit and data_version checks).

SQLite's header is not needed (a fresh machine may lack libsqlite3-dev): the prototypes used
are declared below, and setup.py links the library Python's own `_sqlite3` links,
libsqlite3.so.0, by its file name.
"""

import os
from sqlite3 import DatabaseError, IntegrityError, OperationalError, ProgrammingError

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

from rulec.outreach.ledger.sqlite_batch import EMPTY, FILTER_BITS, UPSERT, UPSERT_ROWS, upsert_sql


cdef extern from *:
    """
    typedef struct sqlite3 sqlite3;
    typedef struct sqlite3_stmt sqlite3_stmt;
    int sqlite3_open_v2(const char *, sqlite3 **, int, const char *);
    int sqlite3_close_v2(sqlite3 *);
    int sqlite3_busy_timeout(sqlite3 *, int);
    int sqlite3_get_autocommit(sqlite3 *);
    int sqlite3_prepare_v2(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int sqlite3_step(sqlite3_stmt *);
    int sqlite3_reset(sqlite3_stmt *);
    int sqlite3_finalize(sqlite3_stmt *);
    int sqlite3_column_type(sqlite3_stmt *, int);
    const void *sqlite3_column_blob(sqlite3_stmt *, int);
    int sqlite3_column_bytes(sqlite3_stmt *, int);
    long long sqlite3_column_int64(sqlite3_stmt *, int);
    double sqlite3_column_double(sqlite3_stmt *, int);
    int sqlite3_errcode(sqlite3 *);
    const char *sqlite3_errmsg(sqlite3 *);
    """
    ctypedef struct sqlite3
    ctypedef struct sqlite3_stmt
    int sqlite3_open_v2(const char *, sqlite3 **, int, const char *) nogil
    int sqlite3_close_v2(sqlite3 *) nogil
    int sqlite3_busy_timeout(sqlite3 *, int) nogil
    int sqlite3_get_autocommit(sqlite3 *) nogil
    int sqlite3_prepare_v2(sqlite3 *, const char *, int, sqlite3_stmt **, const char **) nogil
    int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *)) nogil
    int sqlite3_step(sqlite3_stmt *) nogil
    int sqlite3_reset(sqlite3_stmt *) nogil
    int sqlite3_finalize(sqlite3_stmt *) nogil
    int sqlite3_column_type(sqlite3_stmt *, int) nogil
    const void *sqlite3_column_blob(sqlite3_stmt *, int) nogil
    int sqlite3_column_bytes(sqlite3_stmt *, int) nogil
    long long sqlite3_column_int64(sqlite3_stmt *, int) nogil
    double sqlite3_column_double(sqlite3_stmt *, int) nogil
    int sqlite3_errcode(sqlite3 *) nogil
    const char *sqlite3_errmsg(sqlite3 *) nogil

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *) except NULL
    object PyUnicode_DecodeUTF8(const char *, Py_ssize_t, const char *)

# sqlite3.h's constants (stable across SQLite 3 releases)
cdef int SQLITE_OK = 0, SQLITE_CORRUPT = 11, SQLITE_CONSTRAINT = 19, SQLITE_NOTADB = 26
cdef int SQLITE_ROW = 100, SQLITE_DONE = 101
cdef int SQLITE_INTEGER = 1, SQLITE_FLOAT = 2, SQLITE_TEXT = 3, SQLITE_BLOB = 4
cdef int SQLITE_OPEN_READWRITE = 0x2  # the ledger made the file: never create it here
cdef int64_t MASK = FILTER_BITS - 1


cdef class BatchDb:
    """The batch step on the ledger file `path`: its own connection, `timeout` seconds of busy
    wait. `db` must be None (the pure twin alone works on a connection it is given)."""

    cdef sqlite3 *con
    cdef sqlite3_stmt *s_begin
    cdef sqlite3_stmt *s_commit
    cdef sqlite3_stmt *s_rollback
    cdef sqlite3_stmt *s_empty
    cdef sqlite3_stmt *s_version
    cdef sqlite3_stmt *s_find
    cdef sqlite3_stmt *s_upsert
    cdef sqlite3_stmt *s_upsert_n  # UPSERT_ROWS rows a step
    cdef bint first
    cdef int64_t version
    cdef unsigned char *bits  # the filter while the skip is on, else NULL
    cdef readonly object path

    def __init__(self, path, double timeout, db=None):
        if db is not None:
            raise TypeError("the C batch step opens its own connection; db must be None")
        self.path, self.first = path, True
        cdef bytes name = os.fsencode(path)  # as Python's sqlite3 encodes a path
        cdef int rc = sqlite3_open_v2(name, &self.con, SQLITE_OPEN_READWRITE, NULL)
        if rc != SQLITE_OK:
            err = self._error(rc)
            self._close()
            raise err
        try:
            sqlite3_busy_timeout(self.con, <int> min(timeout * 1000.0, 2147483647.0))
            self._run(self._prepare(b"PRAGMA synchronous=NORMAL"), True)
            self._run(self._prepare(b"PRAGMA cache_size=-65536"), True)
            self.s_begin = self._prepare(b"BEGIN IMMEDIATE")
            self.s_commit = self._prepare(b"COMMIT")
            self.s_rollback = self._prepare(b"ROLLBACK")
            self.s_empty = self._prepare(EMPTY.encode())
            self.s_version = self._prepare(b"PRAGMA data_version")
            self.s_find = self._prepare(b"SELECT sends FROM consumers WHERE consumer = ?")
            self.s_upsert = self._prepare(UPSERT.encode())
            self.s_upsert_n = self._prepare(upsert_sql(UPSERT_ROWS).encode())
        except BaseException:
            self._close()
            raise

    def __dealloc__(self):
        self._close()

    cdef object _error(self, int rc):
        """sqlite3's own exception for `rc`, with SQLite's message (the ledger's `_guard`
        maps OperationalError to S907 and DatabaseError to S941, as for Python's sqlite3)."""
        text = sqlite3_errmsg(self.con).decode("utf-8", "replace") if self.con else "out of memory"
        rc &= 0xFF  # the primary code of an extended one
        if rc == SQLITE_CORRUPT or rc == SQLITE_NOTADB:
            return DatabaseError(text)
        if rc == SQLITE_CONSTRAINT:
            return IntegrityError(text)
        return OperationalError(text)

    cdef sqlite3_stmt *_prepare(self, bytes sql) except NULL:
        cdef sqlite3_stmt *st = NULL
        cdef int rc = sqlite3_prepare_v2(self.con, sql, len(sql), &st, NULL)
        if rc != SQLITE_OK:
            sqlite3_finalize(st)
            raise self._error(rc)
        return st

    cdef int _run(self, sqlite3_stmt *st, bint once=False) except -1:
        """Step a statement without parameters to its end (the GIL let go: BEGIN may wait
        for another writer up to the busy timeout); `once`: finalize it afterwards."""
        cdef int rc
        with nogil:
            rc = sqlite3_step(st)
            while rc == SQLITE_ROW:
                rc = sqlite3_step(st)
            sqlite3_reset(st)
        if rc != SQLITE_DONE:
            err = self._error(rc)
            if once:
                sqlite3_finalize(st)
            raise err
        if once:
            sqlite3_finalize(st)
        return 0

    cdef int64_t _int(self, sqlite3_stmt *st) except? -1:
        """The first column of a one-row statement."""
        cdef int rc = sqlite3_step(st)
        cdef int64_t v = sqlite3_column_int64(st, 0) if rc == SQLITE_ROW else 0
        sqlite3_reset(st)
        if rc != SQLITE_ROW:
            raise self._error(rc)
        return v

    cdef inline int _bind(self, sqlite3_stmt *st, int i, str value) except -1:
        cdef Py_ssize_t n
        cdef const char *p = PyUnicode_AsUTF8AndSize(value, &n)
        # NULL destructor (SQLITE_STATIC): `value` outlives the step that reads the buffer
        cdef int rc = sqlite3_bind_text(st, i, p, <int> n, NULL)
        if rc != SQLITE_OK:
            raise self._error(rc)
        return 0

    @property
    def skipping(self):
        """True while lookups of consumers this BatchDb never wrote are left out."""
        return self.bits != NULL

    def begin(self):
        self._live()
        self._run(self.s_begin)
        if self.first:
            self.first = False
            if self._int(self.s_empty):
                self.version = self._int(self.s_version)
                self.bits = <unsigned char *> calloc(FILTER_BITS >> 3, 1)
                if self.bits == NULL:
                    raise MemoryError()
        elif self.bits != NULL and self._int(self.s_version) != self.version:
            free(self.bits)  # another connection wrote: every lookup from now on
            self.bits = NULL

    def commit(self):
        self._live()
        self._run(self.s_commit)

    def rollback(self):
        if self.con != NULL and not sqlite3_get_autocommit(self.con):
            self._run(self.s_rollback)

    cdef int _live(self) except -1:
        if self.con == NULL:
            raise ProgrammingError("Cannot operate on a closed database.")
        return 0

    def history(self, list consumers):
        """[(consumer, stored sends)] of the consumers that have a row (each once, in order)."""
        self._live()
        cdef list out = []
        cdef set seen = set()
        cdef sqlite3_stmt *st = self.s_find
        cdef int64_t h
        cdef int rc
        for c in consumers:
            if type(c) is not str:
                raise TypeError(f"ledger consumer {c!r} is not a str")
            if self.bits != NULL:
                h = hash(c) & MASK
                if not (self.bits[h >> 3] >> (h & 7)) & 1:
                    continue
            if c in seen:
                continue
            seen.add(c)
            self._bind(st, 1, c)
            rc = sqlite3_step(st)
            if rc == SQLITE_ROW:
                try:
                    out.append((c, self._value(st)))
                except BaseException:
                    sqlite3_reset(st)
                    raise
                rc = sqlite3_step(st)  # the key is unique: DONE
            sqlite3_reset(st)
            if rc != SQLITE_DONE:
                raise self._error(rc)
        return out

    cdef object _value(self, sqlite3_stmt *st):
        """Column 0 as Python's sqlite3 gives it (a damaged row may hold any type: the
        ledger reads it strictly and names it, S941)."""
        cdef int t = sqlite3_column_type(st, 0)
        cdef const char *p
        cdef int n
        if t == SQLITE_INTEGER:
            return sqlite3_column_int64(st, 0)
        if t == SQLITE_FLOAT:
            return sqlite3_column_double(st, 0)
        if t == SQLITE_TEXT or t == SQLITE_BLOB:
            p = <const char *> sqlite3_column_blob(st, 0)
            n = sqlite3_column_bytes(st, 0)
            if t == SQLITE_BLOB:
                return PyBytes_FromStringAndSize(p, n)
            try:
                return PyUnicode_DecodeUTF8(p, n, NULL)
            except UnicodeDecodeError:
                # what Python's sqlite3 raises for such a row (the ledger: S907)
                raise OperationalError(
                    "Could not decode to UTF-8 column 'sends' with text "
                    + repr(PyBytes_FromStringAndSize(p, n).decode("utf-8", "replace"))
                ) from None
        return None

    def upsert(self, list rows):
        """Append each (consumer, packed sends) to the consumer's row (a new row if none):
        UPSERT_ROWS rows a statement, the rest one by one."""
        self._live()
        cdef int64_t h
        cdef Py_ssize_t i = 0, j, n = len(rows)
        bad = None
        for j in range(n):  # the rows before a bad one are written, as row by row
            row = rows[j]
            consumer, text = row
            if type(consumer) is not str or type(text) is not str:
                bad, n = TypeError(f"ledger row {row!r}: consumer and sends must be str"), j
                break
            if self.bits != NULL:  # the bit first: whatever happens to the write, a row has it
                h = hash(consumer) & MASK
                self.bits[h >> 3] |= 1 << (h & 7)
        while n - i >= UPSERT_ROWS:
            for j in range(UPSERT_ROWS):
                row = rows[i + j]
                self._bind(self.s_upsert_n, 2 * j + 1, (<tuple> row)[0])
                self._bind(self.s_upsert_n, 2 * j + 2, (<tuple> row)[1])
            self._step(self.s_upsert_n)
            i += UPSERT_ROWS
        for j in range(i, n):
            row = rows[j]
            self._bind(self.s_upsert, 1, (<tuple> row)[0])
            self._bind(self.s_upsert, 2, (<tuple> row)[1])
            self._step(self.s_upsert)
        if bad is not None:
            raise bad

    cdef int _step(self, sqlite3_stmt *st) except -1:
        cdef int rc = sqlite3_step(st)
        sqlite3_reset(st)
        if rc != SQLITE_DONE:
            raise self._error(rc)
        return 0

    def close(self):
        """Finalize the statements and close the connection (a second call does nothing)."""
        self._close()

    cdef void _close(self) noexcept:
        free(self.bits)
        self.bits = NULL
        sqlite3_finalize(self.s_begin)
        sqlite3_finalize(self.s_commit)
        sqlite3_finalize(self.s_rollback)
        sqlite3_finalize(self.s_empty)
        sqlite3_finalize(self.s_version)
        sqlite3_finalize(self.s_find)
        sqlite3_finalize(self.s_upsert)
        sqlite3_finalize(self.s_upsert_n)
        self.s_upsert_n = NULL
        self.s_begin = self.s_commit = self.s_rollback = self.s_empty = NULL
        self.s_version = self.s_find = self.s_upsert = NULL
        if self.con != NULL:
            sqlite3_close_v2(self.con)
            self.con = NULL
