# cython: language_level=3
"""The C scanner of an audience line's common shape: declarations shared with _plan.pyx."""

cdef enum:
    MAX_ATTRS = 32  # attributes of one line the scanner takes (more: not the common shape)
    MAX_LABELS = 16  # crowd labels
    MAX_CART = 16  # cart adds
    MAX_BUYS = 16  # purchases

# Val.kind
cdef enum:
    V_INT = 1  # an integer literal of at most 15 digits: its exact value in `num`
    V_FLOAT = 2  # a number with a fraction or exponent, finite: `num` as float() reads it
    V_STR = 3  # a string, valid UTF-8 with no raw control byte (maybe escapes): `s`
    V_TRUE = 4
    V_FALSE = 5
    V_NULL = 6

# Line.has: which top-level keys the line carries
cdef enum:
    HAS_CONSUMER = 1
    HAS_ATTRS = 2
    HAS_CROWDS = 4
    HAS_EXCLUSIVE = 8
    HAS_INTERESTED = 16
    HAS_CART = 32
    HAS_BUYS = 64

ctypedef struct Span:
    const char *p  # into the scanned line's buffer: the text between the quotes, as written
    Py_ssize_t n  # bytes
    int esc  # 1: the text holds JSON escapes (checked, still undecoded; span_text decodes)

ctypedef struct Val:
    int kind
    double num
    Span s

ctypedef struct Attr:
    Span key  # never escaped
    Val val

ctypedef struct CartAdd:
    Span time  # never escaped
    Span item  # maybe escaped

ctypedef struct Line:
    int has
    Span consumer  # printable ASCII, 1..1024 bytes
    int nattrs
    Attr attrs[MAX_ATTRS]
    int nlabels
    Span labels[MAX_LABELS]  # maybe escaped
    int exclusive  # 1 / 0, when HAS_EXCLUSIVE
    int interested  # 1 / 0, when HAS_INTERESTED
    int ncart
    CartAdd cart[MAX_CART]
    int nbuys
    Span buys[MAX_BUYS]  # times: never escaped

# 1: the line (p, n bytes) is the common shape and `out` holds it; 0: it is not (the caller
# hands it to the full decoder and checks, which give the exact error or the exact value)
cdef int scan_line(const char *p, Py_ssize_t n, Line *out) noexcept

# The str json.loads gives for a span of a line scan_line took (its escapes decoded)
cdef object span_text(Span s)
