"""Pure-Python R5 matcher (twin of _matcher.pyx): value→group rows and class-cached predicates.

How it works (the Cython matcher reads the same plan):
- every tree value of every dimension becomes a group row already masked by the dimension's
  bound groups, so R5 narrowing is `hits = cand & row`; a row is an int bitset when dense and
  a frozenset of indices when sparse (rulec/matching/rows.py: cost linear in the groups);
- the crowd predicates and the intent predicates form two predicate sets. Each set reads a few
  attribute slots. For each slot the value is reduced to a *class*: the id of the truth vector
  of every leaf (comparison, in, contains...) that reads the slot. Numbers are classed by their
  position among the slot's numeric literals (exact bisect), strings through a memo, bools,
  missing and other kinds by kind. Two values of one class make every predicate of the set
  agree, so the set's result (which crowds hold, and their group bitset) is cached by the tuple
  of slot classes, and a chat usually costs a few dict lookups.
The columnar entry point is described in rulec/matching/matcher.py.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from rulec.common.vocab import DIMS
from rulec.matching import rows as R
from rulec.matching.reference import Body, Chat, Expr, check_chat
from rulec.matching.rows import Row

Test = Callable[[Any], bool]  # a leaf's test of one attribute value
EnvTest = Callable[[dict[str, Any]], bool]  # a predicate over an environment (attrs)
Getter = Callable[[int], Any]  # row i of a column: its value, or None when missing

MEMO_MAX = 1 << 16  # distinct strings remembered per slot before the memo is cleared
CACHE_MAX = 1 << 20  # class tuples remembered per predicate set before the cache is cleared
EXACT = 1 << 53  # ints up to this magnitude are exact as C doubles
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EMPTY: dict[str, Any] = {}


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same_kind(v: object, lit: object) -> bool:
    if isinstance(lit, bool):
        return isinstance(v, bool)
    if isinstance(lit, str):
        return isinstance(v, str)
    return _is_num(v)


def _cmp_fn(op: str, lit: Any) -> Test:
    f = _OPS[op]
    if isinstance(lit, bool) and op not in ("==", "!="):
        return lambda v: False
    return lambda v: _same_kind(v, lit) and f(v, lit)


def _in_fn(lits: Iterable[Any]) -> Test:
    tests = [_cmp_fn("==", x) for x in lits]
    return lambda v: any(t(v) for t in tests)


def _contains_fn(strs: Sequence[str]) -> Test:
    def test(v: Any) -> bool:
        if isinstance(v, str):
            return any(s in v for s in strs)
        if isinstance(v, (list, tuple)):
            members = {x for x in v if isinstance(x, str)}
            return any(s in members for s in strs)
        return False

    return test


def leaf(expr: Expr) -> tuple[str, Test]:
    """(attribute, value -> bool) for a leaf form. `not_in` is a leaf of its own, false on a
    missing value like every atom (semantics.md, "Settled readings"), not `not` of `in`."""
    op = expr[0]
    if op == "cmp":
        return expr[2], _cmp_fn(expr[1], expr[3])
    if op == "in":
        return expr[1], _in_fn(expr[2])
    if op == "not_in":
        is_in = _in_fn(expr[2])
        return expr[1], lambda v: v is not None and not is_in(v)
    if op == "contains":
        return expr[1], _contains_fn([expr[2]])
    if op == "contains_any":
        return expr[1], _contains_fn(list(expr[2]))
    raise ValueError(f"unknown predicate form {op!r}")


def compile_expr(expr: Expr, leaves: list[tuple[str, Expr]]) -> EnvTest:
    """A closure env -> bool for EXPR; every leaf met is appended to `leaves` as (attr, expr)."""
    op = expr[0]
    if op == "const":
        val = bool(expr[1])
        return lambda env: val
    if op in ("and", "or"):
        subs = [compile_expr(e, leaves) for e in expr[1]]
        if op == "and":
            return lambda env: all(f(env) for f in subs)
        return lambda env: any(f(env) for f in subs)
    if op == "not":
        sub = compile_expr(expr[1], leaves)
        return lambda env: not sub(env)
    attr, test = leaf(expr)
    leaves.append((attr, expr))
    get = operator.methodcaller("get", attr)
    return lambda env: test(get(env))


OP_LEAF, OP_CONST, OP_NOT, OP_AND, OP_OR = range(5)


def program(expr: Expr, leaf_pos: dict[tuple[str, str], int], code: list[int]) -> list[int]:
    """Postfix code of EXPR over leaf truths (what the Cython matcher runs on a cache miss)."""
    op = expr[0]
    if op == "const":
        code += [OP_CONST, int(bool(expr[1]))]
    elif op in ("and", "or"):
        for e in expr[1]:
            program(e, leaf_pos, code)
        code += [OP_AND if op == "and" else OP_OR, len(expr[1])]
    elif op == "not":
        program(expr[1], leaf_pos, code)
        code.append(OP_NOT)
    else:
        attr = expr[2] if op == "cmp" else expr[1]
        code += [OP_LEAF, leaf_pos[(attr, repr(expr))]]
    return code


def _numbers(expr: Expr) -> list[int | float]:
    if expr[0] == "cmp":
        lits = [expr[3]]
    elif expr[0] in ("in", "not_in"):
        lits = expr[2]
    else:
        return []
    return [x for x in lits if _is_num(x) and x == x]


class PredSet:
    """A family of predicates (crowds over attrs, or intents over attrs + message)."""

    def __init__(
        self,
        preds: list[dict[str, Any]],
        rows: dict[Any, Row],
        message_slot: bool,
        n_groups: int,
    ) -> None:
        self.n_groups = n_groups
        self.names = [p["name"] for p in preds]
        self.rows = [rows.get(n, 0) for n in self.names]
        leaves: list[tuple[str, Expr]] = []
        self.funcs = [compile_expr(p["expr"], leaves) for p in preds]
        by_attr: dict[str, dict[str, Expr]] = {}
        for attr, expr in leaves:
            by_attr.setdefault(attr, {})[repr(expr)] = expr
        self.slot_names = list(by_attr)
        self.is_message = [message_slot and a == "message" for a in self.slot_names]
        self.leaves = [[leaf(e)[1] for e in by_attr[a].values()] for a in self.slot_names]
        leaf_pos: dict[tuple[str, str], int] = {}
        self.offsets: list[int] = []
        for a in self.slot_names:
            self.offsets.append(len(leaf_pos))
            for r in by_attr[a]:
                leaf_pos[(a, r)] = len(leaf_pos)
        self.n_leaves = len(leaf_pos)
        self.programs = [program(p["expr"], leaf_pos, []) for p in preds]
        self.thresholds: list[list[int | float]] = []
        self.fast: list[bool] = []
        for a in self.slot_names:
            nums = {x for e in by_attr[a].values() for x in _numbers(e)}
            ts = sorted(nums)
            self.thresholds.append(ts)
            self.fast.append(all(isinstance(t, float) or -EXACT <= t <= EXACT for t in ts))
        k = len(self.slot_names)
        # per slot: leaf truth mask -> class id, class id -> mask, and the memos of classify()
        # (string value -> class id, value class key -> class id)
        self.vec_ids: list[dict[int, int]] = [{} for _ in range(k)]
        self.vec_masks: list[list[int]] = [[] for _ in range(k)]
        self.str_memo: list[dict[object, int]] = [{} for _ in range(k)]
        self.key_memo: list[dict[object, int]] = [{} for _ in range(k)]
        self._slots = [
            (s, a, m, self.str_memo[s], self.key_memo[s], self.thresholds[s])
            for s, (a, m) in enumerate(zip(self.slot_names, self.is_message))
        ]
        self.cache: dict[tuple[int, ...], int] = {}
        self.results: list[tuple[Row, tuple[str, ...]]] = []  # result id -> (row, names held)
        self.result_ids: dict[tuple[str, ...], int] = {}  # names held -> result id

    def vec_id(self, s: int, v: Any) -> int:
        """The class of value `v` in slot `s`: the id of its leaf truth vector."""
        mask = 0
        for i, f in enumerate(self.leaves[s]):
            if f(v):
                mask |= 1 << i
        ids = self.vec_ids[s]
        r = ids.get(mask)
        if r is None:
            r = ids[mask] = len(ids)
            self.vec_masks[s].append(mask)
        return r

    def classify(self, s: int, v: Any) -> int:
        if isinstance(v, str):
            memo = self.str_memo[s]
            r = memo.get(v)
            if r is None:
                if len(memo) >= MEMO_MAX:
                    memo.clear()
                r = memo[v] = self.vec_id(s, v)
            return r
        key: str | bool | int  # the value's class: a kind, a bool, or a threshold interval
        if v is None:
            key = "missing"
        elif isinstance(v, bool):
            key = v
        elif isinstance(v, (int, float)):
            if v != v:
                key = "nan"
            else:
                ts = self.thresholds[s]
                p = bisect_left(ts, v)
                key = 2 * p + (p < len(ts) and ts[p] == v) + 2
        elif isinstance(v, (list, tuple)):
            return self.vec_id(s, v)
        else:
            key = "other"
        memo = self.key_memo[s]
        r = memo.get(key)
        if r is None:
            r = memo[key] = self.vec_id(s, v)
        return r

    def result_for(self, env: dict[str, Any]) -> int:
        """Evaluate every predicate over `env`; the id of (group bitset, holding names)."""
        held = bytes(1 if f(env) else 0 for f in self.funcs)
        return self.result_of_held(held)

    def result_of_held(self, held: bytes) -> int:
        """Result id for a byte string of predicate truths (one byte per predicate)."""
        names = tuple(n for n, h in zip(self.names, held) if h)
        rid = self.result_ids.get(names)
        if rid is None:
            row = R.union((r for r, h in zip(self.rows, held) if h), self.n_groups)
            rid = self.result_ids[names] = len(self.results)
            self.results.append((row, names))
        return rid

    def env(self, attrs: dict[str, Any], message: Any) -> dict[str, Any]:
        if True in self.is_message:
            env = dict(attrs)
            env["message"] = message
            return env
        return attrs

    def lookup(self, attrs: dict[str, Any], message: Any = None) -> int:
        """Result id for a buyer's attrs (and message, for intents), through the class cache."""
        classes = []
        for s, a, m, memo, kmemo, ts in self._slots:
            v: Any = message if m else attrs.get(a)  # any JSON value
            t = type(v)
            r = None
            if t is str:  # the common kinds inline the memo lookups of classify()
                r = memo.get(v)
            elif (t is int or t is float) and v == v:
                p = bisect_left(ts, v)
                r = kmemo.get(2 * p + (p < len(ts) and ts[p] == v) + 2)
            classes.append(self.classify(s, v) if r is None else r)
        key = tuple(classes)
        rid = self.cache.get(key)
        if rid is None:
            if len(self.cache) >= CACHE_MAX:
                self.cache.clear()
            rid = self.cache[key] = self.result_for(self.env(attrs, message))
        return rid


