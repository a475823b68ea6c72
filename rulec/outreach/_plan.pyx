# cython: language_level=3, boundscheck=False, wraparound=False
"""The planner's per-batch loop in Cython: the twin of plan_run.Run's (same sends, bytes, ledger).

A batch's lines are checked (parse/require/purchases/cart_adds of audience.py on the common
shapes; anything else is handed to those functions, so every error keeps its code and line),
offered (O1, O3, O6-O9, O11), decided against the ledger history (O2, O4, O5, O13), printed
as one string and recorded as Packed rows (one ";id,channel,at..." text per consumer).
A consumer with no history, seen once in its batch, gets its crowd combination's outcome:
worked out once per run by the twin's own `_check`, with its output pieces and ledger tokens
ready, so such a consumer costs one `str.join`. Every history decision goes through the
twin's `_history` and `_check` themselves.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains, PyDict_GetItem
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from cpython.ref cimport Py_XDECREF
from cpython.unicode cimport PyUnicode_Join
from libc.stdint cimport int32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcmp, memcpy, memset

from rulec.outreach._scan cimport (
    HAS_ATTRS, HAS_BUYS, HAS_CART, HAS_CROWDS, HAS_EXCLUSIVE, HAS_INTERESTED, MAX_BUYS, MAX_CART,
    Line, Span, V_FALSE, V_FLOAT, V_INT, V_STR, V_TRUE, scan_line, span_text,
)

from rulec.errors import InputError
from rulec.outreach import audience as aud
from rulec.outreach import offers as offer_fns
from rulec.outreach.campaign import binary_out, items_json, json_str
from rulec.outreach.ledger.base import Packed


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    unsigned char *PyUnicode_1BYTE_DATA(object)
    object PyUnicode_DecodeASCII(const char *s, Py_ssize_t size, const char *errors)
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)
    PyObject *PyLong_FromLongLong(long long)
    PyObject *PyFloat_FromDouble(double)
    PyObject *PyUnicode_DecodeUTF8_new "PyUnicode_DecodeUTF8"(const char *s, Py_ssize_t size,
                                                              const char *errors)
    PyObject *Py_True
    PyObject *Py_False
    PyObject *Py_None
    void Py_INCREF_raw "Py_INCREF"(PyObject *)

# CMatcher.crowd_entry's function: the crowds' result id of per-slot values (-2: busy)
ctypedef int32_t (*crowd_rid_fn)(PyObject *matcher, PyObject **vals) except -1

cdef dict TIMES = aud._TIMES  # the audience's time cache (cleared in place, never rebound)
cdef Py_ssize_t MAX_LIST = aud.MAX_LIST
cdef Py_ssize_t MAX_COMBOS = 20_000  # crowd combinations kept between batches
cdef int TARGETED = 0, CART = 1, RECALL = 2, SUPER = 3, OTHER = 4
# the skip reasons of the promo privileges the lane decides (offers.py), numbered from 1
cdef tuple REASONS = ("not_in_audience", "not_interested", "purchased", "no_valid_activity")
cdef enum:
    MAX_LANE_PROMO = 30  # promo campaigns the lane takes (its offers are bits of an int)
    R_NOT_IN_AUDIENCE = 1
    R_NOT_INTERESTED = 2
    R_PURCHASED = 3
    R_NO_ACTIVITY = 4
    NREASONS = 4
cdef dict EMPTY = {}
# the audience fields an exclusive consumer's line must carry (E886), as the scanner's bits
cdef dict LANE_BITS = {
    "cart_adds": HAS_CART, "purchases": HAS_BUYS, "interested": HAS_INTERESTED
}
cdef tuple NONE_TUPLE = ()


cdef inline object dict_get(dict d, key):
    """d.get(key) without the method lookup."""
    cdef PyObject *v = PyDict_GetItem(d, key)
    return None if v == NULL else <object> v


cdef inline PyObject *_new_text(Span s) except NULL:
    """A new reference to the str of a span (UTF-8 straight in; escapes through span_text)."""
    if not s.esc:
        return PyUnicode_DecodeUTF8_new(s.p, s.n, NULL)
    cdef object t = span_text(s)
    Py_INCREF_raw(<PyObject *> t)  # the local's reference goes when the function returns
    return <PyObject *> t


cdef inline uint64_t fnv1a(Span s) noexcept:
    """FNV-1a of a span's bytes: the slot of the lane's direct-mapped caches."""
    cdef uint64_t h = 1469598103934665603ULL
    cdef Py_ssize_t i
    for i in range(s.n):
        h = (h ^ <unsigned char> s.p[i]) * 1099511628211ULL
    return h


cdef inline bint plain_ascii(str s):
    """Printable ASCII without quote or backslash: its JSON is itself in quotes (json_str)."""
    cdef Py_ssize_t i, n
    cdef unsigned char ch
    cdef unsigned char *data
    if not PyUnicode_IS_ASCII(s):
        return False
    n, data = PyUnicode_GET_LENGTH(s), PyUnicode_1BYTE_DATA(s)
    for i in range(n):
        ch = data[i]
        if ch < 0x20 or ch >= 0x7F or ch == 0x22 or ch == 0x5C:
            return False
    return True


cdef class Camp:
    """A due campaign's fields the loop reads, in C."""

    cdef object c, base, offer
    cdef int kind
    cdef double at, lo_cart, lo_window
    cdef bint has_acts
    cdef list choices
    cdef str acts_json

    def __init__(self, c):
        self.c, self.base, self.offer, self.choices = c, c.base, c.offer, c.choices
        self.kind = (
            TARGETED
            if c.offer is None
            else CART
            if c.offer is offer_fns.cart_coupon
            else RECALL
            if c.offer is offer_fns.recall
            else SUPER
            if c.offer is offer_fns.super_discount
            else OTHER
        )
        self.at, self.lo_cart, self.lo_window = c.at, c.cart_start, c.window_start
        self.has_acts = bool(c.activities)
        self.acts_json = c.acts_json


