# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The C scanner of an audience line's common shape: one pass over the bytes into a `Line`.

The planner's fast lane (_plan.pyx) calls `scan_line` once per consumer. It accepts only the
common shape (_scan.pxd; every rule has a case in tests/outreach/test_scan_line.py);
anything else, even valid JSON, returns 0 so that the line goes to the full decoder and
checks, which give the exact value or the exact error code. The scanner never guesses: a
rule it cannot check cheaply makes a 0. JSON escapes are taken where Python's json.dumps
writes them in real audiences (non-ASCII as a backslash, `u` and 4 hex digits): attribute
string values, crowd labels and cart items; span_text decodes them. Keys, times and the
consumer stay escape-free.
`scan` and `count_common` are for tests and benchmarks/bench_scan.py.
"""

from libc.math cimport isinf
from libc.string cimport memcmp, memcpy

from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeUTF8


cdef extern from "Python.h":
    # overflow_exception NULL: an overflow gives +-HUGE_VAL instead of raising (checked below)
    double PyOS_string_to_double(const char *s, char **endptr, void *overflow_exception)


ctypedef const unsigned char *cptr

cdef enum:
    MAX_CONSUMER = 1024  # bytes of a consumer id
    MAX_NUMBER = 64  # bytes of a non-integer number's text (float() reads a copy)
    MAX_INT_DIGITS = 15  # every 15-digit integer is exact in a double
    STACK_TEXT = 256  # span_text decodes escapes of texts up to this many bytes on the stack

# Byte classes inside a string: what the byte starts. C_BAD: a control byte, a backslash (an
# escape: _string checks it where escapes are allowed), or a byte no valid UTF-8 sequence starts with
# (a continuation byte, C0/C1 which only start overlong forms, F5-FF which go above U+10FFFF).
cdef enum:
    C_PLAIN = 0  # ASCII 0x20-0x7F but quote and backslash
    C_QUOTE = 1
    C_BAD = 2
    C_LEAD2 = 3  # C2-DF: one continuation byte
    C_E0 = 4  # E0: second byte A0-BF (lower ones are overlong)
    C_LEAD3 = 5  # E1-EC, EE-EF: two continuation bytes
    C_ED = 6  # ED: second byte 80-9F (A0-BF encode surrogates U+D800-DFFF)
    C_F0 = 7  # F0: second byte 90-BF (lower ones are overlong)
    C_LEAD4 = 8  # F1-F3: three continuation bytes
    C_F4 = 9  # F4: second byte 80-8F (higher ones go above U+10FFFF)

cdef unsigned char CLS[256]
cdef unsigned char _SHORT[256]  # a one-letter escape's letter -> its byte (" \\ / to themselves)

cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    /* How many of the 16 bytes at p come before the first quote, backslash, control byte,
       byte >= 0x80 (the signed compare with 0x20 flags those two at once) or byte `also`
       (16: none of them). */
    static inline int rulec_scan_run16(const unsigned char *p, char also) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i bad = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x22)),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8(0x5C))),
            _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8(also))));
        int m = _mm_movemask_epi8(bad);
        return m ? __builtin_ctz(m) : 16;
    }
    #else
    #define rulec_scan_run16(p, also) 0  /* the byte loops do it all */
    #endif
    """
    # also = 0x22 (a quote again): the bytes of a string without escapes, DEL included;
    # also = 0x7F: printable ASCII, a consumer's bytes
    int run16 "rulec_scan_run16"(const unsigned char *p, char also) noexcept


cdef inline cptr _run(cptr p, cptr e, char also) noexcept:
    """p past the bytes run16 lets through, 16 at a time; the last 15 bytes are left to the
    caller's byte loop, as is everything on a machine without SSE2."""
    cdef int k
    while e - p >= 16:
        k = run16(p, also)
        p += k
        if k < 16:
            break
    return p