def _label_list(names: tuple[str, ...], labels: Iterable[str]) -> list[str]:
    out = list(names)
    for label in labels:
        if label not in out:
            out.append(label)
    return out


def packed_names(names: list[str]) -> list[str]:
    """Copies of the group names made one after another, so they lie side by side in memory.

    Every result list holds references to these strings, and building or freeing one touches
    each string's reference count. The names a table body decodes to are spread among the
    rest of the body (about 830 bytes apart at 100,000 groups: 83 MB for 100,000 names, far
    beyond the caches and the TLB), so at large sizes each reference cost a cache miss and the
    warm match cost grew faster than the results it built; packed, 100,000 names take 5.6 MB.
    """
    # the originals stay alive until every copy is made, so no copy reuses a freed slot
    return [n.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") for n in names]


class PyMatcher:
    """R5 over a table body with group rows (int bitsets or index sets: rows.py), any size."""

    implementation = "python"

    def __init__(self, body: Body) -> None:
        groups = body["groups"]
        self.group_names = packed_names([g["name"] for g in groups])
        self.n = len(groups)
        self.all = (1 << self.n) - 1
        tree = body["tree"]
        self.values: dict[str, list[Any]] = {}  # dim -> values; code = position + 1 (0: none)
        self.codes: dict[str, dict[Any, int]] = {}  # dim -> {value: code}
        self.row_list: dict[str, list[Row]] = {}  # dim -> [row], indexed by code
        self.rows: dict[str, dict[Any, Row]] = {}  # dim -> {value: row}
        n = self.n
        for d in DIMS:
            bound = R.bitmap(R.bits(tree["bound"][d]))
            index = tree["index"][d]
            vals = list(index)
            self.values[d] = vals
            self.codes[d] = {v: i + 1 for i, v in enumerate(vals)}
            self.row_list[d] = [0, *(R.make(R.within(index[v], bound), n) for v in vals)]
            self.rows[d] = dict(zip(vals, self.row_list[d][1:]))
        self.crowd = PredSet(body["crowds"], self.rows["crowd"], False, n)
        self.intent = PredSet(body["intents"], self.rows["intent"], True, n)
        self._out: dict[Row, tuple[str, ...]] = {}
        self._outcomes: list[tuple[str, ...]] = []
        self._outcome_ids: dict[Row, int] = {}  # candidate row -> outcome id
        # member indices -> outcome id (an int and a set may agree)
        self._canonical: dict[tuple[int, ...], int] = {}

    # one chat ------------------------------------------------------------------------
    def candidates(self, chat: Chat) -> Row:
        """The R5 candidate row for one chat dict."""
        if type(chat) is not dict:
            check_chat(chat)
        attrs = chat.get("attrs")
        if attrs is None:
            attrs = _EMPTY
        elif type(attrs) is not dict:
            check_chat(chat)
        message = chat.get("message")
        if message is not None and type(message) is not str:
            check_chat(chat)
        rows = self.rows
        crow = self.crowd.results[self.crowd.lookup(attrs)][0]
        labels = chat.get("crowds")
        if labels is not None and type(labels) is not list:
            check_chat(chat)
        if labels:
            cr = rows["crowd"]
            for label in labels:
                if type(label) is not str:
                    check_chat(chat)
            crow = R.union([crow] + [cr.get(label, 0) for label in labels], self.n)
        irow = self.intent.results[self.intent.lookup(attrs, message)][0]
        for f in ("intent", "product", "order"):
            v = chat.get(f)
            if v is not None and type(v) is not str:
                check_chat(chat)
        label = chat.get("intent")
        if label is not None:
            irow = R.union((irow, rows["intent"].get(label, 0)), self.n)
        prod = chat.get("product")
        prow = rows["product"].get(prod, 0) if prod is not None else 0
        order = chat.get("order")
        orow = rows["order"].get(order, 0) if order is not None else 0
        return self._narrow(crow, prow, irow, orow)

    def _narrow(self, *rows: Row) -> Row:
        """R5: narrow every group by each non-empty row in turn, keeping a non-empty result."""
        cand: Row = self.all
        for row in rows:
            if row:
                if cand is self.all:  # every row is a subset of all
                    cand = row
                    continue
                hits = cand & row if type(cand) is int and type(row) is int else R.both(cand, row)
                if hits:
                    cand = hits
        return cand

    def _names(self, cand: Row) -> tuple[str, ...]:
        names = self._out.get(cand)
        if names is None:
            gn = self.group_names
            names = tuple(gn[i] for i in R.members(cand))
            if len(self._out) >= CACHE_MAX:
                self._out.clear()
            self._out[cand] = names
        return names

    def match(self, chat: Chat) -> list[str]:
        return list(self._names(self.candidates(chat)))

    def match_many(self, chats: Iterable[Chat]) -> list[list[str]]:
        names, cands = self._names, self.candidates
        return [list(names(cands(c))) for c in chats]

    def match_indices(self, chat: Chat) -> list[int]:
        return R.members(self.candidates(chat))

    def match_outcome(self, chat: Chat) -> int:
        """The outcome id of one chat's R5 candidates (an index of outcomes())."""
        return self.outcome_id(self.candidates(chat))

    def crowds_of(self, attrs: dict[str, Any] | None, labels: Iterable[str] = ()) -> list[str]:
        labels = list(labels)
        check_chat({"attrs": attrs, "crowds": labels})
        return self.crowds_of_trusted(attrs, labels)

    def crowds_of_trusted(
        self, attrs: dict[str, Any] | None, labels: Iterable[str] = ()
    ) -> list[str]:
        """crowds_of without the E840 type checks, for callers that already made them (attrs
        a dict or None, labels a list/tuple of strings): the planner's audience parser."""
        ps = self.crowd
        return _label_list(ps.results[ps.lookup(attrs or _EMPTY)][1], labels)

    def intents_of(
        self, message: Any, attrs: dict[str, Any] | None, label: str | None = None
    ) -> list[str]:
        check_chat({"attrs": attrs, "message": message, "intent": label})
        ps = self.intent
        names = ps.results[ps.lookup(attrs or _EMPTY, message)][1]
        return _label_list(names, [label] if label is not None else [])

    # columns -------------------------------------------------------------------------
    def code(self, dim: str, value: Any) -> int:
        """The columnar code of a dimension value (0 when the table does not know it)."""
        return self.codes[dim].get(value, 0)

    def outcomes(self) -> list[tuple[str, ...]]:
        """Outcome id -> tuple of candidate group names (ids from match_columns)."""
        return list(self._outcomes)

    def outcome_id(self, cand: Row) -> int:
        """The outcome id of a candidate row."""
        oid = self._outcome_ids.get(cand)
        if oid is None:
            oid = self._outcome_ids[cand] = self.outcome_of(tuple(R.members(cand)))
        return oid

    def outcome_of(self, indices: tuple[int, ...]) -> int:
        """The outcome id of ascending candidate group indices (one id per candidate set)."""
        oid = self._canonical.get(indices)
        if oid is None:
            oid = self._canonical[indices] = len(self._outcomes)
            self._outcomes.append(tuple(self.group_names[i] for i in indices))
        return oid

    def match_columns(
        self,
        n: int,
        product: Any = None,
        order: Any = None,
        intent: Any = None,
        crowd: Any = None,
        columns: dict[str, Any] | None = None,
        out: Any = None,
    ) -> Any:
        """Columnar R5 (see rulec.matching.matcher); fills and returns `out` with outcome ids."""
        if n < 0:
            _bad_col("n", "must be >= 0")
        if out is None:
            from array import array

            out = array("i", bytes(4 * n))
        _check_out(out, n)
        dims, cols = read_columns(self, n, product, order, intent, crowd, columns)
        rl = self.row_list
        for i in range(n):
            attrs: dict[str, Any] = {}
            for name, get in cols.items():
                v = get(i)
                if v is not None:
                    attrs[name] = v
            message = attrs.pop("message", None)
            crow = self.crowd.results[self.crowd.lookup(attrs)][0]
            irow = self.intent.results[self.intent.lookup(attrs, message)][0]
            label = rl["crowd"][dims["crowd"][i]]
            if label:
                crow = R.union((crow, label), self.n)
            label = rl["intent"][dims["intent"][i]]
            if label:
                irow = R.union((irow, label), self.n)
            prow, orow = rl["product"][dims["product"][i]], rl["order"][dims["order"][i]]
            out[i] = self.outcome_id(self._narrow(crow, prow, irow, orow))
        return out


INT32 = ("i", "l")  # buffer formats of 4-byte ints ("l" is 4 bytes on LLP64 platforms)


def _bad_col(name: str, msg: str) -> NoReturn:
    """Raise the InputError (E841) for a bad columnar input, in the Cython twin's words."""
    from rulec.errors import InputError, diag

    raise InputError([diag("E841", f"column {name!r}: {msg}")])


def _view(col: Any, formats: tuple[str, ...], size: int) -> memoryview | None:
    """col as a memoryview when it is a buffer of one of `formats` with `size`-byte items."""
    try:
        mv = memoryview(col)
    except TypeError:  # not a buffer at all (a list...)
        return None
    return mv if mv.format in formats and mv.itemsize == size else None


def _rows(mv: memoryview | None, name: str, n: int, what: str) -> memoryview:
    """mv when it holds n rows or more; E841 saying what the column must be when it is None."""
    if mv is None:
        _bad_col(name, what)
    if len(mv) < n:
        _bad_col(name, f"has {len(mv)} rows, expected {n}")
    return mv


def _column_getter(name: str, col: Any, n: int) -> Getter:
    if isinstance(col, tuple):
        if len(col) != 2:
            _bad_col(name, "a value column is (codes, vocabulary)")
        codes = _rows(_view(col[0], INT32, 4), name, n, "codes must be an int32 buffer")
        vocab = list(col[1])
        for c in codes[:n]:
            if c >= len(vocab):
                _bad_col(name, f"code {c} is outside the vocabulary")
        # -1 marks a missing value; like the Cython twin, any negative code does
        return lambda i: vocab[codes[i]] if codes[i] >= 0 else None
    floats = _view(col, ("d",), 8)
    if floats is not None:
        fv = _rows(floats, name, n, "")
        return lambda i: None if fv[i] != fv[i] else fv[i]
    what = "use a float64 or int64 buffer, or (int32 codes, vocabulary)"
    iv = _rows(_view(col, ("q", "l"), 8), name, n, what)
    return lambda i: iv[i]


def _check_out(out: Any, n: int) -> None:
    mv = _view(out, INT32, 4)
    usable = mv is not None and not mv.readonly and mv.c_contiguous  # as the Cython twin's view
    _rows(mv if usable else None, "out", n, "must be a writable int32 buffer")


def read_columns(
    m: PyMatcher,
    n: int,
    product: Any,
    order: Any,
    intent: Any,
    crowd: Any,
    columns: dict[str, Any] | None,
) -> tuple[dict[str, Sequence[int]], dict[str, Getter]]:
    """Check columnar inputs; (dim -> code sequence, attr -> getter(i) -> value or None)."""
    dims: dict[str, Sequence[int]] = {}
    for d, col in (("crowd", crowd), ("product", product), ("intent", intent), ("order", order)):
        if col is None:
            dims[d] = [0] * n
            continue
        codes = _rows(_view(col, INT32, 4), d, n, "codes must be an int32 buffer")
        top = len(m.values[d])
        for c in codes[:n]:
            if not 0 <= c <= top:
                _bad_col(d, f"code {c} is not a code of this table")
        dims[d] = codes
    # only the columns a predicate reads are read (and checked), as by the Cython twin
    read = {*m.crowd.slot_names, *m.intent.slot_names}
    given = (columns or {}).items()
    cols = {name: _column_getter(name, col, n) for name, col in given if name in read}
    return dims, cols
