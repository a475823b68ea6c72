# Included by _matcher.pyx: group rows as (word index, word) lists, R5 steps over them, and
# the table of candidate lists -> outcome ids.
#
# A table with N groups has one row per dimension value. Kept as W = N/64 words each, rows
# cost values x groups bits (1.25 GB at 100,000 groups, most of them zero words), so a row
# keeps only its non-zero words (ascending word indices) unless more than one word in
# SPARSE_DIV is non-zero: then it keeps all W words (idx[w] == w, random access by word).
# Candidates are lists of non-zero words too, so an R5 step costs O(words of the candidates
# and the row), never O(W) for a sparse row.

DEF SPARSE_DIV = 4
DEF ARENA_MAX = 1 << 23   # words the outcome table keeps before it forgets and starts again


ctypedef struct RowView:
    const int32_t* idx     # ascending word indices
    const uint64_t* bits   # the words (a dense row has zero words too)
    Py_ssize_t n           # entries
    int dense              # idx[w] == w for w < W


cdef Py_ssize_t _words_of(object row, int W, int32_t* oi, uint64_t* ob) except -1:
    """The non-zero words of a pure-matcher row (an int bitset or a set of group indices,
    rulec/matching/rows.py) into oi/ob, ascending; their count. O(W) for an int (to_bytes;
    shifting the int 64 bits at a time copies it for every word: O(W^2))."""
    cdef Py_ssize_t k = 0
    cdef int w, j
    cdef uint64_t x
    cdef long i
    cdef const unsigned char* p
    cdef bytes b
    if type(row) is int:
        if row < 0 or row.bit_length() > 64 * W:
            raise ValueError("group row outside the table's groups")
        b = row.to_bytes(8 * W, "little")
        p = b
        for w in range(W):
            x = 0
            for j in range(8):
                x |= (<uint64_t>p[8 * w + j]) << (8 * j)
            if x:
                oi[k] = w
                ob[k] = x
                k += 1
        return k
    for o in sorted(row):
        i = o
        if not 0 <= i < 64 * W:
            raise ValueError("group row outside the table's groups")
        w = i >> 6
        if k and oi[k - 1] == w:
            ob[k - 1] |= (<uint64_t>1) << (i & 63)
        else:
            oi[k] = w
            ob[k] = (<uint64_t>1) << (i & 63)
            k += 1
    return k


@cython.final
cdef class Rows:
    """The row store: row 0 is empty; rows live in one arena of (word index, word) pairs."""
    cdef int W
    cdef int32_t* idx
    cdef uint64_t* bits
    cdef Py_ssize_t used, cap
    cdef Py_ssize_t* off
    cdef Py_ssize_t* cnt
    cdef uint8_t* dense
    cdef Py_ssize_t n, rcap
    cdef int32_t* ti
    cdef uint64_t* tb
    cdef readonly Py_ssize_t n_dense, n_sparse

    def __cinit__(self, int W):
        self.W = W
        self.cap = 64
        self.rcap = 64
        self.idx = <int32_t*>malloc(self.cap * sizeof(int32_t))
        self.bits = <uint64_t*>malloc(self.cap * sizeof(uint64_t))
        self.off = <Py_ssize_t*>calloc(self.rcap, sizeof(Py_ssize_t))
        self.cnt = <Py_ssize_t*>calloc(self.rcap, sizeof(Py_ssize_t))
        self.dense = <uint8_t*>calloc(self.rcap, sizeof(uint8_t))
        self.ti = <int32_t*>malloc((W + 1) * sizeof(int32_t))
        self.tb = <uint64_t*>malloc((W + 1) * sizeof(uint64_t))
        if (self.idx == NULL or self.bits == NULL or self.off == NULL or self.cnt == NULL
                or self.dense == NULL or self.ti == NULL or self.tb == NULL):
            raise MemoryError()
        self.n = 1

    def __dealloc__(self):
        free(self.idx); free(self.bits); free(self.off); free(self.cnt); free(self.dense)
        free(self.ti); free(self.tb)

    cdef int _room(self, Py_ssize_t words) except -1:
        cdef Py_ssize_t cap
        cdef void* p
        if self.used + words > self.cap:
            cap = max(2 * self.cap, self.used + words)
            p = realloc(self.idx, cap * sizeof(int32_t))
            if p == NULL:
                raise MemoryError()
            self.idx = <int32_t*>p
            p = realloc(self.bits, cap * sizeof(uint64_t))
            if p == NULL:
                raise MemoryError()
            self.bits = <uint64_t*>p
            self.cap = cap
        if self.n == self.rcap:
            cap = 2 * self.rcap
            p = realloc(self.off, cap * sizeof(Py_ssize_t))
            if p == NULL:
                raise MemoryError()
            self.off = <Py_ssize_t*>p
            p = realloc(self.cnt, cap * sizeof(Py_ssize_t))
            if p == NULL:
                raise MemoryError()
            self.cnt = <Py_ssize_t*>p
            p = realloc(self.dense, cap * sizeof(uint8_t))
            if p == NULL:
                raise MemoryError()
            self.dense = <uint8_t*>p
            self.rcap = cap
        return 0

    cdef Py_ssize_t add(self, object row) except -1:
        """Store a pure-matcher row (dense or sparse by its non-zero words); its row number."""
        cdef Py_ssize_t k = _words_of(row, self.W, self.ti, self.tb), j, o
        cdef int W = self.W, w
        cdef bint dense = k * SPARSE_DIV > W
        self._room(W if dense else k)
        o = self.used
        if dense:
            for w in range(W):
                self.idx[o + w] = w
                self.bits[o + w] = 0
            for j in range(k):
                self.bits[o + self.ti[j]] = self.tb[j]
            k = W
            self.n_dense += 1
        else:
            memcpy(self.idx + o, self.ti, k * sizeof(int32_t))
            memcpy(self.bits + o, self.tb, k * sizeof(uint64_t))
            self.n_sparse += 1
        self.off[self.n] = o
        self.cnt[self.n] = k
        self.dense[self.n] = dense
        self.used += k
        self.n += 1
        return self.n - 1

    cdef inline uint64_t word0(self, Py_ssize_t r) noexcept nogil:
        """The one word of row r in a table of at most 64 groups (W == 1)."""
        return self.bits[self.off[r]] if self.cnt[r] else 0

    cdef inline RowView view(self, Py_ssize_t r) noexcept nogil:
        """Row r (valid until the next add: the arena may move)."""
        cdef RowView v
        v.idx = self.idx + self.off[r]
        v.bits = self.bits + self.off[r]
        v.n = self.cnt[r]
        v.dense = self.dense[r]
        return v