cdef class Combo:
    """One crowd combination: the targeted sends its crowds hit (O1), and the outcome of a
    consumer without history: output pieces around the consumer id, ledger tokens, skips."""

    cdef list hits  # [(campaign, variant, None)], as the twin's `combos` holds them
    cdef list camps  # campaigns the hits are of
    cdef list sends  # clean outcome: [(campaign, variant, None)]
    cdef dict skips  # clean outcome: {(campaign, reason): 1}
    cdef list pieces  # cj.join(pieces): the clean outcome's output
    cdef list pieces_b  # the same pieces as UTF-8 bytes (the lane's output)
    cdef str toks  # the clean outcome's ledger tokens
    cdef Py_ssize_t n  # consumers of this combination in the current batch
    cdef Py_ssize_t clean  # of them, decided by the clean outcome in the current batch


cdef class Crowds:
    """The fast lane's view of one crowd combination (a crowd result id and outside labels):
    its Combo (None when no targeted campaign is due) and each promo campaign's variant (O7)."""

    cdef Combo k
    cdef list variants


ctypedef struct TimeSlot:  # one entry of the lane's cache of time texts (audiences repeat them)
    int n
    char text[48]
    double t


cdef enum:
    TIME_SLOTS = 512  # direct-mapped by a hash of the text
    TEXT_SLOTS = 256


ctypedef struct TextSlot:  # one entry of the lane's cache of attribute texts (<= 32 bytes)
    int n
    char text[32]
    PyObject *obj  # owned