cdef void _fill_classes() noexcept:
    cdef int b, c
    for b, c in zip(b'"\\/bfnrt', b'"\\/\b\f\n\r\t'):
        _SHORT[b] = c
    for b in range(256):
        if b < 0x20 or b == 0x5C or 0x80 <= b <= 0xC1 or b >= 0xF5:
            CLS[b] = C_BAD
        elif b == 0x22:
            CLS[b] = C_QUOTE
        elif b < 0x80:
            CLS[b] = C_PLAIN
        elif b <= 0xDF:
            CLS[b] = C_LEAD2
        elif b == 0xE0:
            CLS[b] = C_E0
        elif b == 0xED:
            CLS[b] = C_ED
        elif b <= 0xEF:
            CLS[b] = C_LEAD3
        elif b == 0xF0:
            CLS[b] = C_F0
        elif b == 0xF4:
            CLS[b] = C_F4
        else:
            CLS[b] = C_LEAD4


_fill_classes()


cdef inline bint _cont(cptr p, cptr e, int k) noexcept:
    """The k bytes at p exist and are continuation bytes (80-BF)."""
    cdef int i
    if e - p < k:
        return False
    for i in range(k):
        if p[i] & 0xC0 != 0x80:
            return False
    return True


cdef inline cptr _ws(cptr p, cptr e) noexcept:
    """p past JSON whitespace."""
    # one comparison for the usual byte after a token, which is no whitespace (above 0x20)
    while p < e and p[0] <= 0x20 and (
        p[0] == 0x20 or p[0] == 0x0A or p[0] == 0x0D or p[0] == 0x09
    ):
        p += 1
    return p


cdef inline int _hex4(cptr p) noexcept:
    """The value of the 4 hex digits (either case) at p, which exist; -1 when they are not."""
    cdef int v = 0, i
    cdef unsigned char b
    for i in range(4):
        b = p[i]
        if 0x30 <= b <= 0x39:
            v = v * 16 + (b - 0x30)
        elif 0x61 <= (b | 0x20) <= 0x66:  # | 0x20: 'A'-'F' to 'a'-'f'
            v = v * 16 + ((b | 0x20) - 0x61 + 10)
        else:
            return -1
    return v


cdef cptr _escape(cptr p, cptr e) noexcept:
    """p just past a backslash: p past the escape. NULL for any escape json.loads and the full
    decoder might read differently or refuse (a lone or reversed surrogate, an unknown or
    truncated escape): the full path decides those."""
    cdef int u
    if p >= e:
        return NULL
    if p[0] == 0x75:  # 'u' and 4 hex digits
        if e - p < 5:
            return NULL
        u = _hex4(p + 1)
        if u < 0 or 0xDC00 <= u <= 0xDFFF:
            return NULL
        if not 0xD800 <= u <= 0xDBFF:
            return p + 5
        # a high surrogate: only as the first half of a pair
        if e - p < 11 or p[5] != 0x5C or p[6] != 0x75:
            return NULL
        u = _hex4(p + 7)
        return p + 11 if 0xDC00 <= u <= 0xDFFF else NULL
    if p[0] in (0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74):  # " \ / b f n r t
        return p + 1
    return NULL


cdef inline cptr _string(cptr p, cptr e, Span *out, bint escapes) noexcept:
    """p just past an opening quote: the string's bytes into `out`, and p past its closing
    quote; NULL when it has an escape (unless `escapes`; then a bad escape), a control byte
    or invalid UTF-8, or is unterminated."""
    cdef cptr start = p
    cdef unsigned char c
    cdef int esc = 0
    while True:
        p = _run(p, e, 0x22)  # plain ASCII, 16 bytes at a time (most strings are)
        if p >= e:
            return NULL
        c = CLS[p[0]]
        if c == C_PLAIN:
            p += 1
        elif c == C_QUOTE:
            out.p = <const char *> start
            out.n = p - start
            out.esc = esc
            return p + 1
        elif c == C_BAD:
            if not escapes or p[0] != 0x5C:
                return NULL
            p = _escape(p + 1, e)
            if p == NULL:
                return NULL
            esc = 1
        elif c == C_LEAD2:
            if not _cont(p + 1, e, 1):
                return NULL
            p += 2
        elif c <= C_ED:  # the three-byte leads
            if not _cont(p + 1, e, 2):
                return NULL
            if (c == C_E0 and p[1] < 0xA0) or (c == C_ED and p[1] > 0x9F):
                return NULL
            p += 3
        else:  # the four-byte leads
            if not _cont(p + 1, e, 3):
                return NULL
            if (c == C_F0 and p[1] < 0x90) or (c == C_F4 and p[1] > 0x8F):
                return NULL
            p += 4


