"""The strongest plain-Python R5 matcher a careful engineer writes by hand (benchmark baseline only).

The crowd and intent predicates become Python source (one function per family, each attribute
read once, `is not None` guards for missing values, frozensets for `in`), compiled with
compile()/exec - acceptable here because it is our own generated code from the benchmark
workload, never user input. Dimension values map to int bitmasks; the candidate names are
cached per bitmask. It assumes well-typed chats (no bools where numbers are expected), which
holds for the workload; its answers are checked against the matcher on a sample.
"""

from __future__ import annotations

DIMS = ("crowd", "product", "intent", "order")


def _src(expr, consts: list) -> str:
    op = expr[0]
    if op == "const":
        return repr(bool(expr[1]))
    if op in ("and", "or"):
        return "(" + f" {op} ".join(_src(e, consts) for e in expr[1]) + ")"
    if op == "not":
        return f"(not {_src(expr[1], consts)})"
    if op == "cmp":
        var = "v_" + expr[2]
        return f"({var} is not None and {var} {expr[1]} {expr[3]!r})"
    var = "v_" + expr[1]
    if op in ("in", "not_in"):
        consts.append(frozenset(expr[2]))
        if op == "not_in":  # R5 atoms are false on a missing value, `not in` included
            return f"({var} is not None and {var} not in K{len(consts) - 1})"
        return f"({var} in K{len(consts) - 1})"
    words = [expr[2]] if op == "contains" else list(expr[2])
    return "(" + var + " is not None and (" + " or ".join(f"{w!r} in {var}" for w in words) + "))"


def _attrs(expr, out: set):
    if expr[0] in ("and", "or"):
        for e in expr[1]:
            _attrs(e, out)
    elif expr[0] == "not":
        _attrs(expr[1], out)
    elif expr[0] == "cmp":
        out.add(expr[2])
    elif expr[0] != "const":
        out.add(expr[1])
    return out


def _family(name, preds, rows, message: bool):
    consts: list = []
    attrs = sorted({a for p in preds for a in _attrs(p["expr"], set())} - {"message"})
    lines = [f"def {name}(a, msg):", "    r = 0"]
    lines += [f"    v_{x} = a.get({x!r})" for x in attrs]
    if message:
        lines.append("    v_message = msg")
    for p in preds:
        row = rows.get(p["name"], 0)
        if row:
            lines.append(f"    if {_src(p['expr'], consts)}: r |= {row}")
    lines.append("    return r")
    ns = {f"K{i}": c for i, c in enumerate(consts)}
    exec(compile("\n".join(lines), f"<baseline {name}>", "exec"), ns)  # our own generated code
    return ns[name]


class HandMatcher:
    """R5 with generated predicate functions and int bitmasks."""

    def __init__(self, body: dict):
        tree = body["tree"]
        self.names = [g["name"] for g in body["groups"]]
        self.all = (1 << len(self.names)) - 1
        self.rows = {}
        for d in DIMS:
            bound = sum(1 << i for i in tree["bound"][d])
            self.rows[d] = {
                v: sum(1 << i for i in ix) & bound for v, ix in tree["index"][d].items()
            }
        self.crowd_row = _family("crowd_row", body["crowds"], self.rows["crowd"], False)
        self.intent_row = _family("intent_row", body["intents"], self.rows["intent"], True)
        self.out: dict = {}

    def match(self, chat: dict) -> list:
        a = chat.get("attrs") or {}
        rows = self.rows
        crow = self.crowd_row(a, None)
        labels = chat.get("crowds")
        if labels:
            cr = rows["crowd"]
            for label in labels:
                crow |= cr.get(label, 0)
        irow = self.intent_row(a, chat.get("message"))
        label = chat.get("intent")
        if label is not None:
            irow |= rows["intent"].get(label, 0)
        cand = self.all
        for row in (
            crow,
            rows["product"].get(chat.get("product"), 0),
            irow,
            rows["order"].get(chat.get("order"), 0),
        ):
            if row:
                hits = cand & row
                if hits:
                    cand = hits
        names = self.out.get(cand)
        if names is None:
            names = self.out[cand] = tuple(n for i, n in enumerate(self.names) if cand >> i & 1)
        return list(names)

    def match_many(self, chats) -> list:
        m = self.match
        return [m(c) for c in chats]
