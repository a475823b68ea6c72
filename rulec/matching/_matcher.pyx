# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython R5 matcher: matcher_py's plan run over uint64 word bitsets and C hash tables.

Per chat: read the chat dict (borrowed references, no copies); class each predicate slot's value
in C (numbers by binary search over the slot's literals as exact doubles, strings through the
plan's memo dict, bools and missing values by kind); look the tuple of classes up in an open
addressing table of the crowd (then intent) results; OR in label rows; narrow crowd > product >
intent > order over W words; build the list of names. Anything unusual (a new class, exotic
types, huge ints) goes to the pure-Python plan, which is the same code the twin runs.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint64_t, uint32_t, int32_t, int64_t, int8_t, uint8_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset, memcmp, memmove

from rulec.common.vocab import DIMS
from rulec.matching.reference import check_chat
from rulec.errors import InputError, diag

cdef extern from "Python.h":
    ctypedef struct PyTypeObject:
        pass
    PyTypeObject PyFloat_Type
    PyTypeObject PyLong_Type
    PyTypeObject PyUnicode_Type
    PyTypeObject PyBool_Type
    PyTypeObject PyDict_Type
    PyTypeObject PyList_Type
    PyTypeObject PyTuple_Type
    PyTypeObject* Py_TYPE(PyObject*)
    PyObject* Py_None
    PyObject* Py_True
    PyObject* PyDict_GetItem "PyDict_GetItemWithError"(PyObject* d, PyObject* key)
    double PyFloat_AS_DOUBLE(PyObject*)
    long long PyLong_AsLongLongAndOverflow(PyObject*, int*)
    long PyLong_AsLong(PyObject*)
    Py_ssize_t PyList_GET_SIZE(PyObject*)
    PyObject* PyList_GET_ITEM(PyObject*, Py_ssize_t)
    Py_ssize_t PyTuple_GET_SIZE(PyObject*)
    PyObject* PyTuple_GET_ITEM(PyObject*, Py_ssize_t)
    int PyGC_Disable()
    int PyGC_Enable()

cdef extern from *:
    int __builtin_popcountll(unsigned long long)
    int __builtin_ctzll(unsigned long long)

DEF EXACT = 9007199254740992.0  # 2**53
cdef Py_ssize_t TABLE_MAX = 1 << 20

cdef object K_ATTRS = "attrs"
cdef object K_MESSAGE = "message"
cdef object K_CROWDS = "crowds"
cdef object K_PRODUCT = "product"
cdef object K_ORDER = "order"
cdef object K_INTENT = "intent"


cdef inline uint64_t _hash(const int32_t* key, int k) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL
    cdef int j
    for j in range(k):
        h ^= <uint32_t>key[j]
        h *= 1099511628211ULL
    return h ^ (h >> 29)


cdef inline PyObject* _typed_field(PyObject* chat, object key, PyTypeObject* tp, bint* odd):
    """A chat field (NULL when absent or null); sets *odd when it has another type than tp
    (the caller then takes the checked slow path)."""
    cdef PyObject* v = PyDict_GetItem(chat, <PyObject*>key)
    if v == Py_None:
        return NULL
    if v != NULL and Py_TYPE(v) != tp:
        odd[0] = True
    return v


@cython.final  # direct calls: probes inline into the per-chat loops
cdef class IntTable:
    """Open addressing map: k int32 (a class tuple, or the words of a held set) -> int32 >= 0.

    Entries are [value, key...] side by side, so a probe touches one cache line."""
    cdef int k, stride
    cdef Py_ssize_t cap, used
    cdef int32_t* ent

    def __cinit__(self, int k):
        self.k = k
        self.stride = k + 1
        self.cap = 0
        self.ent = NULL
        self._alloc(1024)

    def __dealloc__(self):
        free(self.ent)

    cdef int _alloc(self, Py_ssize_t cap) except -1:
        free(self.ent)
        self.ent = <int32_t*>malloc(cap * self.stride * sizeof(int32_t))
        if self.ent == NULL:
            raise MemoryError()
        memset(self.ent, 0xff, cap * self.stride * sizeof(int32_t))
        self.cap = cap
        self.used = 0
        return 0

    cdef inline Py_ssize_t _slot(self, const int32_t* key) noexcept nogil:
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>(_hash(key, self.k) & <uint64_t>mask)
        cdef int j, k = self.k, st = self.stride
        cdef const int32_t* p
        while True:
            p = self.ent + i * st
            if p[0] < 0:
                return i
            j = 0
            while j < k and p[j + 1] == key[j]:
                j += 1
            if j == k:
                return i
            i = (i + 1) & mask

    cdef inline int32_t get(self, const int32_t* key) noexcept nogil:
        return self.ent[self._slot(key) * self.stride]

    cdef int put(self, const int32_t* key, int32_t val) except -1:
        cdef Py_ssize_t i, old_cap = self.cap
        cdef int32_t* old
        if self.used >= TABLE_MAX:
            self._alloc(self.cap)  # bounded memory: forget everything, start again
        elif 2 * (self.used + 1) > self.cap:
            old = self.ent
            self.ent = NULL
            self.cap = 0
            try:
                self._alloc(old_cap * 2)
                for i in range(old_cap):
                    if old[i * self.stride] >= 0:
                        self._insert(old + i * self.stride + 1, old[i * self.stride])
            finally:
                free(old)
        self._insert(key, val)
        return 0

    cdef inline void _insert(self, const int32_t* key, int32_t val) noexcept nogil:
        cdef Py_ssize_t i = self._slot(key)
        cdef int32_t* p = self.ent + i * self.stride
        if p[0] < 0:
            self.used += 1
        memcpy(p + 1, key, self.k * sizeof(int32_t))
        p[0] = val


ctypedef struct WordEntry:
    uint64_t key
    int32_t val


@cython.final
cdef class WordTable:
    """Open addressing map: one 64-bit word (a one-word candidate set) -> int32 >= 0.
    match_columns probes it once a chat; a multiplicative hash of the word and one compare
    per slot cost less than IntTable's loop over the word's two halves."""
    cdef Py_ssize_t cap, used
    cdef int shift
    cdef WordEntry* ent

    def __cinit__(self):
        self.ent = NULL
        self._alloc(1024)

    def __dealloc__(self):
        free(self.ent)

    cdef int _alloc(self, Py_ssize_t cap) except -1:
        cdef Py_ssize_t i
        free(self.ent)
        self.ent = <WordEntry*>malloc(cap * sizeof(WordEntry))
        if self.ent == NULL:
            raise MemoryError()
        for i in range(cap):
            self.ent[i].val = -1
        self.cap = cap
        self.used = 0
        self.shift = 64
        while (<Py_ssize_t>1 << (64 - self.shift)) < cap:
            self.shift -= 1
        return 0

    cdef inline Py_ssize_t _slot(self, uint64_t x) noexcept nogil:
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>((x * 0x9E3779B97F4A7C15ULL) >> self.shift)
        while self.ent[i].val >= 0 and self.ent[i].key != x:
            i = (i + 1) & mask
        return i

    cdef inline int32_t get(self, uint64_t x) noexcept nogil:
        return self.ent[self._slot(x)].val

    cdef int put(self, uint64_t x, int32_t val) except -1:
        cdef Py_ssize_t i, old_cap = self.cap
        cdef WordEntry* old
        if self.used >= TABLE_MAX:
            self._alloc(self.cap)  # bounded memory: forget everything, start again
        elif 2 * (self.used + 1) > self.cap:
            old = self.ent
            self.ent = NULL
            try:
                self._alloc(old_cap * 2)
                for i in range(old_cap):
                    if old[i].val >= 0:
                        self._insert(old[i].key, old[i].val)
            finally:
                free(old)
        self._insert(x, val)
        return 0

    cdef inline void _insert(self, uint64_t x, int32_t val) noexcept nogil:
        cdef Py_ssize_t i = self._slot(x)
        if self.ent[i].val < 0:
            self.used += 1
        self.ent[i].key = x
        self.ent[i].val = val


include "_rows.pxi"


cdef inline int _position(const double* t, int nt, double x) noexcept nogil:
    """Where x falls among a slot's nt sorted thresholds t: 2*i for strictly between
    t[i-1] and t[i], 2*i + 1 for equal to t[i] (the index into the slot's posvec)."""
    cdef int lo = 0, hi = nt, mid, eq = 0
    if nt <= 16:  # branch-free count: no mispredicted jumps on random values
        for mid in range(nt):
            lo += t[mid] < x
            eq |= t[mid] == x
    else:
        while lo < hi:
            mid = (lo + hi) >> 1
            if t[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        eq = lo < nt and t[lo] == x
    return 2 * lo + eq


@cython.final
cdef class PSet:
    """The C side of one predicate set (crowds or intents) of a matcher_py.PredSet plan."""
    cdef object py
    cdef Rows rows
    cdef int k
    cdef list keys, memos
    cdef int* is_msg
    cdef int* nthr
    cdef int* fast
    cdef double** thr
    cdef int32_t** posvec
    cdef int32_t* special      # per slot: nan, true, false, missing (-1: not yet known)
    cdef int32_t* scratch
    cdef IntTable table
    cdef int32_t* res_row      # result id -> row index
    cdef Py_ssize_t nres, res_cap
    # miss path: predicates as postfix programs over leaf truths (matcher_py.program)
    cdef int npred, nwords
    cdef int* off
    cdef int* nl
    cdef Py_ssize_t* nvec
    cdef Py_ssize_t* vcap
    cdef uint8_t** vec_truth   # slot -> class id -> its leaves' truths (nl[s] bytes each)
    cdef uint8_t* truth
    cdef int32_t* code
    cdef int32_t* starts
    cdef int32_t* stack
    cdef int32_t* held
    cdef IntTable held_table

    def __cinit__(self, py, Rows rows):
        cdef int s, j, n
        self.py = py
        self.rows = rows
        self.k = k = len(py.slot_names)
        self.keys = list(py.slot_names)
        self.memos = list(py.str_memo)
        self.is_msg = <int*>calloc(k + 1, sizeof(int))
        self.nthr = <int*>calloc(k + 1, sizeof(int))
        self.fast = <int*>calloc(k + 1, sizeof(int))
        self.thr = <double**>calloc(k + 1, sizeof(double*))
        self.posvec = <int32_t**>calloc(k + 1, sizeof(int32_t*))
        self.special = <int32_t*>malloc((4 * k + 1) * sizeof(int32_t))
        self.scratch = <int32_t*>calloc(k + 1, sizeof(int32_t))
        self.res_cap = 16
        self.res_row = <int32_t*>malloc(self.res_cap * sizeof(int32_t))
        self.nres = 0
        if (self.is_msg == NULL or self.nthr == NULL or self.fast == NULL or self.thr == NULL
                or self.posvec == NULL or self.special == NULL or self.scratch == NULL
                or self.res_row == NULL):
            raise MemoryError()
        memset(self.special, 0xff, (4 * k + 1) * sizeof(int32_t))
        for s in range(k):
            ts = py.thresholds[s]
            n = len(ts)
            self.is_msg[s] = 1 if py.is_message[s] else 0
            self.fast[s] = 1 if py.fast[s] else 0
            self.nthr[s] = n
            self.thr[s] = <double*>malloc((n + 1) * sizeof(double))
            self.posvec[s] = <int32_t*>malloc((2 * n + 1) * sizeof(int32_t))
            if self.thr[s] == NULL or self.posvec[s] == NULL:
                raise MemoryError()
            for j in range(n):
                self.thr[s][j] = float(ts[j]) if self.fast[s] else 0.0
            memset(self.posvec[s], 0xff, (2 * n + 1) * sizeof(int32_t))
        self.table = IntTable(k)
        self._init_programs()

    cdef int _init_programs(self) except -1:
        cdef int s, k = self.k, p, j
        py = self.py
        self.npred = len(py.programs)
        self.nwords = (self.npred + 31) // 32
        flat = [x for prog in py.programs for x in prog]
        self.off = <int*>calloc(k + 1, sizeof(int))
        self.nl = <int*>calloc(k + 1, sizeof(int))
        self.nvec = <Py_ssize_t*>calloc(k + 1, sizeof(Py_ssize_t))
        self.vcap = <Py_ssize_t*>calloc(k + 1, sizeof(Py_ssize_t))
        self.vec_truth = <uint8_t**>calloc(k + 1, sizeof(uint8_t*))
        self.truth = <uint8_t*>calloc(py.n_leaves + 1, sizeof(uint8_t))
        self.code = <int32_t*>calloc(len(flat) + 1, sizeof(int32_t))
        self.starts = <int32_t*>calloc(self.npred + 1, sizeof(int32_t))
        self.stack = <int32_t*>calloc(len(flat) + 1, sizeof(int32_t))
        self.held = <int32_t*>calloc(self.nwords + 1, sizeof(int32_t))
        if (self.off == NULL or self.nl == NULL or self.nvec == NULL or self.vcap == NULL
                or self.vec_truth == NULL or self.truth == NULL or self.code == NULL
                or self.starts == NULL or self.stack == NULL or self.held == NULL):
            raise MemoryError()
        for s in range(k):
            self.off[s] = py.offsets[s]
            self.nl[s] = len(py.leaves[s])
        for j in range(len(flat)):
            self.code[j] = flat[j]
        j = 0
        for p in range(self.npred):
            self.starts[p] = j
            j += len(py.programs[p])
        self.starts[self.npred] = j
        self.held_table = IntTable(self.nwords)
        return 0

    cdef int sync_vec(self, int s) except -1:
        """Copy the leaf truths of classes the plan has made since the last call."""
        masks = self.py.vec_masks[s]
        cdef Py_ssize_t total = len(masks), cap, v
        cdef int j, n = self.nl[s]
        cdef uint8_t* p
        if total > self.vcap[s]:
            cap = max(2 * self.vcap[s], total, 8)
            p = <uint8_t*>realloc(self.vec_truth[s], cap * (n + 1))
            if p == NULL:
                raise MemoryError()
            self.vec_truth[s] = p
            self.vcap[s] = cap
        for v in range(self.nvec[s], total):
            m = masks[v]
            for j in range(n):
                self.vec_truth[s][v * (n + 1) + j] = 1 if (m >> j) & 1 else 0
        self.nvec[s] = total
        return 0

    cdef int32_t evaluate(self) except -1:
        """Result id for the classes in scratch: run every predicate's program (cache miss)."""
        cdef int s, p, n
        cdef int32_t vid, op, sp, v, j, pc, end
        for s in range(self.k):
            vid = self.scratch[s]
            if vid >= self.nvec[s]:
                self.sync_vec(s)
            memcpy(self.truth + self.off[s], self.vec_truth[s] + vid * (self.nl[s] + 1), self.nl[s])
        memset(self.held, 0, (self.nwords + 1) * sizeof(int32_t))
        for p in range(self.npred):
            sp = 0
            pc = self.starts[p]
            end = self.starts[p + 1]
            while pc < end:
                op = self.code[pc]
                if op == 0:      # leaf
                    self.stack[sp] = self.truth[self.code[pc + 1]]
                    sp += 1
                    pc += 2
                elif op == 1:    # const
                    self.stack[sp] = self.code[pc + 1]
                    sp += 1
                    pc += 2
                elif op == 2:    # not
                    self.stack[sp - 1] ^= 1
                    pc += 1
                else:            # and / or over n operands
                    n = self.code[pc + 1]
                    v = 1 if op == 3 else 0
                    for j in range(n):
                        if op == 3:
                            v &= self.stack[sp - 1 - j]
                        else:
                            v |= self.stack[sp - 1 - j]
                    sp -= n
                    self.stack[sp] = v
                    sp += 1
                    pc += 2
            if self.stack[0]:
                self.held[p >> 5] |= <int32_t>(1u << (p & 31))
        cdef int32_t rid = self.held_table.get(self.held)
        if rid < 0:
            held = bytes([(self.held[p >> 5] >> (p & 31)) & 1 for p in range(self.npred)])
            rid = self.py.result_of_held(held)
            self.held_table.put(self.held, rid)
            self.sync()
        return rid

    def __dealloc__(self):
        cdef int s
        if self.vec_truth != NULL:
            for s in range(self.k):
                free(self.vec_truth[s])
        free(self.off); free(self.nl); free(self.nvec); free(self.vcap); free(self.vec_truth)
        free(self.truth); free(self.code); free(self.starts); free(self.stack); free(self.held)
        if self.thr != NULL:
            for s in range(self.k):
                free(self.thr[s])
        if self.posvec != NULL:
            for s in range(self.k):
                free(self.posvec[s])
        free(self.is_msg); free(self.nthr); free(self.fast); free(self.thr); free(self.posvec)
        free(self.special); free(self.scratch); free(self.res_row)

    cdef int32_t slow(self, int s, object v) except -1:
        return self.py.classify(s, v)

    cdef inline int32_t special_vec(self, int s, int which, object v) except -1:
        cdef int32_t r = self.special[4 * s + which]
        if r < 0:
            r = self.special[4 * s + which] = self.py.classify(s, v)
        return r

    cdef inline int32_t num_class(self, int s, double d, PyObject* v) except -1:
        """Class of a number exactly representable as `d` (v: the value, or NULL to box d)."""
        cdef int mid
        cdef int32_t r
        if d != d:
            return self.special_vec(s, 0, float("nan"))
        mid = _position(self.thr[s], self.nthr[s], d)
        r = self.posvec[s][mid]
        if r < 0:
            r = self.num_miss(s, mid, d, v)
        return r

    cdef int32_t num_miss(self, int s, int cls, double d, PyObject* v) except -1:
        cdef int32_t r = self.py.classify(s, d if v == NULL else <object>v)
        self.posvec[s][cls] = r
        return r

    cdef int32_t classify(self, int s, PyObject* v) except -1:
        cdef PyTypeObject* t
        cdef PyObject* r
        cdef long long x
        cdef int of = 0
        if v == NULL or v == Py_None:
            return self.special_vec(s, 3, None)
        t = Py_TYPE(v)
        if t == &PyUnicode_Type:
            r = PyDict_GetItem(<PyObject*>self.memos[s], v)
            if r != NULL:
                return PyLong_AsLong(r)
        elif t == &PyFloat_Type:
            if self.fast[s]:
                return self.num_class(s, PyFloat_AS_DOUBLE(v), v)
        elif t == &PyLong_Type:
            if self.fast[s]:
                x = PyLong_AsLongLongAndOverflow(v, &of)
                if of == 0 and -EXACT <= <double>x <= EXACT and -9007199254740992 <= x <= 9007199254740992:
                    return self.num_class(s, <double>x, v)
        elif t == &PyBool_Type:
            return self.special_vec(s, 1 if v == Py_True else 2, <object>v)
        return self.slow(s, <object>v)

    cdef int sync(self) except -1:
        cdef Py_ssize_t total = len(self.py.results)
        cdef int32_t* p
        while self.nres < total:
            if self.nres == self.res_cap:
                p = <int32_t*>realloc(self.res_row, 2 * self.res_cap * sizeof(int32_t))
                if p == NULL:
                    raise MemoryError()
                self.res_row = p
                self.res_cap *= 2
            self.res_row[self.nres] = self.rows.add(self.py.results[self.nres][0])
            self.nres += 1
        return 0

    cdef int32_t lookup(self, PyObject* attrs, PyObject* msg) except -1:
        """Result id for a chat's attrs dict (or NULL) and message (or NULL)."""
        cdef int s
        cdef PyObject* v
        for s in range(self.k):
            if self.is_msg[s]:
                v = msg
            elif attrs != NULL:
                v = PyDict_GetItem(attrs, <PyObject*>self.keys[s])
            else:
                v = NULL
            self.scratch[s] = self.classify(s, v)
        return self.result_id()

    cdef int32_t lookup_vals(self, PyObject** vals) except -1:
        """Result id for the values of the slots in order (NULL: missing), given by a caller
        that read them itself (the planner's fast lane)."""
        cdef int s
        for s in range(self.k):
            self.scratch[s] = self.classify(s, vals[s])
        return self.result_id()

    cdef int32_t result_id(self) except -1:
        """Result id for the classes in scratch: the table, else every predicate's program."""
        cdef int32_t rid = self.table.get(self.scratch)
        if rid >= 0:
            return rid
        rid = self.evaluate()
        self.table.put(self.scratch, rid)
        return rid

    def result(self, attrs, message):
        """Holding names for attrs/message (used by crowds_of / intents_of)."""
        cdef int32_t rid = self.lookup(<PyObject*>attrs if attrs is not None else NULL,
                                       <PyObject*>message if message is not None else NULL)
        return self.py.results[rid][1]


cdef inline uint64_t _r5_word(uint64_t c, uint64_t crow, uint64_t prow, uint64_t irow,
                              uint64_t orow) noexcept nogil:
    """R5 over one word (at most 64 groups): each step keeps its hits when there are any."""
    cdef uint64_t h = c & crow
    if h:
        c = h
    h = c & prow
    if h:
        c = h
    h = c & irow
    if h:
        c = h
    h = c & orow
    if h:
        c = h
    return c


@cython.final
cdef class CMatcher:
    """The Cython matcher (see rulec.matching.matcher for the interface)."""
    cdef readonly object py
    cdef readonly str implementation
    cdef int W
    cdef Rows rows
    cdef PSet crowd, intent
    cdef list names
    cdef dict codes_crowd, codes_product, codes_intent, codes_order
    cdef int32_t* code_row[4]
    cdef int ncodes[4]
    cdef Py_ssize_t all_row
    # 5 scratch lists of W entries: candidates (2, in turn), crowd rows OR-ed with labels
    # (2, in turn), the intent row OR-ed with its label
    cdef int32_t* bi
    cdef uint64_t* bb
    cdef RowView cand    # the last chat's candidates (set by _cand / _r5)
    cdef ListTable outcomes_table
    # Tables of at most 64 groups (W == 1, the common shop) take a path of plain words:
    # the R5 steps are four ANDs and outcome ids are kept per word (a WordTable).
    cdef bint one
    cdef uint64_t all1
    cdef WordTable outcomes1
    # Set while C scratch buffers are in use. A Python callback on a cache miss can let
    # another thread in; such a call is answered by the pure-Python plan instead.
    cdef int busy

    def __cinit__(self, py):
        cdef int d, c
        self.py = py
        self.implementation = "cython"
        self.names = list(py.group_names)
        self.W = W = (py.n + 63) // 64
        self.rows = Rows(W)
        self.all_row = self.rows.add(py.all)
        seen = {0: 0}  # identical value rows share one copy (smaller, cache-friendlier)
        for d, dim in enumerate(DIMS):
            lst = py.row_list[dim]
            self.ncodes[d] = len(lst)
            self.code_row[d] = <int32_t*>malloc(len(lst) * sizeof(int32_t))
            if self.code_row[d] == NULL:
                raise MemoryError()
            self.code_row[d][0] = 0
            for c in range(1, len(lst)):
                bits = lst[c]
                if bits not in seen:
                    seen[bits] = self.rows.add(bits)
                self.code_row[d][c] = seen[bits]
        self.codes_crowd = py.codes["crowd"]
        self.codes_product = py.codes["product"]
        self.codes_intent = py.codes["intent"]
        self.codes_order = py.codes["order"]
        self.crowd = PSet(py.crowd, self.rows)
        self.intent = PSet(py.intent, self.rows)
        self.bi = <int32_t*>malloc((5 * W + 5) * sizeof(int32_t))
        self.bb = <uint64_t*>malloc((5 * W + 5) * sizeof(uint64_t))
        if self.bi == NULL or self.bb == NULL:
            raise MemoryError()
        self.cand = self.rows.view(self.all_row)
        self.outcomes_table = ListTable()
        self.one = W == 1
        self.all1 = self.rows.word0(self.all_row) if W == 1 else 0
        self.outcomes1 = WordTable()

    def __dealloc__(self):
        cdef int d
        for d in range(4):
            free(self.code_row[d])
        free(self.bi)
        free(self.bb)

    def row_forms(self):
        """(dense rows, sparse rows) in the row store (see _rows.pxi)."""
        return self.rows.n_dense, self.rows.n_sparse

    cdef inline Py_ssize_t _code_row(self, int d, dict codes, PyObject* v) noexcept:
        cdef PyObject* c = PyDict_GetItem(<PyObject*>codes, v)
        if c == NULL:
            return 0
        return self.code_row[d][PyLong_AsLong(c)]

    cdef int _slow(self, object chat) except -1:
        """Unusual chat: validate (raises E840) and answer with the pure-Python plan."""
        check_chat(chat)
        cdef Py_ssize_t k = _words_of(self.py.candidates(chat), self.W, self.bi, self.bb)
        self.cand = _list(self.bi, self.bb, k)
        return 0

    cdef inline RowView _scratch(self, int i) noexcept:
        return _list(self.bi + i * self.W, self.bb + i * self.W, 0)

    cdef int _r5(self, RowView crow, Py_ssize_t prow, RowView irow, Py_ssize_t orow) except -1:
        """R5 from every group: narrow by crowd > product > intent > order (each row that
        is not empty; a step that would leave no candidate is skipped) into self.cand."""
        cdef Rows rows = self.rows
        cdef RowView steps[4]
        cdef RowView c = rows.view(self.all_row)
        cdef bint every = True
        cdef int s, nb = 0, W = self.W
        cdef Py_ssize_t k
        if self.one:
            self.bi[0] = 0
            self.bb[0] = _r5_word(self.all1, crow.bits[0] if crow.n else 0, rows.word0(prow),
                                  irow.bits[0] if irow.n else 0, rows.word0(orow))
            self.cand = _list(self.bi, self.bb, 1 if self.bb[0] else 0)
            return 0
        steps[0] = crow
        steps[1] = rows.view(prow)
        steps[2] = irow
        steps[3] = rows.view(orow)
        for s in range(4):
            if steps[s].n == 0:
                continue
            if every:  # every row is a subset of all groups: the hits are its words
                k = _copy_set(steps[s], self.bi + nb * W, self.bb + nb * W)
            else:
                k = _hits(c, steps[s], self.bi + nb * W, self.bb + nb * W)
            if k:
                c = _list(self.bi + nb * W, self.bb + nb * W, k)
                nb ^= 1
                every = False
        self.cand = c
        return 0

    cdef int _cand(self, PyObject* chat) except -1:
        """R5 candidates of one chat dict, into self.cand."""
        cdef PyObject* attrs
        cdef PyObject* msg
        cdef PyObject* labels
        cdef PyObject* prod
        cdef PyObject* order
        cdef PyObject* it
        cdef Py_ssize_t i, nl, r, prow = 0, orow = 0
        cdef int nb = 0
        cdef int32_t crid, irid
        if Py_TYPE(chat) != &PyDict_Type:
            return self._slow(<object>chat)
        cdef bint odd = False
        attrs = _typed_field(chat, K_ATTRS, &PyDict_Type, &odd)
        msg = _typed_field(chat, K_MESSAGE, &PyUnicode_Type, &odd)
        labels = _typed_field(chat, K_CROWDS, &PyList_Type, &odd)
        prod = _typed_field(chat, K_PRODUCT, &PyUnicode_Type, &odd)
        order = _typed_field(chat, K_ORDER, &PyUnicode_Type, &odd)
        it = _typed_field(chat, K_INTENT, &PyUnicode_Type, &odd)
        if odd:
            return self._slow(<object>chat)
        nl = PyList_GET_SIZE(labels) if labels != NULL else 0
        for i in range(nl):
            if Py_TYPE(PyList_GET_ITEM(labels, i)) != &PyUnicode_Type:
                return self._slow(<object>chat)

        crid = self.crowd.lookup(attrs, NULL)
        irid = self.intent.lookup(attrs, msg)
        # every row is final now (lookups may have grown the row store)
        cdef Rows rows = self.rows
        cdef RowView crow = rows.view(self.crowd.res_row[crid])
        cdef RowView irow = rows.view(self.intent.res_row[irid])
        cdef RowView o
        for i in range(nl):
            r = self._code_row(0, self.codes_crowd, PyList_GET_ITEM(labels, i))
            if r:
                o = self._scratch(2 + nb)
                crow = _union(crow, rows.view(r), <int32_t*>o.idx, <uint64_t*>o.bits)
                nb ^= 1
        if it != NULL:
            r = self._code_row(2, self.codes_intent, it)
            if r:
                o = self._scratch(4)
                irow = _union(irow, rows.view(r), <int32_t*>o.idx, <uint64_t*>o.bits)
        if prod != NULL:
            prow = self._code_row(1, self.codes_product, prod)
        if order != NULL:
            orow = self._code_row(3, self.codes_order, order)
        return self._r5(crow, prow, irow, orow)

    cdef list _names(self):
        cdef RowView c = self.cand
        cdef Py_ssize_t n = 0, j, k = 0
        cdef uint64_t x
        for j in range(c.n):
            n += __builtin_popcountll(c.bits[j])
        cdef list out = PyList_New(n)
        cdef PyObject* names = <PyObject*>self.names
        cdef PyObject* name
        for j in range(c.n):
            x = c.bits[j]
            while x:
                name = PyList_GET_ITEM(names, 64 * c.idx[j] + __builtin_ctzll(x))
                x &= x - 1
                Py_INCREF(<object>name)
                PyList_SET_ITEM(out, k, <object>name)
                k += 1
        return out

    cdef int32_t _outcome(self) except -1:
        """The outcome id of self.cand."""
        cdef int32_t oid = self.outcomes_table.get(self.cand)
        if oid < 0:
            oid = self.py.outcome_of(tuple(_members(self.cand)))
            self.outcomes_table.put(self.cand, oid)
        return oid

    def match(self, chat):
        """R5 candidate group names for one chat dict, in declaration order."""
        if self.busy:
            return self.py.match(chat)
        self.busy = 1
        try:
            self._cand(<PyObject*>chat)
            return self._names()
        finally:
            self.busy = 0

    def match_many(self, chats):
        """`match` for a sequence of chats."""
        if self.busy:
            return self.py.match_many(chats)
        cdef list seq = chats if type(chats) is list else list(chats)
        cdef Py_ssize_t i, n = len(seq)
        cdef list out = PyList_New(n)
        cdef list names
        # The result lists hold only strings; collections triggered by allocating them would
        # re-scan the growing `out` list again and again, so the collector waits until the end.
        cdef int was_enabled = PyGC_Disable()
        self.busy = 1
        try:
            for i in range(n):
                self._cand(PyList_GET_ITEM(<PyObject*>seq, i))
                names = self._names()
                Py_INCREF(names)
                PyList_SET_ITEM(out, i, names)
        finally:
            self.busy = 0
            if was_enabled:
                PyGC_Enable()
        return out

    def match_indices(self, chat):
        """Ascending group indices of the R5 candidates."""
        if self.busy:
            return self.py.match_indices(chat)
        self.busy = 1
        try:
            self._cand(<PyObject*>chat)
            return _members(self.cand)
        finally:
            self.busy = 0

    def match_outcome(self, chat):
        """The outcome id of one chat's R5 candidates (an index of outcomes(), as from
        match_columns): callers can cache per id instead of per candidate list."""
        if self.busy:
            return self.py.match_outcome(chat)
        self.busy = 1
        try:
            self._cand(<PyObject*>chat)
            return self._outcome()
        finally:
            self.busy = 0

    def crowds_of(self, attrs, labels=()):
        """Defined crowds that hold over attrs (body order), then the given labels."""
        labels = list(labels)
        check_chat({"attrs": attrs, "crowds": labels})
        return self.crowds_of_trusted(attrs, labels)

    def crowds_of_trusted(self, attrs, labels=()):
        """crowds_of without the E840 type checks, for callers that already made them (attrs
        a dict or None, labels a list/tuple of strings): the planner's audience parser."""
        if self.busy:
            return self.py.crowds_of_trusted(attrs, labels)
        if attrs is not None and type(attrs) is not dict:
            attrs = dict(attrs)
        self.busy = 1
        try:
            out = list(self.crowd.result(attrs, None))
        finally:
            self.busy = 0
        for label in labels:
            if label not in out:
                out.append(label)
        return out

    def crowd_entry(self):
        """(slot names, capsule) for C callers that read a consumer's attribute values
        themselves (the planner's fast lane, _plan.pyx). The capsule ("rulec.crowd_rid")
        holds `int32_t crowd_rid(PyObject* matcher, PyObject** vals) except -1`: the result
        id of the crowds that hold for vals[s], the value of slot s (NULL: missing), or -2
        while the matcher is inside a cache miss (the caller asks crowds_of_trusted then).
        Ids are stable for the matcher's life; crowd_names(rid) gives the crowds held."""
        return list(self.crowd.keys), PyCapsule_New(<void*>_crowd_rid, b"rulec.crowd_rid", NULL)

    def crowd_names(self, int rid):
        """The defined crowds (body order) of a result id of crowd_entry's function."""
        return self.py.crowd.results[rid][1]

    def intents_of(self, message, attrs, label=None):
        """Defined intents that hold over attrs + message (body order), then the label."""
        if self.busy:
            return self.py.intents_of(message, attrs, label)
        check_chat({"attrs": attrs, "message": message, "intent": label})
        if attrs is not None and type(attrs) is not dict:
            attrs = dict(attrs)
        if message is not None and type(message) is not str:
            message = str(message)
        self.busy = 1
        try:
            out = list(self.intent.result(attrs, message))
        finally:
            self.busy = 0
        if label is not None and label not in out:
            out.append(label)
        return out

    # columns ---------------------------------------------------------------------------
    def code(self, dim, value):
        """The columnar code of a dimension value (0 when the table does not know it)."""
        return self.py.code(dim, value)

    def outcomes(self):
        """Outcome id -> tuple of candidate group names (ids from match_columns)."""
        return self.py.outcomes()

    def match_columns(self, n, product=None, order=None, intent=None, crowd=None,
                      columns=None, out=None):
        """Columnar R5 (see rulec.matching.matcher); fills and returns `out` with outcome ids."""
        if self.busy:
            return self.py.match_columns(n, product, order, intent, crowd, columns, out)
        self.busy = 1
        try:
            return self._columns(n, product, order, intent, crowd, columns, out)
        finally:
            self.busy = 0

    def _columns(self, Py_ssize_t n, product, order, intent, crowd, columns, out):
        from array import array
        cdef const int32_t* dimp[4]
        cdef int d
        cdef Py_ssize_t i
        cdef const int32_t[::1] mv
        cdef int32_t[::1] outv
        if n < 0:
            raise _bad_col("n", "must be >= 0")
        if out is None:
            out = array("i", bytes(4 * n))
        try:
            outv = out
        except (ValueError, TypeError, BufferError):
            raise _bad_col("out", "must be a writable int32 buffer")
        if outv.shape[0] < n:
            raise _bad_col("out", f"has {outv.shape[0]} rows, expected {n}")
        keep = [outv]
        for d, (col, dim) in enumerate(zip((crowd, product, intent, order), DIMS)):
            dimp[d] = NULL
            if col is None:
                continue
            try:
                mv = _flat(col)
            except (ValueError, TypeError, BufferError):
                raise _bad_col(dim, "codes must be an int32 buffer")
            if mv.shape[0] < n:
                raise _bad_col(dim, f"has {mv.shape[0]} rows, expected {n}")
            keep.append(mv)
            if n:
                dimp[d] = &mv[0]
            for i in range(n):
                if not 0 <= dimp[d][i] < self.ncodes[d]:
                    raise _bad_col(dim, f"code {dimp[d][i]} is not a code of this table")
        cols = dict(columns or {})
        ca = ColArgs(self.crowd, {k: v for k, v in cols.items() if k != "message"}, n)
        ia = ColArgs(self.intent, cols, n)
        cdef Rows rows = self.rows
        cdef RowView crow, irow, o
        cdef Py_ssize_t prow, orow
        cdef int32_t crid, irid, c, oid
        cdef uint64_t x, y, all1 = self.all1
        cdef int kc = self.crowd.k, ki = self.intent.k, B = 512, j = 0, mb = 0
        cdef ColArgs cargs = ca, iargs = ia
        blocks = array("i", bytes(4 * B * (kc + ki + 2)))
        cdef int32_t[::1] bv = blocks
        cdef int32_t* ccls = &bv[0]
        cdef int32_t* icls = ccls + B * kc
        for i in range(n):
            if j == mb:  # classify the next block of chats column by column
                mb = min(B, n - i)
                cargs.classify_block(i, mb, ccls)
                iargs.classify_block(i, mb, icls)
                j = 0
            crid = cargs.result(ccls + j * kc)
            irid = iargs.result(icls + j * ki)
            j += 1
            if self.one:
                x = rows.word0(self.crowd.res_row[crid])
                y = rows.word0(self.intent.res_row[irid])
                if dimp[0] != NULL:
                    x |= rows.word0(self.code_row[0][dimp[0][i]])
                if dimp[2] != NULL:
                    y |= rows.word0(self.code_row[2][dimp[2][i]])
                x = _r5_word(all1, x, rows.word0(self.code_row[1][dimp[1][i]]) if dimp[1] != NULL else 0,
                             y, rows.word0(self.code_row[3][dimp[3][i]]) if dimp[3] != NULL else 0)
                oid = self.outcomes1.get(x)
                if oid < 0:
                    self.bi[0] = 0
                    self.bb[0] = x
                    self.cand = _list(self.bi, self.bb, 1 if x else 0)
                    oid = self._outcome()
                    self.outcomes1.put(x, oid)
                outv[i] = oid
                continue
            # every row is final now (results may have grown the row store)
            crow = rows.view(self.crowd.res_row[crid])
            irow = rows.view(self.intent.res_row[irid])
            c = dimp[0][i] if dimp[0] != NULL else 0
            if c:
                o = self._scratch(2)
                crow = _union(crow, rows.view(self.code_row[0][c]), <int32_t*>o.idx, <uint64_t*>o.bits)
            c = dimp[2][i] if dimp[2] != NULL else 0
            if c:
                o = self._scratch(4)
                irow = _union(irow, rows.view(self.code_row[2][c]), <int32_t*>o.idx, <uint64_t*>o.bits)
            prow = self.code_row[1][dimp[1][i]] if dimp[1] != NULL else 0
            orow = self.code_row[3][dimp[3][i]] if dimp[3] != NULL else 0
            self._r5(crow, prow, irow, orow)
            outv[i] = self._outcome()
        return out


def _flat(col):
    """col, or a C-contiguous copy of it when it is a strided buffer (a NumPy slice with a
    step, say): the typed views below need contiguous rows, the pure twin reads either."""
    try:
        m = memoryview(col)
    except TypeError:
        return col
    if m.c_contiguous or m.ndim != 1 or m.format not in _ARRAY_CODES:
        return col
    from array import array
    return array(m.format, m.tobytes())


_ARRAY_CODES = frozenset("bBhHiIlLqQfd")


def _bad_col(name, msg):
    """The InputError (E841) for a bad columnar input."""
    return InputError([diag("E841", f"column {name!r}: {msg}")])


cdef int _float_classes(PSet ps, int s, const double* dp, int m, int32_t* out, int k,
                        int32_t miss) except -1:
    """Classes of m float64 values (NaN: missing) of a slot whose literals are exact doubles,
    into out[0], out[k], ...: PSet.num_class with the slot's tables loaded once (the stores
    to `out` would otherwise make the compiler reload them for every value)."""
    cdef const double* t = ps.thr[s]
    cdef int32_t* pv = ps.posvec[s]
    cdef int nt = ps.nthr[s], j, q
    cdef int32_t r
    cdef double x
    for j in range(m):
        x = dp[j]
        if x != x:
            out[j * k] = miss
            continue
        q = _position(t, nt, x)
        r = pv[q]
        if r < 0:
            r = ps.num_miss(s, q, x, NULL)
        out[j * k] = r
    return 0


@cython.final
cdef class ColArgs:
    """The columns one predicate set reads, resolved per slot for match_columns."""
    cdef PSet ps
    cdef Py_ssize_t n
    cdef int k
    cdef int* kind            # 0 missing, 1 float64 (NaN missing), 2 int64, 3 codes
    cdef const double** dp
    cdef const int64_t** qp
    cdef const int32_t** cp
    cdef int32_t** vv         # codes column: vocabulary entry -> class
    cdef Py_ssize_t* nv
    cdef list keep, vocabs

    def __cinit__(self, PSet ps, dict cols, Py_ssize_t n):
        cdef int s, k = ps.k
        cdef Py_ssize_t j
        cdef const double[::1] dmv
        cdef const int64_t[::1] qmv
        cdef const int32_t[::1] cmv
        self.ps = ps
        self.n = n
        self.k = k
        self.keep = []
        self.vocabs = []
        self.kind = <int*>calloc(k + 1, sizeof(int))
        self.dp = <const double**>calloc(k + 1, sizeof(double*))
        self.qp = <const int64_t**>calloc(k + 1, sizeof(int64_t*))
        self.cp = <const int32_t**>calloc(k + 1, sizeof(int32_t*))
        self.vv = <int32_t**>calloc(k + 1, sizeof(int32_t*))
        self.nv = <Py_ssize_t*>calloc(k + 1, sizeof(Py_ssize_t))
        if (self.kind == NULL or self.dp == NULL or self.qp == NULL or self.cp == NULL
                or self.vv == NULL or self.nv == NULL):
            raise MemoryError()
        for s in range(k):
            self.vocabs.append(None)
            name = ps.keys[s]
            col = cols.get(name)
            if col is None:
                continue
            if isinstance(col, tuple):
                if len(col) != 2:
                    raise _bad_col(name, "a value column is (codes, vocabulary)")
                try:
                    cmv = _flat(col[0])
                except (ValueError, TypeError, BufferError):
                    raise _bad_col(name, "codes must be an int32 buffer")
                vocab = list(col[1])
                if cmv.shape[0] < n:
                    raise _bad_col(name, f"has {cmv.shape[0]} rows, expected {n}")
                self.keep.append(cmv)
                self.vocabs[s] = vocab
                self.kind[s] = 3
                self.cp[s] = &cmv[0] if n else NULL
                self.nv[s] = len(vocab)
                self.vv[s] = <int32_t*>malloc((len(vocab) + 1) * sizeof(int32_t))
                if self.vv[s] == NULL:
                    raise MemoryError()
                for j in range(len(vocab)):
                    self.vv[s][j] = ps.classify(s, <PyObject*>vocab[j])
                continue
            col = _flat(col)  # once: a strided column is copied once, whichever view takes it
            try:
                dmv = col
                if dmv.shape[0] < n:
                    raise _bad_col(name, f"has {dmv.shape[0]} rows, expected {n}")
                self.keep.append(dmv)
                self.kind[s] = 1
                self.dp[s] = &dmv[0] if n else NULL
                continue
            except (ValueError, TypeError, BufferError):
                pass
            try:
                qmv = col
            except (ValueError, TypeError, BufferError):
                raise _bad_col(name, "use a float64 or int64 buffer, or (int32 codes, vocabulary)")
            if qmv.shape[0] < n:
                raise _bad_col(name, f"has {qmv.shape[0]} rows, expected {n}")
            self.keep.append(qmv)
            self.kind[s] = 2
            self.qp[s] = &qmv[0] if n else NULL

    def __dealloc__(self):
        cdef int s
        if self.vv != NULL:
            for s in range(self.k):
                free(self.vv[s])
        free(self.kind); free(self.dp); free(self.qp); free(self.cp); free(self.vv); free(self.nv)

    cdef int classify_block(self, Py_ssize_t base, int m, int32_t* out) except -1:
        """Classes of chats base .. base+m-1, column by column: out[j * k + s]."""
        cdef PSet ps = self.ps
        cdef int s, j, k = self.k, kd
        cdef double x
        cdef int64_t q
        cdef int32_t c, miss
        cdef const double* dp
        cdef const int64_t* qp
        cdef const int32_t* cp
        for s in range(k):
            kd = self.kind[s]
            miss = ps.special_vec(s, 3, None)
            if kd == 1 and ps.fast[s]:
                _float_classes(ps, s, self.dp[s] + base, m, out + s, k, miss)
            elif kd == 1:
                dp = self.dp[s] + base
                for j in range(m):
                    x = dp[j]
                    if x != x:
                        out[j * k + s] = miss
                    elif ps.fast[s]:
                        out[j * k + s] = ps.num_class(s, x, NULL)
                    else:
                        out[j * k + s] = ps.slow(s, x)
            elif kd == 2:
                qp = self.qp[s] + base
                for j in range(m):
                    q = qp[j]
                    if ps.fast[s] and -9007199254740992 <= q <= 9007199254740992:
                        out[j * k + s] = ps.num_class(s, <double>q, NULL)
                    else:
                        out[j * k + s] = ps.slow(s, q)
            elif kd == 3:
                cp = self.cp[s] + base
                for j in range(m):
                    c = cp[j]
                    if c < 0:
                        out[j * k + s] = miss
                    elif c >= self.nv[s]:
                        raise _bad_col(ps.keys[s], f"code {c} is outside the vocabulary")
                    else:
                        out[j * k + s] = self.vv[s][c]
            else:
                for j in range(m):
                    out[j * k + s] = miss
        return 0

    cdef inline int32_t result(self, const int32_t* key) except -1:
        """Result id for one chat's classes (a row of classify_block's output)."""
        cdef PSet ps = self.ps
        cdef int32_t rid = ps.table.get(key)
        if rid >= 0:
            return rid
        memcpy(ps.scratch, key, ps.k * sizeof(int32_t))
        rid = ps.evaluate()
        ps.table.put(key, rid)
        return rid


cdef int32_t _crowd_rid(PyObject* matcher, PyObject** vals) except -1:
    """CMatcher.crowd_entry's C function (the busy flag as crowds_of_trusted keeps it)."""
    cdef CMatcher m = <CMatcher>matcher
    if m.busy:
        return -2
    m.busy = 1
    try:
        return m.crowd.lookup_vals(vals)
    finally:
        m.busy = 0
