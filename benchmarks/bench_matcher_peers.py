"""Peer predicate engines (rule-engine, cel-python, zen-engine) driving the same R5 narrowing.

Each peer compiles every crowd and intent predicate once (the EXPR translated to its language,
with explicit missing-value guards) and evaluates them per chat; the narrowing is the
hand-written baseline's. Used by bench_matcher.py only, after an identical-answers check.
"""

from __future__ import annotations

import json

from benchmarks.bench_matcher_baseline import HandMatcher


def _lit(x, number_type=None):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)) and number_type == "number":
        return repr(float(x))
    return json.dumps(x, ensure_ascii=False)


def translate(expr, dialect: str, types: dict) -> str:
    """EXPR as rule-engine ("re"), CEL ("cel") or ZEN ("zen") source."""
    op = expr[0]
    AND, OR = ("&&", "||") if dialect == "cel" else ("and", "or")
    NOT = "!" if dialect == "cel" else "not "
    if op == "const":
        return "true" if expr[1] else "false"
    if op in ("and", "or"):
        j = AND if op == "and" else OR
        return "(" + f" {j} ".join(translate(e, dialect, types) for e in expr[1]) + ")"
    if op == "not":
        return f"({NOT}{translate(expr[1], dialect, types)})"
    attr = expr[2] if op == "cmp" else expr[1]
    var = f"a.{attr}" if dialect == "cel" else attr
    have = f'"{attr}" in a' if dialect == "cel" else f"{attr} != null"
    if op == "cmp":
        return f"({have} {AND} {var} {expr[1]} {_lit(expr[3], types.get(attr))})"
    if op in ("in", "not_in"):
        lits = ", ".join(_lit(x, types.get(attr)) for x in expr[2])
        test = f"({have} {AND} {var} in [{lits}])"
        return test if op == "in" else f"({NOT}{test})"
    words = [expr[2]] if op == "contains" else expr[2]
    if dialect == "cel":
        tests = [f"{var}.contains({_lit(w)})" for w in words]
    elif dialect == "zen":
        tests = [f"contains({var}, {_lit(w)})" for w in words]
    else:
        tests = [f"{_lit(w)} in {var}" for w in words]
    return f"({have} {AND} (" + f" {OR} ".join(tests or ["false"]) + "))"


def _compiler(dialect):
    if dialect == "re":
        import rule_engine

        ctx = rule_engine.Context(default_value=None)
        return lambda text: rule_engine.Rule(text, context=ctx).matches
    if dialect == "cel":
        import celpy

        env = celpy.Environment()

        def cel(text):
            prog = env.program(env.compile(text))
            return lambda act: bool(prog.evaluate(act))

        return cel
    import zen

    return lambda text: zen.compile_expression(text).evaluate


class PeerMatcher(HandMatcher):
    """HandMatcher whose predicates run on a peer engine."""

    def __init__(self, body: dict, dialect: str):
        super().__init__(body)
        types = body["attributes"]
        comp = _compiler(dialect)
        self.dialect = dialect
        self.crowd_preds = [
            (comp(translate(p["expr"], dialect, types)), self.rows["crowd"].get(p["name"], 0))
            for p in body["crowds"]
        ]
        self.intent_preds = [
            (comp(translate(p["expr"], dialect, types)), self.rows["intent"].get(p["name"], 0))
            for p in body["intents"]
        ]
        self.crowd_row = self._family(self.crowd_preds, False)
        self.intent_row = self._family(self.intent_preds, True)

    def _activation(self, attrs, msg, with_message):
        env = dict(attrs)
        if with_message:
            env["message"] = msg
        elif "message" in env:
            del env["message"]
        if self.dialect == "cel":
            import celpy

            return {"a": celpy.json_to_cel({k: v for k, v in env.items() if v is not None})}
        return env

    def _family(self, preds, with_message):
        def row(attrs, msg):
            act = self._activation(attrs, msg, with_message)
            r = 0
            for f, bits in preds:
                if f(act):
                    r |= bits
            return r

        return row
