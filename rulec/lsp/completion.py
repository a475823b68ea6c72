"""Completion: the keywords that may stand at the cursor, the names declared in the file and the
enum values (order states, modes, kinds, ...) of the setting being written, for both surfaces."""

from __future__ import annotations

import re

from rulec.common import vocab
from rulec.compiler import frontend_rules as fr
from rulec.compiler import frontend_yaml as fy
from rulec.compiler import model as m
from rulec.compiler.frontend_yaml_tests import CHAT_KEYS
from rulec.lsp.incremental import STATEMENT_WORDS

SWITCH = ("on", "off")
PREDICATE_WORDS = ("and", "or", "not", "in", "contains", "contains_any", "true", "false")
STATEMENTS = fr.STATEMENT_WORDS
CAMPAIGN_ITEMS = tuple(
    k for k in fy.CAMPAIGN_KEYS if k not in ("name", "kind", "targets", "segments")
)
# Block words of .rules -> the items each block takes (the YAML frontend's key tables).
BLOCK_ITEMS = {
    "routing": fy.ROUTING_KEYS,
    "outreach": fy.OUTREACH_KEYS,
    "group": fy.GROUP_KEYS,
    "facts": m.FACT_KEYS,
    "campaign": CAMPAIGN_ITEMS + ("target", "segment"),
    "target": ("copy", "coupon"),
    # tests (docs/language.md, "test")
    "test": ("seed", "now", "agent", "contact", "chat", "activity", "consumer"),
    "chat": tuple(k for k in CHAT_KEYS if k not in ("buyer", "time")),
    "consumer": ("attrs", "crowds", "exclusive", "interested", "cart", "purchase", "expect"),
}
# A word -> what may follow it: a tuple of values, or a kind of declared name.
FOLLOWERS = {
    "when_nobody_online": vocab.NOBODY_TARGETS,
    "robot_first": SWITCH,
    "exclusive_direct": SWITCH,
    "drain_pool": SWITCH,
    "robot": SWITCH,
    "sticky": fy.STICKY_KEYS,
    "order": vocab.ORDER_STATES,
    "mode": vocab.MODES,
    "conversion": vocab.STRENGTHS,
    "grants": vocab.GRANTS,
    "agents": "agent",
    "crowd": "crowd",
    "intent": "intent",
    "product": "product",
    "promo": "promo",
    "target": "crowd",
    "segment": "crowd",
}
YAML_KEYS = {
    (): fy.TOP_KEYS,
    ("routing",): fy.ROUTING_KEYS,
    ("routing", "sticky"): fy.STICKY_KEYS,
    ("outreach",): fy.OUTREACH_KEYS,
    ("facts",): m.FACT_KEYS,
    ("groups", "*"): fy.GROUP_KEYS,
    ("agents", "*"): fy.AGENT_KEYS,
    ("promos", "*"): fy.PROMO_KEYS,
    ("campaigns",): fy.CAMPAIGN_KEYS,
    ("campaigns", "targets"): fy.TARGET_KEYS,
    ("campaigns", "segments"): fy.TARGET_KEYS,
    ("campaigns", "coupon"): fy.COUPON_KEYS,
}
_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|#.*|[{};]|[^\s{};,#\"']+")


def complete(index, lines, line: int, col: int, yaml: bool) -> list:
    """[(label, kind)] where kind is "keyword", "value" or the kind of a declared name."""
    if yaml:
        return _yaml(index, lines, line, col)
    return _rules(index, lines, line, col)


def _names(index, kind) -> list:
    """Declared names of `kind` (product ids: those used anywhere in the file)."""
    if index is None:
        return []
    if kind == "product":
        return list(dict.fromkeys(o.name for o in index.items if o.kind == "product"))
    return index.names(kind)


def _follow(index, word) -> list:
    what = FOLLOWERS.get(word)
    if what is None:
        return []
    if isinstance(what, str):
        return [(name, what) for name in _names(index, what)]
    return [(v, "value") for v in what]


def _predicate(index) -> list:
    attrs = index.names("attribute") if index is not None else []
    return [(a, "attribute") for a in attrs] + [(w, "keyword") for w in PREDICATE_WORDS]