cdef inline cptr _word(cptr p, cptr e, const char *w, Py_ssize_t n) noexcept:
    """p past the literal w (n bytes), or NULL."""
    if e - p < n or memcmp(p, w, n) != 0:
        return NULL
    return p + n


cdef inline cptr _digits(cptr p, cptr e) noexcept:
    while p < e and 0x30 <= p[0] <= 0x39:
        p += 1
    return p


cdef cptr _number(cptr p, cptr e, Val *out) noexcept:
    """A JSON number at p into `out` (V_INT or V_FLOAT), p past it; NULL when it is not one
    the common shape takes (bad grammar, an integer of more than 15 digits, an infinite
    float, more than 64 bytes of text)."""
    cdef cptr start = p, q
    cdef bint neg = False, integral = True
    cdef long long v = 0
    cdef char buf[MAX_NUMBER + 1]
    cdef char *end
    cdef double d
    if p < e and p[0] == 0x2D:  # '-'
        neg = True
        p += 1
    if p >= e or not 0x30 <= p[0] <= 0x39:
        return NULL
    if p[0] == 0x30:  # a leading 0 is the whole integer part ("01" then fails as a token)
        q = p + 1
    else:
        q = _digits(p, e)
    cdef Py_ssize_t ndigits = q - p  # more than 15: a float's only, not an integer's
    if ndigits <= MAX_INT_DIGITS:
        while p < q:
            v = v * 10 + (p[0] - 0x30)
            p += 1
    p = q
    if p < e and p[0] == 0x2E:  # '.': at least one digit follows
        integral = False
        q = _digits(p + 1, e)
        if q == p + 1:
            return NULL
        p = q
    if p < e and (p[0] == 0x65 or p[0] == 0x45):  # 'e' / 'E', a sign, at least one digit
        integral = False
        p += 1
        if p < e and (p[0] == 0x2B or p[0] == 0x2D):
            p += 1
        q = _digits(p, e)
        if q == p:
            return NULL
        p = q
    if integral:
        if ndigits > MAX_INT_DIGITS:
            return NULL
        out.kind = V_INT
        out.num = <double> (-v if neg else v)  # -0 is 0, as int("-0")
        return p
    if p - start > MAX_NUMBER:
        return NULL
    memcpy(buf, start, p - start)
    buf[p - start] = 0
    d = PyOS_string_to_double(buf, &end, NULL)
    if d == -1.0 and PyErr_Occurred() != NULL:  # cannot happen on checked text; no guessing
        PyErr_Clear()
        return NULL
    if end != buf + (p - start) or isinf(d):  # infinite: the full path says E884
        return NULL
    out.kind = V_FLOAT
    out.num = d
    return p


cdef inline cptr _scalar(cptr p, cptr e, Val *out) noexcept:
    """An attribute's value: a string, number, true, false or null (an object or array: NULL)."""
    cdef unsigned char c
    if p >= e:
        return NULL
    c = p[0]
    if c == 0x22:
        out.kind = V_STR
        return _string(p + 1, e, &out.s, True)
    if c == 0x74:
        out.kind = V_TRUE
        return _word(p, e, b"true", 4)
    if c == 0x66:
        out.kind = V_FALSE
        return _word(p, e, b"false", 5)
    if c == 0x6E:
        out.kind = V_NULL
        return _word(p, e, b"null", 4)
    return _number(p, e, out)