cdef inline RowView _list(const int32_t* idx, const uint64_t* bits, Py_ssize_t n) noexcept nogil:
    cdef RowView v
    v.idx = idx
    v.bits = bits
    v.n = n
    v.dense = 0
    return v


cdef RowView _union(RowView a, RowView b, int32_t* oi, uint64_t* ob) noexcept nogil:
    """a | b into oi/ob (room for W entries: word indices are distinct and below W)."""
    cdef Py_ssize_t i = 0, j = 0, k = 0
    while i < a.n and j < b.n:
        if a.idx[i] < b.idx[j]:
            oi[k] = a.idx[i]
            ob[k] = a.bits[i]
            i += 1
        elif a.idx[i] > b.idx[j]:
            oi[k] = b.idx[j]
            ob[k] = b.bits[j]
            j += 1
        else:
            oi[k] = a.idx[i]
            ob[k] = a.bits[i] | b.bits[j]
            i += 1
            j += 1
        k += 1
    while i < a.n:
        oi[k] = a.idx[i]
        ob[k] = a.bits[i]
        i += 1
        k += 1
    while j < b.n:
        oi[k] = b.idx[j]
        ob[k] = b.bits[j]
        j += 1
        k += 1
    cdef RowView v = _list(oi, ob, k)
    v.dense = a.dense | b.dense  # a dense side brings every word index
    return v


cdef Py_ssize_t _copy_set(RowView r, int32_t* oi, uint64_t* ob) noexcept nogil:
    """The non-zero words of r into oi/ob; their count."""
    cdef Py_ssize_t t, k = 0
    for t in range(r.n):
        if r.bits[t]:
            oi[k] = r.idx[t]
            ob[k] = r.bits[t]
            k += 1
    return k


cdef Py_ssize_t _hits(RowView c, RowView r, int32_t* oi, uint64_t* ob) noexcept nogil:
    """The non-zero words of c & r into oi/ob (c: a candidate list of non-zero words)."""
    cdef Py_ssize_t j, t, k = 0, lo, hi, mid
    cdef uint64_t h
    cdef int32_t w
    if r.dense:
        for j in range(c.n):
            h = c.bits[j] & r.bits[c.idx[j]]
            if h:
                oi[k] = c.idx[j]
                ob[k] = h
                k += 1
    elif 8 * r.n < c.n:  # a few row words: find each among the candidates
        lo = 0
        for t in range(r.n):
            w = r.idx[t]
            hi = c.n
            while lo < hi:
                mid = (lo + hi) >> 1
                if c.idx[mid] < w:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == c.n:
                break
            if c.idx[lo] == w:
                h = c.bits[lo] & r.bits[t]
                if h:
                    oi[k] = w
                    ob[k] = h
                    k += 1
    else:
        j = 0
        t = 0
        while j < c.n and t < r.n:
            if c.idx[j] < r.idx[t]:
                j += 1
            elif c.idx[j] > r.idx[t]:
                t += 1
            else:
                h = c.bits[j] & r.bits[t]
                if h:
                    oi[k] = c.idx[j]
                    ob[k] = h
                    k += 1
                j += 1
                t += 1
    return k