# -- .rules ----------------------------------------------------------------------------------
def _rules(index, lines, line, col) -> list:
    blocks, clause = _scan(lines, line, col)
    block = blocks[-1] if blocks else None
    typing = clause and not lines.line(line)[: col - 1].endswith((" ", "\t", ","))
    done = clause[:-1] if typing else clause  # the words before the one being typed
    if not done:
        items = BLOCK_ITEMS.get(block, STATEMENTS) if block else STATEMENTS
        return [(w, "keyword") for w in items]
    first = done[0]
    if block is None:
        if first in ("crowd", "intent") and "=" in done:
            return _predicate(index)
        if first == "attribute" and len(done) >= 2:
            return [(t, "value") for t in vocab.ATTR_TYPES]
        if first == "campaign" and len(done) == 2:
            return [(k, "value") for k in vocab.KINDS]
        if first == "agent" and len(done) == 2:
            return [("level", "keyword")]
        if first == "promo" and len(done) >= 2:
            return [(k, "keyword") for k in fy.PROMO_KEYS]
        return []
    if first == "mode" and len(done) == 2 and done[1] == "conversion":
        return _follow(index, "conversion")
    if first == "coupon" and len(done) == 2:
        return [("kind", "keyword")]
    if first in ("agents", "crowd", "intent", "product", "order", "grants") or len(done) == 1:
        return _follow(index, first)
    return []


def _scan(lines, line, col) -> tuple:
    """(open blocks, words of the clause being written) at the cursor."""
    blocks: list[str] = []
    clause: list[str] = []
    for n in range(1, line + 1):
        text = lines.line(n)
        if n == line:
            text = text[: col - 1]
        for tok in _TOKEN.findall(text):
            if tok.startswith("#"):
                break
            if tok == "{":
                opener = clause[0] if clause else ""
                blocks.append("target" if opener in ("target", "segment") else opener)
                clause = []
            elif tok == "}":
                blocks = blocks[:-1]
                clause = []
            elif tok == ";":
                clause = []
            else:
                if not blocks and tok in STATEMENT_WORDS and clause and not _continues(clause):
                    clause = []
                elif blocks and tok in BLOCK_ITEMS.get(blocks[-1], ()) and clause and n != line:
                    clause = []
                clause.append(tok)
        if n != line and blocks:
            clause = []  # inside a block each item is on a line of its own
    return blocks, clause


def _continues(clause) -> bool:
    """A top-level statement still open (a predicate after `=` may run over lines)."""
    return clause[0] in ("crowd", "intent") and clause[-1] in ("=",) + PREDICATE_WORDS


# -- YAML ------------------------------------------------------------------------------------
def _yaml(index, lines, line, col) -> list:
    text = lines.line(line)[: col - 1]
    path = _yaml_path(lines, line, _indent(text))
    mt = re.match(r"^\s*(?:-\s+)?([^\s:#]+)\s*:\s*(.*)$", text)
    if mt is None:
        item = re.match(r"^\s*-\s*", text)
        if item and path:  # a block-list item: a value of the key above
            return _yaml_value(index, path[:-1], path[-1])
        keys = YAML_KEYS.get(_generic(path), ())
        return [(k, "keyword") for k in keys]
    key = mt.group(1)
    return _yaml_value(index, path, key)


def _yaml_value(index, path, key) -> list:
    if path[:1] in (["crowds"], ["intents"]):
        return _predicate(index)
    if path[:1] == ["attributes"]:
        return [(t, "value") for t in vocab.ATTR_TYPES]
    if key == "kind" and path[:1] == ["campaigns"] and len(path) == 1:
        return [(k, "value") for k in vocab.KINDS]
    if key in ("robot", "robot_first", "exclusive_direct", "drain_pool"):
        return [("true", "value"), ("false", "value")]
    return _follow(index, key)


def _generic(path) -> tuple:
    """A YAML path with the user's own names (group, agent, promo names) as `*`."""
    if len(path) >= 2 and path[0] in ("groups", "agents", "promos"):
        return (path[0], "*") + tuple(path[2:])
    return tuple(path)


def _indent(text: str) -> int:
    mt = re.match(r"^(\s*)(-\s+)?", text)
    assert mt is not None  # every string matches (both groups may be empty)
    return len(mt.group(1)) + len(mt.group(2) or "")


def _yaml_path(lines, line, indent) -> list:
    """The keys of the mappings that enclose column `indent` of `line`, outermost first."""
    path: list[str] = []
    for n in range(line - 1, 0, -1):
        text = lines.line(n)
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        own = _indent(text)
        if own < indent:  # a line further left: the key of an enclosing mapping
            mt = re.match(r"^\s*(?:-\s+)?([^\s:#]+)\s*:", text)
            if mt:
                path.insert(0, mt.group(1))
            indent = own
            if indent == 0:
                break
    return path