cdef inline cptr _after_item(cptr p, cptr e, unsigned char close, int *more) noexcept:
    """After an item of an array or object: p past "," (more = 1) or the closing byte
    (more = 0) and the whitespace around; NULL for anything else."""
    p = _ws(p, e)
    if p < e and p[0] == 0x2C:
        more[0] = 1
        return _ws(p + 1, e)
    if p < e and p[0] == close:
        more[0] = 0
        return p + 1
    return NULL


cdef inline cptr _open(
    cptr p, cptr e, unsigned char open_, unsigned char close, int *more
) noexcept:
    """p past the opening byte and whitespace; more = 0 when the container is empty (p then
    past the closing byte too); NULL when p is not at the opening byte."""
    if p >= e or p[0] != open_:
        return NULL
    p = _ws(p + 1, e)
    if p < e and p[0] == close:
        more[0] = 0
        return p + 1
    more[0] = 1
    return p


cdef inline cptr _key(cptr p, cptr e, Span *key) noexcept:
    """An object key and its colon: p past the colon and whitespace."""
    if p >= e or p[0] != 0x22:
        return NULL
    p = _string(p + 1, e, key, False)
    if p == NULL:
        return NULL
    p = _ws(p, e)
    if p >= e or p[0] != 0x3A:
        return NULL
    return _ws(p + 1, e)


cdef inline bint _same(Span a, Span b) noexcept:
    return a.n == b.n and memcmp(a.p, b.p, a.n) == 0


cdef cptr _attrs(cptr p, cptr e, Line *out) noexcept:
    """`attrs`: an object of scalars, distinct keys, at most MAX_ATTRS."""
    cdef int more, i
    cdef Attr *a
    p = _open(p, e, 0x7B, 0x7D, &more)
    while p != NULL and more:
        if out.nattrs == MAX_ATTRS:
            return NULL
        a = &out.attrs[out.nattrs]
        p = _key(p, e, &a.key)
        if p == NULL:
            return NULL
        for i in range(out.nattrs):
            if _same(out.attrs[i].key, a.key):
                return NULL
        p = _scalar(p, e, &a.val)
        if p == NULL:
            return NULL
        out.nattrs += 1
        p = _after_item(p, e, 0x7D, &more)
    return p


cdef cptr _strings(
    cptr p, cptr e, Span *items, int cap, int *count, bint escapes
) noexcept:
    """An array of at most `cap` strings (crowds, purchases: escaped or not)."""
    cdef int more
    p = _open(p, e, 0x5B, 0x5D, &more)
    while p != NULL and more:
        if count[0] == cap or p >= e or p[0] != 0x22:
            return NULL
        p = _string(p + 1, e, &items[count[0]], escapes)
        if p == NULL:
            return NULL
        count[0] += 1
        p = _after_item(p, e, 0x5D, &more)
    return p


cdef cptr _cart_add(cptr p, cptr e, CartAdd *out) noexcept:
    """{"time": "...", "item": "..."}: exactly those two keys, in either order."""
    cdef int more, seen = 0, bit
    cdef Span key
    cdef Span *dest
    p = _open(p, e, 0x7B, 0x7D, &more)
    while p != NULL and more:
        p = _key(p, e, &key)
        if p == NULL or key.n != 4:
            return NULL
        if memcmp(key.p, b"time", 4) == 0:
            bit, dest = 1, &out.time
        elif memcmp(key.p, b"item", 4) == 0:
            bit, dest = 2, &out.item
        else:
            return NULL
        if seen & bit or p >= e or p[0] != 0x22:
            return NULL
        seen |= bit
        p = _string(p + 1, e, dest, bit == 2)  # an item may be escaped, a time not
        if p == NULL:
            return NULL
        p = _after_item(p, e, 0x7D, &more)
    return p if seen == 3 else NULL