cdef class Kernel:
    """One run's loop: built by Run when its sends are printed to `out` on a packing ledger."""

    cdef object run, ledger, crowds_of, out
    cdef list targeted, promo, camps
    cdef dict combos, item_json, tok_of
    cdef bint need_purchases, need_carts, toks_ready
    cdef object required
    cdef tuple required_keys
    cdef str name
    # the fast lane (lines of the common shape, scanned in C: _scan.pxd)
    cdef bint lane
    cdef readonly Py_ssize_t lane_chunks  # chunks the lane decided (the others: full checks)

    @property
    def lane_views(self):
        """Crowd combinations the lane keeps (bounded, whatever the outside labels)."""
        return len(self.by_rid or ()) + len(self.by_labels or ())
    cdef int req_bits  # HAS_* bits an exclusive consumer's line must carry (E886)
    cdef object matcher
    cdef crowd_rid_fn rid_fn
    cdef int nslots
    cdef list slot_keys  # UTF-8 bytes of each crowd slot's attribute name
    cdef PyObject **vals
    cdef Line *line
    cdef list by_rid  # crowd result id -> Crowds (lines without outside labels)
    cdef dict by_labels  # (result id, labels text) -> Crowds
    cdef Crowds plain  # the one Crowds when no crowd is read
    cdef TimeSlot *times
    cdef TextSlot *texts
    cdef double buy_t[MAX_BUYS]
    cdef double cart_t[MAX_CART]
    cdef int *offer_bits  # a lane batch's promo offers: bit j = promo campaign j, a consumer
    cdef Py_ssize_t nbits
    cdef Py_ssize_t *sent_j  # a lane batch's sends of each promo campaign
    cdef list toks_j  # each promo campaign's ledger token
    cdef Py_ssize_t *skip_n  # a lane batch's skips: promo campaign x reason
    cdef int *skip_order  # their first-seen order (the order the full path's dict keeps)
    cdef object items  # the cart items of the last offer (_lane_offer)
    cdef bint binary  # `out` takes bytes (campaign.binary_out)
    cdef char *obuf  # the lane's output of a batch, UTF-8
    cdef Py_ssize_t olen, ocap
    cdef dict vbytes  # Variant -> (head, plain_tail, items_tail) as UTF-8 bytes
    cdef dict ibytes  # send items (tuple) -> their JSON as UTF-8 bytes
    cdef dict abytes  # campaign -> its acts_json as UTF-8 bytes

    def __init__(self, run):
        self.run, self.ledger, self.out = run, run.p.ledger, run.out
        self.crowds_of = run.p.table.matcher.crowds_of_trusted if run.need_crowds else None
        cdef Camp camp
        self.camps, self.targeted, self.promo = [], [], []
        for c in run.active:
            camp = Camp(c)
            self.camps.append(camp)
            (self.targeted if camp.kind == TARGETED else self.promo).append(camp)
        self.need_purchases, self.need_carts = run.need_purchases, run.need_carts
        self.required = run.required
        self.required_keys = tuple(run.required or ())
        self.combos, self.item_json = {}, run.item_json
        self.toks_ready = False
        self.binary = binary_out(run.out)
        self._lane_setup(run)

    def __dealloc__(self):
        cdef int i
        if self.texts != NULL:
            for i in range(TEXT_SLOTS):
                Py_XDECREF(self.texts[i].obj)
        free(self.texts)
        free(self.skip_n)
        free(self.sent_j)
        free(self.offer_bits)
        free(self.skip_order)
        free(self.obuf)
        free(self.vals)
        free(self.line)
        free(self.times)

    # -- checks ---------------------------------------------------------------------------
    def chunk(self, chunk, name):
        """Run._chunk: check a chunk's lines, decide and record its consumers; on a bad line
        the consumers before it are still recorded, then the error is raised (unless
        keep_going)."""
        cdef list batch = [], errors = []
        cdef Py_ssize_t n
        cdef object rec, stop = None
        self.name = name
        if self.lane and self._lane_chunk(chunk):
            return
        for n, x in aud.decoded(chunk):
            try:
                rec = x if type(x) is dict and self._plain(x) else aud.parse(x, n, name)
                batch.append(self._lists(<dict> rec, n))
            except InputError as exc:
                errors.append((n, exc))
        run = self.run
        batch, stop = aud.settle(batch, errors, run.keep_going, run.bad)
        if batch:
            self._flush(batch)
        if stop is not None:
            raise stop

    cdef bint _plain(self, dict rec):
        """audience.parse's checks of a decoded line, on the common shapes (False: let parse
        decide, and raise)."""
        c = dict_get(rec, "consumer")
        if type(c) is not str or not 0 < len(<str> c) <= 1024:
            return False
        if not (PyUnicode_IS_ASCII(c) or (<str> c).isprintable()):
            return False
        a = dict_get(rec, "attrs")
        if a is not None and type(a) is not dict:
            return False
        labels = dict_get(rec, "crowds")
        if labels is not None:
            if type(labels) is not list:
                return False
            for x in <list> labels:
                if type(x) is not str:
                    return False
        for key in ("exclusive", "interested"):
            v = dict_get(rec, key)
            if v is not None and type(v) is not bool or v is None and PyDict_Contains(rec, key):
                return False
        return True

    cdef tuple _lists(self, dict rec, Py_ssize_t n):
        """(lineno, record, purchase times, cart adds) as Run._chunk reads them, after the
        E886 check."""
        required = self.required
        if required is not None:
            ex = dict_get(rec, "exclusive")
            if ex is None or ex is True and not self._has(rec, self.required_keys):
                aud.require(rec, required, self.name, n)
        buys = cart = None
        if self.need_purchases and PyDict_Contains(rec, "purchases"):
            buys = self._purchases(rec, n)
        if self.need_carts and PyDict_Contains(rec, "cart_adds"):
            cart = self._carts(rec, n)
        return (n, rec, buys, cart)

    cdef inline bint _has(self, dict rec, tuple keys):
        for key in keys:
            if not PyDict_Contains(rec, key):
                return False
        return True

    cdef list _purchases(self, dict rec, Py_ssize_t n):
        ps = rec["purchases"]
        cdef list out = []
        if type(ps) is list and len(<list> ps) <= MAX_LIST:
            for p in <list> ps:
                t = dict_get(TIMES, p) if type(p) is str else None
                if t is None:
                    break
                out.append(t)
            else:
                return out
        return aud.purchases(rec, self.name, n)

    cdef list _carts(self, dict rec, Py_ssize_t n):
        cs = rec["cart_adds"]
        cdef list out = []
        if type(cs) is list and len(<list> cs) <= MAX_LIST:
            for c in <list> cs:
                if type(c) is not dict:
                    break
                item = dict_get(<dict> c, "item")
                t = dict_get(<dict> c, "time")
                if type(item) is not str or not PyUnicode_IS_ASCII(item) or type(t) is not str:
                    break
                t = dict_get(TIMES, t)
                if t is None:
                    break
                out.append((t, item))
            else:
                return out
        return aud.cart_adds(rec, self.name, n)

    # -- the fast lane: lines of the common shape, scanned in C --------------------------
    cdef _lane_setup(self, run):
        """The lane takes the run when every due promo campaign is of a kind it decides and
        the crowds (when read) come from a matcher with a C entry (CMatcher.crowd_entry)."""
        cdef Camp camp
        self.lane = False
        if len(self.promo) > MAX_LANE_PROMO:  # offers are kept as bits of an int
            return
        for camp in self.promo:
            if camp.kind == OTHER:
                return
        self.req_bits = 0
        for key in self.required_keys:
            bit = LANE_BITS.get(key)
            if bit is None:
                return
            self.req_bits |= bit
        self.nslots = 0
        if self.crowds_of is not None:
            self.matcher = run.p.table.matcher
            entry = getattr(self.matcher, "crowd_entry", None)
            if entry is None:
                return
            keys, cap = entry()
            if not PyCapsule_IsValid(cap, b"rulec.crowd_rid"):
                return
            self.rid_fn = <crowd_rid_fn>PyCapsule_GetPointer(cap, b"rulec.crowd_rid")
            self.slot_keys = [k.encode("utf-8") for k in keys]
            self.nslots = len(keys)
        self.vals = <PyObject **>calloc(self.nslots + 1, sizeof(PyObject *))
        self.line = <Line *>calloc(1, sizeof(Line))
        self.times = <TimeSlot *>calloc(TIME_SLOTS, sizeof(TimeSlot))
        self.texts = <TextSlot *>calloc(TEXT_SLOTS, sizeof(TextSlot))
        self.skip_n = <Py_ssize_t *>calloc(len(self.promo) * NREASONS + 1, sizeof(Py_ssize_t))
        self.skip_order = <int *>calloc(len(self.promo) * NREASONS + 1, sizeof(int))
        self.sent_j = <Py_ssize_t *>calloc(len(self.promo) + 1, sizeof(Py_ssize_t))
        if (self.vals == NULL or self.line == NULL or self.times == NULL or self.skip_n == NULL
                or self.skip_order == NULL or self.texts == NULL or self.sent_j == NULL):
            raise MemoryError()
        self.by_rid, self.by_labels = [], {}
        self.plain = None
        self.vbytes, self.ibytes, self.abytes = {}, {}, {}
        self.lane = True

    cdef _fresh_combos(self):
        """Combinations kept between batches, bounded (outside crowd labels make them
        unbounded); the lane's views of them go with them."""
        if len(self.combos) > MAX_COMBOS:
            self.combos.clear()
            self.by_rid, self.by_labels = [], {}
            self.plain = None

    cdef bint _lane_chunk(self, list chunk) except -1:
        """Decide and record a chunk whose lines are all of the common shape: True. False,
        having decided nothing, when a line is not (a Python object, an unusual shape, a field
        the full checks refuse): the chunk then takes those checks, line by line."""
        cdef list views = [], extras = [], ids = [], promo = self.promo
        cdef dict counts = {}
        cdef Py_ssize_t outside = 0, i, j, np = len(promo)
        cdef Line *ln = self.line
        cdef int has, why, r, bits, nskips = 0
        cdef bint buys, carts
        cdef Py_ssize_t *skip_n = self.skip_n
        cdef int *skip_order = self.skip_order
        memset(skip_n, 0, np * NREASONS * sizeof(Py_ssize_t))
        cdef Crowds cr
        cdef Combo k
        cdef Camp camp
        self._fresh_combos()
        for k in self.combos.values():
            k.n = 0
        self._bits_room(len(chunk))
        for item in chunk:
            x = (<tuple> item)[1]
            if type(x) is not bytes or not scan_line(PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x), ln):
                return False
            has = ln.has
            if self.required is not None:  # E886: the full checks name the missing field
                if not has & HAS_EXCLUSIVE or ln.exclusive and has & self.req_bits != self.req_bits:
                    return False
            # every time the run reads is checked, of every consumer, as the full checks do
            buys = self.need_purchases and has & HAS_BUYS
            carts = self.need_carts and has & HAS_CART
            if buys:
                for i in range(ln.nbuys):
                    if not self._time(ln.buys[i], &self.buy_t[i]):
                        return False
            if carts:
                for i in range(ln.ncart):
                    if not self._time(ln.cart[i].time, &self.cart_t[i]):
                        return False
            cr = self._crowds_for(ln)
            if cr is None:
                return False
            cid = PyUnicode_DecodeASCII(ln.consumer.p, ln.consumer.n, NULL)
            bits, extra = 0, None
            k = cr.k
            if k is not None:
                k.n += 1
            if np and not (has & HAS_EXCLUSIVE and ln.exclusive):
                outside += 1
            elif np:
                for j in range(np):
                    camp = <Camp> promo[j]
                    why = self._lane_offer(camp, ln, buys, carts)
                    if why:  # counted in C; the dict is built in first-seen order below
                        r = j * NREASONS + why - 1
                        if not skip_n[r]:
                            skip_order[nskips] = r
                            nskips += 1
                        skip_n[r] += 1
                        continue
                    bits |= 1 << j  # offered: its send is made by _lane_decide
                    if self.items is not None:
                        if extra is None:
                            extra = {}
                        extra[j], self.items = self.items, None
            self.offer_bits[len(ids)] = bits
            views.append(cr)
            extras.append(extra)
            ids.append(cid)
        for i in range(nskips):
            r = skip_order[i]
            counts[((<Camp> promo[r // NREASONS]).c, REASONS[r % NREASONS])] = skip_n[r]
        self._tail_counts(counts, len(chunk), outside)
        self._lane_record(ids, views, extras, counts)
        self.lane_chunks += 1
        return True

    cdef int _lane_offer(self, Camp camp, Line *ln, bint buys, bint carts) except -1:
        """_offer of a promo privilege from a scanned line: 0 when offered (its cart items,
        or None, left in self.items), else the skip reason's number in REASONS, plus 1."""
        cdef Py_ssize_t i
        cdef double t, lo, at = camp.at
        if camp.kind == CART:
            if not carts or ln.ncart == 0:
                return R_NOT_IN_AUDIENCE
            items, lo = None, camp.lo_cart
            for i in range(ln.ncart):
                t = self.cart_t[i]
                if lo <= t <= at:
                    it = span_text(ln.cart[i].item)
                    if items is None:
                        items = [it]
                    elif it not in items:  # the first of each item, in order
                        items.append(it)
            self.items = items
            return R_NOT_IN_AUDIENCE if items is None else 0
        if camp.kind == SUPER and not (ln.has & HAS_INTERESTED and ln.interested):
            return R_NOT_INTERESTED
        if buys and ln.nbuys:
            lo = camp.lo_window
            for i in range(ln.nbuys):
                t = self.buy_t[i]
                if lo <= t <= at:
                    return R_PURCHASED
        if camp.kind == SUPER and not camp.has_acts:
            return R_NO_ACTIVITY
        self.items = None
        return 0

    cdef int _time(self, Span s, double *out) except -1:
        """Epoch seconds of a time text (a direct-mapped cache by its bytes, then the
        audience's); 0 when the full checks refuse it (they give the error)."""
        cdef TimeSlot *e = &self.times[fnv1a(s) & (TIME_SLOTS - 1)]
        if s.n > 0 and e.n == s.n and memcmp(e.text, s.p, s.n) == 0:
            out[0] = e.t
            return 1
        text = PyUnicode_DecodeUTF8(s.p, s.n, NULL)
        t = dict_get(TIMES, text)
        if t is None:
            try:
                t = aud._time(text, "time", self.name, 0)
            except InputError:
                return 0
        out[0] = t
        if 0 < s.n <= 48:
            e.n = s.n
            memcpy(e.text, s.p, s.n)
            e.t = out[0]
        return 1

    cdef Crowds _crowds_for(self, Line *ln):
        """The line's crowd combination: its attributes' values looked up by the matcher's
        C entry, then the outside labels; None when the matcher is busy."""
        cdef int s, a
        cdef int32_t rid
        cdef Crowds cr
        cdef PyObject **vals = self.vals
        if self.crowds_of is None:
            if self.plain is None:
                self.plain = self._view(None)
            return self.plain
        for s in range(self.nslots):
            vals[s] = NULL
        if ln.has & HAS_ATTRS:
            for a in range(ln.nattrs):
                s = self._slot(ln.attrs[a].key)
                if s >= 0:
                    vals[s] = self._value(ln.attrs[a].val.kind, ln.attrs[a].val.num,
                                          ln.attrs[a].val.s)
        try:
            rid = self.rid_fn(<PyObject *> self.matcher, vals)
        finally:
            for s in range(self.nslots):
                Py_XDECREF(vals[s])
        if rid < 0:
            return None
        if not (ln.has & HAS_CROWDS and ln.nlabels):
            if rid < len(self.by_rid):
                found = self.by_rid[rid]
                if found is not None:
                    return <Crowds> found
            else:
                self.by_rid.extend([None] * (rid + 1 - len(self.by_rid)))
            cr = self.by_rid[rid] = self._view(list(self.matcher.crowd_names(rid)))
            return cr
        labels = [span_text(ln.labels[a]) for a in range(ln.nlabels)]
        key = (rid, tuple(labels))
        found = dict_get(self.by_labels, key)
        if found is not None:
            return <Crowds> found
        crowds = list(self.matcher.crowd_names(rid))
        for label in labels:  # crowds_of: then the given labels, each once
            if label not in crowds:
                crowds.append(label)
        if len(self.by_labels) >= MAX_COMBOS:  # outside labels are unbounded (no targeted
            self.by_labels.clear()  # campaign keeps combos, whose bound would clear this)
        cr = self.by_labels[key] = self._view(crowds)
        return cr

    cdef inline int _slot(self, Span key):
        cdef int s
        cdef bytes name
        for s in range(self.nslots):
            name = <bytes> self.slot_keys[s]
            if PyBytes_GET_SIZE(name) == key.n and memcmp(PyBytes_AS_STRING(name), key.p, key.n) == 0:
                return s
        return -1

    cdef PyObject *_value(self, int kind, double num, Span s) except? NULL:
        """A new reference to the Python value json would give an attribute."""
        cdef PyObject *v
        if kind == V_INT:
            return PyLong_FromLongLong(<long long> num)
        if kind == V_FLOAT:
            return PyFloat_FromDouble(num)
        if kind == V_STR:
            return self._text(s)
        v = Py_True if kind == V_TRUE else Py_False if kind == V_FALSE else Py_None
        Py_INCREF_raw(v)
        return v

    cdef PyObject *_text(self, Span s) except NULL:
        """A new reference to the str of an attribute's text: attribute texts repeat (a
        city, a level name), so the same str object comes back, its hash already known. Keyed
        by the text as written: an escaped text's bytes decode to one str too."""
        cdef PyObject *v
        if s.n > 32:
            return _new_text(s)
        cdef TextSlot *e = &self.texts[fnv1a(s) & (TEXT_SLOTS - 1)]
        if e.obj != NULL and e.n == s.n and memcmp(e.text, s.p, s.n) == 0:
            Py_INCREF_raw(e.obj)
            return e.obj
        v = _new_text(s)
        Py_XDECREF(e.obj)
        Py_INCREF_raw(v)
        e.obj, e.n = v, s.n
        memcpy(e.text, s.p, s.n)
        return v

    cdef Crowds _view(self, crowds):
        """A Crowds of the crowds held (None: no crowd is read)."""
        cdef Crowds cr = Crowds()
        cdef Camp camp
        cr.k = None
        if self.targeted:
            key = tuple(crowds)
            found = PyDict_GetItem(self.combos, key)
            cr.k = <Combo> found if found != NULL else self._combo(key, crowds)
        cr.variants = []
        for camp in self.promo:
            variant = camp.base
            if crowds is not None:
                for crowd, v in camp.choices:  # O7: the first segment the consumer is in
                    if crowd in crowds:
                        variant = v
                        break
            cr.variants.append(variant)
        return cr

    # -- offers ---------------------------------------------------------------------------
    cdef Combo _combo(self, key, crowds):
        cdef Combo k = Combo()
        cdef Camp camp
        k.hits, k.camps = [], []
        for camp in self.targeted:
            for crowd, v in camp.choices:  # O1: its first listed crowd held
                if crowd in crowds:
                    k.hits.append((camp.c, v, None))
                    k.camps.append(camp)
                    break
        k.sends, k.skips = self.run._check(k.hits, (set(), [], set()), {})
        k.pieces, k.pieces_b, k.toks, k.n, k.clean = None, None, None, 0, 0
        self.combos[key] = k
        return k

    cdef tuple _offer(self, Camp camp, dict rec, buys, list cart, crowds):
        """(skip reason, items) of a promo privilege (offers.py), then its variant (O7)."""
        cdef double t, lo, at = camp.at
        cdef list items
        why, got = None, None
        if camp.kind == CART:
            if not cart:
                why = "not_in_audience"
            elif len(cart) == 1:
                t, item = cart[0]
                if camp.lo_cart <= t <= at:
                    got = [item]
                else:
                    why = "not_in_audience"
            else:
                lo = camp.lo_cart
                items = list(dict.fromkeys([i for t, i in cart if lo <= t <= at]))
                if items:
                    got = items
                else:
                    why = "not_in_audience"
        elif camp.kind == RECALL or camp.kind == SUPER:
            if camp.kind == SUPER and dict_get(rec, "interested") is not True:
                why = "not_interested"
            elif buys and self._bought(camp, buys):
                why = "purchased"
            elif camp.kind == SUPER and not camp.has_acts:
                why = "no_valid_activity"
        else:
            why, got = camp.offer(camp.c, rec, buys, cart)
        if why is not None:
            return why, None
        variant = camp.base
        for crowd, v in camp.choices:  # O7: the first segment the consumer is in
            if crowd in crowds:
                variant = v
                break
        return None, (camp.c, variant, got)

    cdef bint _bought(self, Camp camp, list buys):
        """O7, O8, O11: a purchase inside the promo window."""
        cdef double lo = camp.lo_window, at = camp.at, t
        for x in buys:
            t = x
            if lo <= t <= at:
                return True
        return False

    cdef tuple _offers(self, list batch):
        """Run._offers: per consumer (id, combination, promo sends) and the skip counts."""
        cdef list offers = [], got
        cdef dict counts = {}, combos = self.combos
        cdef Py_ssize_t outside = 0
        cdef Combo k
        cdef Camp camp
        cdef dict rec
        cdef PyObject *found
        crowds_of, targeted, promo = self.crowds_of, self.targeted, self.promo
        self._fresh_combos()
        for k in combos.values():
            k.n = 0
        for item in batch:
            rec = <dict> item[1]
            crowds = None
            if crowds_of is not None:
                crowds = crowds_of(
                    dict_get(rec, "attrs") or EMPTY, dict_get(rec, "crowds") or NONE_TUPLE
                )
            got, k = [], None
            if targeted:
                key = tuple(crowds)
                found = PyDict_GetItem(combos, key)
                k = <Combo> found if found != NULL else self._combo(key, crowds)
                k.n += 1
            if promo and dict_get(rec, "exclusive") is not True:
                outside += 1
            elif promo:
                for camp in promo:
                    why, send = self._offer(camp, rec, item[2], item[3], crowds)
                    if why is not None:
                        ck = (camp.c, why)
                        counts[ck] = counts.get(ck, 0) + 1
                    else:
                        got.append(send)
            offers.append((rec["consumer"], k, got))
        self._tail_counts(counts, len(batch), outside)
        return offers, counts

    cdef _tail_counts(self, dict counts, Py_ssize_t n, Py_ssize_t outside):
        """The batch's skips of consumers no targeted campaign's crowds hit, and of those
        outside every promo privilege (not exclusive), after the per-consumer ones."""
        cdef Py_ssize_t hit
        cdef Camp camp
        cdef Combo k
        for camp in self.targeted:  # consumers whose crowds hit none of its targets
            hit = 0
            for k in self.combos.values():
                if camp in k.camps:
                    hit += k.n
            if n - hit:
                counts[(camp.c, "not_in_audience")] = n - hit
        if outside:
            for camp in self.promo:
                counts[(camp.c, "not_exclusive")] = outside

    # -- decisions, output, ledger rows ----------------------------------------------------
    def _flush(self, batch):
        """Run._flush: offers outside the ledger's lock, then one atomic step: history,
        decisions, print, record (as Packed rows)."""
        offers, counts = self._offers(batch)
        self._record(
            lambda history: self._decide(offers, history),
            counts,
            [r[1]["consumer"] for r in batch],
        )

    def _record(self, decisions, counts, ids):
        """The atomic step of _flush: `decisions(history)` gives (output, skip counts, Packed
        rows, sends per campaign) of the batch's consumers `ids`."""
        result = []

        def decide(history):
            result[:] = decisions(history)
            return result[2]

        def emit():
            for key, n in result[1].items():
                counts[key] = counts.get(key, 0) + n
            self._emit(result[0], counts, result[3])

        self.ledger.decide_and_record(ids, decide, emit)
        self.run.consumers += len(ids)

    def _lane_record(self, list ids, list views, list extras, dict counts):
        """_record for the lane's batch: a batch of distinct consumers none of whom the
        ledger knows (every consumer of a first run) is decided and printed by _lane_decide;
        any other goes through _decide as the full checks' batches do."""
        cdef Py_ssize_t i
        once = len(set(ids)) == len(ids)

        def decisions(history):
            if once and not history:
                return self._lane_decide(ids, views, extras)
            offers = [
                (ids[i], (<Crowds> views[i]).k, self._got(i, views[i], extras[i]))
                for i in range(len(ids))
            ]
            return self._decide(offers, history)

        self._record(decisions, counts, ids)

    cdef tuple _lane_decide(self, list ids, list views, list extras):
        """_decide of a batch of distinct consumers without history: each takes its crowd
        combination's clean outcome and its promo sends, printed as UTF-8 into the output
        buffer. Pure (a ledger may call it again on retry)."""
        cdef list rows = [], clean = [], promo = self.promo
        cdef dict counts = {}, sent_n = {}
        cdef Py_ssize_t i, j, total = 0, np = len(promo)
        cdef int bits
        cdef Py_ssize_t *sent_j = self.sent_j
        cdef Combo k
        cdef Crowds cr
        cdef str cid
        cdef object text
        if not self.toks_ready:
            self._ready()
        cdef list toks_j = self.toks_j
        for k in self.combos.values():
            k.clean = 0
        memset(sent_j, 0, np * sizeof(Py_ssize_t))
        self.olen = 0
        for i in range(len(ids)):
            cid = <str> ids[i]
            cr = <Crowds> views[i]
            k = cr.k
            text = None
            if k is not None:
                self._take_clean(k, clean)
                if k.sends:
                    if k.pieces_b is None:
                        k.pieces_b = [(<str> p).encode("utf-8") for p in k.pieces]
                    self._putb(<bytes> k.pieces_b[0])
                    for j in range(1, len(k.pieces_b)):
                        self._put_cj(cid)
                        self._putb(<bytes> k.pieces_b[j])
                    text = k.toks
                    total += len(k.sends)
            bits = self.offer_bits[i]
            if bits:
                extra = extras[i]
                for j in range(np):
                    if bits >> j & 1:
                        items = None if extra is None else (<dict> extra).get(j)
                        self._put_send((<Camp> promo[j]).c, cr.variants[j], items, cid)
                        tok = toks_j[j]
                        text = tok if text is None else text + tok
                        sent_j[j] += 1
                        total += 1
            if text is not None:
                rows.append((cid, text))
        for k in clean:  # the clean outcomes, as often as they were taken
            for key, n in k.skips.items():
                counts[key] = counts.get(key, 0) + n * k.clean
            for c, _v, _i in k.sends:
                sent_n[c] = sent_n.get(c, 0) + k.clean
        for j in range(np):
            if sent_j[j]:
                c = (<Camp> promo[j]).c
                sent_n[c] = sent_n.get(c, 0) + sent_j[j]
        return self.obuf[:self.olen], counts, Packed(rows, total), sent_n

    cdef list _got(self, Py_ssize_t i, Crowds cr, extra):
        """The promo sends of consumer i of a lane batch as _decide takes them."""
        cdef Py_ssize_t j
        cdef int bits = self.offer_bits[i]
        cdef list out = []
        for j in range(len(self.promo)):
            if bits >> j & 1:
                items = None if extra is None else (<dict> extra).get(j)
                out.append(((<Camp> self.promo[j]).c, cr.variants[j], items))
        return out

    cdef int _bits_room(self, Py_ssize_t n) except -1:
        cdef int *p
        if n > self.nbits:
            p = <int *> realloc(self.offer_bits, n * sizeof(int))
            if p == NULL:
                raise MemoryError()
            self.offer_bits, self.nbits = p, n
        return 0

    cdef int _put_send(self, c, v, items, str cid) except -1:
        """_print of one promo send, as UTF-8."""
        vb = dict_get(self.vbytes, v)
        if vb is None:
            vb = self.vbytes[v] = (
                (<str> v.head).encode("utf-8"),
                (<str> v.plain_tail).encode("utf-8"),
                (<str> v.items_tail).encode("utf-8"),
            )
        self._putb(<bytes> (<tuple> vb)[0])
        self._put_cj(cid)
        if not items:
            return self._putb(<bytes> (<tuple> vb)[1])
        self._putb(<bytes> (<tuple> vb)[2])
        key = tuple(items)
        ib = dict_get(self.ibytes, key)
        if ib is None:
            if len(self.ibytes) >= 100_000:  # bounded, as items_json's cache
                self.ibytes.clear()
            ib = self.ibytes[key] = (<str> items_json(self.item_json, items)).encode("utf-8")
        self._putb(<bytes> ib)
        ab = dict_get(self.abytes, c)
        if ab is None:
            ab = self.abytes[c] = (<str> c.acts_json).encode("utf-8")
        return self._putb(<bytes> ab)

    cdef int _room(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef char *p
        if self.olen + n <= self.ocap:
            return 0
        cap = max(2 * self.ocap, self.olen + n, 1 << 16)
        p = <char *> realloc(self.obuf, cap)
        if p == NULL:
            raise MemoryError()
        self.obuf, self.ocap = p, cap
        return 0

    cdef inline int _putb(self, bytes b) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
        self._room(n)
        memcpy(self.obuf + self.olen, PyBytes_AS_STRING(b), n)
        self.olen += n
        return 0

    cdef inline int _put_cj(self, str cid) except -1:
        """The JSON of a lane consumer id: printable ASCII without quote or backslash."""
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(cid)
        self._room(n + 2)
        self.obuf[self.olen] = 34  # '"'
        memcpy(self.obuf + self.olen + 1, PyUnicode_1BYTE_DATA(cid), n)
        self.obuf[self.olen + n + 1] = 34
        self.olen += n + 2
        return 0

    cdef _ready(self):
        """The campaigns' ledger tokens (the ledger knows their ids once they are opened)."""
        cdef Camp camp
        self.tok_of = {}
        for camp in self.camps:
            self.tok_of[camp.c] = self.ledger.packed_send(camp.c.name, camp.c.channel, camp.c.at)
        self.toks_j = [self.tok_of[camp.c] for camp in self.promo]
        self.toks_ready = True

    cdef str _tokens(self, list sends):
        cdef dict tok = self.tok_of
        return "".join([tok[s[0]] for s in sends])

    cdef _take_clean(self, Combo k, list clean):
        """A consumer takes k's clean outcome: counted (`clean` lists the combinations taken
        in the batch), its output pieces and ledger tokens made the first time."""
        if not k.clean:
            clean.append(k)
        k.clean += 1
        if k.sends and k.pieces is None:
            k.pieces, k.toks = self._pieces(k.sends), self._tokens(k.sends)

    cdef list _pieces(self, list sends):
        """cj.join(pieces) prints `sends` (no items) of consumer id JSON cj."""
        cdef list out = []
        tail = ""
        for c, v, _items in sends:
            out.append(tail + v.head)
            tail = v.plain_tail
        out.append(tail)
        return out

    cdef _decide(self, list offers, dict history):
        """Run._decide, printing as it goes: (output text, skip counts, Packed rows, sends
        per campaign). Pure given `history` (a ledger may call it again on retry)."""
        cdef list parts = [], rows = [], mine, clean = []
        cdef dict counts = {}, seen = {}, per = {}, sent_n = {}
        cdef Combo k
        cdef Py_ssize_t total = 0
        cdef str cid, text
        if not self.toks_ready:
            self._ready()
        cdef dict tok_of = self.tok_of
        run = self.run
        cdef bint once = len({o[0] for o in offers}) == len(offers)
        for k in self.combos.values():
            k.clean = 0
        for cid, k, got in offers:
            cj = '"' + cid + '"' if plain_ascii(cid) else json_str(cid)
            if once and not PyDict_Contains(history, cid):
                text = ""
                if k is not None:
                    self._take_clean(k, clean)
                    if k.sends:
                        parts.append(PyUnicode_Join(cj, k.pieces))
                        text = k.toks
                        total += len(k.sends)
                if got:
                    self._print(parts, got, cj)
                    for s in got:
                        c = s[0]
                        text += <str> tok_of[c]
                        sent_n[c] = sent_n.get(c, 0) + 1
                    total += len(got)
                if text:
                    rows.append((cid, text))
                continue
            st = dict_get(seen, cid)
            if st is None:
                h = dict_get(history, cid)
                st = seen[cid] = run._history(h) if h else (set(), [], set())
            mine = run._check((k.hits if k is not None else []) + got, st, counts)[0]
            if mine:
                self._print(parts, mine, cj)
                text = self._tokens(mine)
                prev = dict_get(per, cid)
                if prev is None:
                    per[cid] = len(rows)
                    rows.append((cid, text))
                else:
                    rows[prev] = (cid, rows[prev][1] + text)
                total += len(mine)
                for s in mine:
                    sent_n[s[0]] = sent_n.get(s[0], 0) + 1
        for k in clean:  # the clean outcomes, as often as they were taken
            for key, n in k.skips.items():
                counts[key] = counts.get(key, 0) + n * k.clean
            for c, _v, _i in k.sends:
                sent_n[c] = sent_n.get(c, 0) + k.clean
        return "".join(parts), counts, Packed(rows, total), sent_n

    cdef _print(self, list parts, list sends, cj):
        cdef dict item_json = self.item_json
        for c, v, items in sends:
            if items:
                ij = items_json(item_json, items)
                parts.append(f"{v.head}{cj}{v.items_tail}{ij}{c.acts_json}")
            else:
                parts += (v.head, cj, v.plain_tail)

    cdef _emit(self, data, dict counts, dict sent_n):
        """Run._emit: skips and sends counted on the campaigns, the batch printed (`data`:
        text from _decide, UTF-8 bytes from _lane_decide; `out` gets what it takes)."""
        for (c, why), n in counts.items():
            c.skips[why] = c.skips.get(why, 0) + n
        for c, n in sent_n.items():
            c.sends[c.channel] = c.sends.get(c.channel, 0) + n
        if self.binary:
            self.out.write(data if type(data) is bytes else (<str> data).encode("utf-8"))
        else:
            self.out.write(data if type(data) is str else (<bytes> data).decode("utf-8"))
        self.out.flush()