cdef inline uint64_t _mix(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    return h


cdef inline uint64_t _list_hash(RowView c) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>c.n
    cdef Py_ssize_t j
    for j in range(c.n):
        h = _mix(h ^ ((<uint64_t>c.idx[j]) * 0x9E3779B97F4A7C15ULL) ^ c.bits[j]) + 1
    return h


@cython.final
cdef class ListTable:
    """Open addressing map: a candidate list -> int32 >= 0. Keys live in an arena as
    [value, n, n word indices, n words]; slots hold the hash and the arena offset."""
    cdef Py_ssize_t cap, used, alen, acap
    cdef uint64_t* hashes
    cdef int64_t* offs        # -1: empty slot
    cdef uint64_t* arena

    def __cinit__(self):
        self.hashes = NULL
        self.offs = NULL
        self.arena = NULL
        self._reset(1024)

    def __dealloc__(self):
        free(self.hashes); free(self.offs); free(self.arena)

    cdef int _reset(self, Py_ssize_t cap) except -1:
        free(self.hashes); free(self.offs); free(self.arena)
        self.hashes = <uint64_t*>malloc(cap * sizeof(uint64_t))
        self.offs = <int64_t*>malloc(cap * sizeof(int64_t))
        self.acap = 4 * cap
        self.arena = <uint64_t*>malloc(self.acap * sizeof(uint64_t))
        if self.hashes == NULL or self.offs == NULL or self.arena == NULL:
            raise MemoryError()
        memset(self.offs, 0xff, cap * sizeof(int64_t))
        self.cap = cap
        self.used = 0
        self.alen = 0
        return 0

    cdef inline bint _same(self, int64_t o, RowView c) noexcept nogil:
        cdef const uint64_t* e = self.arena + o
        cdef Py_ssize_t j
        if <Py_ssize_t>e[1] != c.n:
            return False
        for j in range(c.n):
            if e[2 + j] != <uint64_t>c.idx[j] or e[2 + c.n + j] != c.bits[j]:
                return False
        return True

    cdef inline Py_ssize_t _slot(self, RowView c, uint64_t h) noexcept nogil:
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>mask)
        while self.offs[i] >= 0:
            if self.hashes[i] == h and self._same(self.offs[i], c):
                return i
            i = (i + 1) & mask
        return i

    cdef inline int32_t get(self, RowView c) noexcept nogil:
        cdef Py_ssize_t i = self._slot(c, _list_hash(c))
        if self.offs[i] < 0:
            return -1
        return <int32_t>self.arena[self.offs[i]]

    cdef int put(self, RowView c, int32_t val) except -1:
        cdef Py_ssize_t i, j, old_cap = self.cap, need = 2 + 2 * c.n
        cdef uint64_t h = _list_hash(c)
        cdef uint64_t* p
        cdef uint64_t* old_h
        cdef int64_t* old_o
        if self.used >= TABLE_MAX or self.alen + need > ARENA_MAX:
            self._reset(1024)  # bounded memory: forget everything, start again
        elif 2 * (self.used + 1) > self.cap:
            old_h = self.hashes
            old_o = self.offs
            self.hashes = <uint64_t*>malloc(2 * old_cap * sizeof(uint64_t))
            self.offs = <int64_t*>malloc(2 * old_cap * sizeof(int64_t))
            if self.hashes == NULL or self.offs == NULL:
                free(old_h); free(old_o)
                self.hashes = NULL
                self.offs = NULL
                self._reset(1024)
                raise MemoryError()
            memset(self.offs, 0xff, 2 * old_cap * sizeof(int64_t))
            self.cap = 2 * old_cap
            for j in range(old_cap):
                if old_o[j] >= 0:
                    i = <Py_ssize_t>(old_h[j] & <uint64_t>(self.cap - 1))
                    while self.offs[i] >= 0:
                        i = (i + 1) & (self.cap - 1)
                    self.hashes[i] = old_h[j]
                    self.offs[i] = old_o[j]
            free(old_h); free(old_o)
        if self.alen + need > self.acap:
            p = <uint64_t*>realloc(self.arena, max(2 * self.acap, self.alen + need) * sizeof(uint64_t))
            if p == NULL:
                raise MemoryError()
            self.arena = p
            self.acap = max(2 * self.acap, self.alen + need)
        i = self._slot(c, h)
        if self.offs[i] >= 0:
            self.arena[self.offs[i]] = <uint64_t>val
            return 0
        p = self.arena + self.alen
        p[0] = <uint64_t>val
        p[1] = <uint64_t>c.n
        for j in range(c.n):
            p[2 + j] = <uint64_t>c.idx[j]
            p[2 + c.n + j] = c.bits[j]
        self.hashes[i] = h
        self.offs[i] = self.alen
        self.alen += need
        self.used += 1
        return 0


cdef list _members(RowView c):
    """Ascending group indices of a candidate list."""
    cdef Py_ssize_t j
    cdef uint64_t x
    cdef list out = []
    for j in range(c.n):
        x = c.bits[j]
        while x:
            out.append(64 * c.idx[j] + __builtin_ctzll(x))
            x &= x - 1
    return out