cdef cptr _cart(cptr p, cptr e, Line *out) noexcept:
    """`cart_adds`: an array of at most MAX_CART cart adds."""
    cdef int more
    p = _open(p, e, 0x5B, 0x5D, &more)
    while p != NULL and more:
        if out.ncart == MAX_CART:
            return NULL
        p = _cart_add(p, e, &out.cart[out.ncart])
        if p == NULL:
            return NULL
        out.ncart += 1
        p = _after_item(p, e, 0x5D, &more)
    return p


cdef inline cptr _bool(cptr p, cptr e, int *out) noexcept:
    """`exclusive`, `interested`: true or false only."""
    if p < e and p[0] == 0x74:
        out[0] = 1
        return _word(p, e, b"true", 4)
    out[0] = 0
    return _word(p, e, b"false", 5)


cdef cptr _consumer(cptr p, cptr e, Span *out) noexcept:
    """`consumer`: a string of 1..1024 printable ASCII bytes (no quote, no backslash)."""
    cdef cptr start
    if p >= e or p[0] != 0x22:
        return NULL
    p += 1
    start = p
    p = _run(p, e, 0x7F)
    while p < e and <unsigned char> (p[0] - 0x20) < 0x5F and p[0] != 0x22 and p[0] != 0x5C:
        p += 1
    if p >= e or p[0] != 0x22 or p == start or p - start > MAX_CONSUMER:
        return NULL
    out.p = <const char *> start
    out.n = p - start
    out.esc = 0
    return p + 1


cdef inline int _top_key(Span k) noexcept:
    """The HAS_* bit of a top-level key (byte-exact), 0 for any other key."""
    if k.n == 5 and memcmp(k.p, b"attrs", 5) == 0:
        return HAS_ATTRS
    if k.n == 6 and memcmp(k.p, b"crowds", 6) == 0:
        return HAS_CROWDS
    if k.n == 8 and memcmp(k.p, b"consumer", 8) == 0:
        return HAS_CONSUMER
    if k.n == 9:
        if memcmp(k.p, b"exclusive", 9) == 0:
            return HAS_EXCLUSIVE
        if memcmp(k.p, b"cart_adds", 9) == 0:
            return HAS_CART
        if memcmp(k.p, b"purchases", 9) == 0:
            return HAS_BUYS
    if k.n == 10 and memcmp(k.p, b"interested", 10) == 0:
        return HAS_INTERESTED
    return 0


cdef int scan_line(const char *line, Py_ssize_t n, Line *out) noexcept:
    cdef cptr p = <cptr> line
    cdef cptr e = p + n
    cdef int more, bit
    cdef Span key
    out.has = out.nattrs = out.nlabels = out.ncart = out.nbuys = 0
    p = _open(_ws(p, e), e, 0x7B, 0x7D, &more)
    while p != NULL and more:
        p = _key(p, e, &key)
        if p == NULL:
            return 0
        bit = _top_key(key)
        if bit == 0 or out.has & bit:
            return 0
        out.has |= bit
        if bit == HAS_CONSUMER:
            p = _consumer(p, e, &out.consumer)
        elif bit == HAS_ATTRS:
            p = _attrs(p, e, out)
        elif bit == HAS_CROWDS:
            p = _strings(p, e, out.labels, MAX_LABELS, &out.nlabels, True)
        elif bit == HAS_EXCLUSIVE:
            p = _bool(p, e, &out.exclusive)
        elif bit == HAS_INTERESTED:
            p = _bool(p, e, &out.interested)
        elif bit == HAS_CART:
            p = _cart(p, e, out)
        else:
            p = _strings(p, e, out.buys, MAX_BUYS, &out.nbuys, False)
        if p == NULL:
            return 0
        p = _after_item(p, e, 0x7D, &more)
    if p == NULL or _ws(p, e) != e or not out.has & HAS_CONSUMER:
        return 0
    return 1


cdef inline char *_utf8(char *q, unsigned int u) noexcept:
    """The UTF-8 bytes of code point u (no surrogate) at q; q past them."""
    if u < 0x80:
        q[0] = <char> u
        return q + 1
    if u < 0x800:
        q[0], q[1] = <char> (0xC0 | u >> 6), <char> (0x80 | u & 0x3F)
        return q + 2
    if u < 0x10000:
        q[0], q[1] = <char> (0xE0 | u >> 12), <char> (0x80 | u >> 6 & 0x3F)
        q[2] = <char> (0x80 | u & 0x3F)
        return q + 3
    q[0], q[1] = <char> (0xF0 | u >> 18), <char> (0x80 | u >> 12 & 0x3F)
    q[2], q[3] = <char> (0x80 | u >> 6 & 0x3F), <char> (0x80 | u & 0x3F)
    return q + 4


cdef Py_ssize_t _unescape(cptr p, Py_ssize_t n, char *out) noexcept:
    """The UTF-8 of the escaped text p (n bytes, checked by _string) into out, which has n
    bytes: no escape decodes longer than it is written. The bytes written."""
    cdef cptr e = p + n
    cdef char *q = out
    cdef unsigned int u
    while p < e:
        if p[0] != 0x5C:
            q[0] = <char> p[0]
            q += 1
            p += 1
            continue
        p += 1
        if p[0] == 0x75:
            u = <unsigned int> _hex4(p + 1)
            p += 5
            if 0xD800 <= u <= 0xDBFF:  # _escape saw the low half follow
                u = 0x10000 + ((u - 0xD800) << 10) + (<unsigned int> _hex4(p + 2) - 0xDC00)
                p += 6
            q = _utf8(q, u)
            continue
        q[0] = <char> _SHORT[p[0]]
        q += 1
        p += 1
    return q - out


cdef object span_text(Span s):
    if not s.esc:
        return PyUnicode_DecodeUTF8(s.p, s.n, NULL)
    cdef char stack[STACK_TEXT]
    cdef char *buf = stack
    if s.n > STACK_TEXT:
        buf = <char *> PyMem_Malloc(s.n)
        if buf == NULL:
            raise MemoryError()
    try:
        return PyUnicode_DecodeUTF8(buf, _unescape(<cptr> s.p, s.n, buf), NULL)
    finally:
        if buf != stack:
            PyMem_Free(buf)


# ---- for tests and benchmarks: the Line as the dict json.loads gives ----

cdef str _text(Span s):
    return span_text(s)


cdef object _value(Val v):
    if v.kind == V_INT:
        return <long long> v.num
    if v.kind == V_FLOAT:
        return v.num
    if v.kind == V_STR:
        return _text(v.s)
    return True if v.kind == V_TRUE else False if v.kind == V_FALSE else None


def scan(bytes data):
    """The dict json.loads(data) gives when `data` is an audience line of the common shape
    (scan_line says 1), else None."""
    cdef Line line
    cdef int i
    if not scan_line(data, len(data), &line):
        return None
    rec = {"consumer": _text(line.consumer)}
    if line.has & HAS_ATTRS:
        rec["attrs"] = {_text(line.attrs[i].key): _value(line.attrs[i].val)
                        for i in range(line.nattrs)}
    if line.has & HAS_CROWDS:
        rec["crowds"] = [_text(line.labels[i]) for i in range(line.nlabels)]
    if line.has & HAS_EXCLUSIVE:
        rec["exclusive"] = bool(line.exclusive)
    if line.has & HAS_INTERESTED:
        rec["interested"] = bool(line.interested)
    if line.has & HAS_CART:
        rec["cart_adds"] = [{"time": _text(line.cart[i].time), "item": _text(line.cart[i].item)}
                            for i in range(line.ncart)]
    if line.has & HAS_BUYS:
        rec["purchases"] = [_text(line.buys[i]) for i in range(line.nbuys)]
    return rec


def count_common(list lines):
    """How many of `lines` (bytes each) scan_line takes: its cost alone, for
    benchmarks/bench_scan.py, with no Python object made per line."""
    cdef Line line
    cdef Py_ssize_t count = 0
    cdef bytes b
    for b in lines:
        count += scan_line(b, len(b), &line)
    return count
