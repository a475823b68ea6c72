"""Scenario files for `rulec simulate` (YAML): the shop day to simulate, checked with coded errors.

```yaml
date: 2026-11-11            # the simulated day, in the shop's time zone
chats: 2000                 # buyer sessions in the day
arrivals: {10: 3, 15: 3, 21: 3}   # relative weight per hour (missing hours weigh 1; default peaks 10/15/21)
mix:                        # each a value -> weight map (null: no value)
  product: {sku-1: 3, sku-2: 1, null: 1}
  order: {no_active_order: 2, unpaid: 1, after_sale: 1}
  intent: {null: 1}
  crowds: {vip: 0.2}        # independent probability that a buyer carries each crowd label
returning: 0.2              # share of sessions by a buyer who already wrote today
rounds: 3                   # mean buyer rounds after the transfer (0 for a buyer who never writes)
silent: 0.1                 # share of buyers who never write after the transfer
think: 60                   # mean seconds between a reply and the buyer's next message
agents:                     # agents of the rules; an agent not listed works 09:00-21:00
  小美: {shift: ["08:00", "17:00"], breaks: [["12:00", "12:30"]], reply: [40, 20],
         conversion: 0.35, robot_share: 0.1}
```
`reply` is the mean and standard deviation of an agent's reply time in seconds (log-normal);
`robot_share` the share of its sessions its assistant answers (not counted in M1).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs
import yaml

from rulec.common.vocab import ORDER_STATES
from rulec.errors import InputError, Span, diag, did_you_mean

KEYS = ("date", "chats", "arrivals", "mix", "returning", "rounds", "silent", "think", "agents")
AGENT_KEYS = ("shift", "breaks", "reply", "conversion", "robot_share")
MIX_KEYS = ("product", "order", "intent", "crowds")
DEFAULT_ARRIVALS = {10: 3.0, 15: 3.0, 21: 3.0}
MAX_CHATS = 5_000_000
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@attrs.frozen
class AgentPlan:
    shift: tuple = (9 * 3600, 21 * 3600)  # seconds after midnight
    breaks: tuple = ()
    reply: tuple = (60.0, 30.0)
    conversion: float | None = None
    robot_share: float = 0.0


@attrs.frozen
class Scenario:
    date: dt.date
    chats: int
    arrivals: tuple  # 24 weights
    mix: dict
    returning: float
    rounds: float
    silent: float
    think: float
    agents: dict  # agent id -> AgentPlan


class _Bad(Exception):
    def __init__(self, where, message, hints=()):
        self.where, self.message, self.hints = where, message, hints


def _num(v, where, lo=0.0, hi=None, integer=False):
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or (integer and not isinstance(v, int))
    ):
        raise _Bad(where, f"must be {'a whole number' if integer else 'a number'}, got {v!r}")
    if v != v or v < lo or (hi is not None and v > hi):
        raise _Bad(
            where, f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
        )
    return v


def _hhmm(v, where) -> int:
    if not isinstance(v, str) or not HHMM.match(v):
        raise _Bad(where, f'must be a time of day "HH:MM", got {v!r}')
    h, m = v.split(":")
    return int(h) * 3600 + int(m) * 60


def _span(v, where) -> tuple:
    if not isinstance(v, list) or len(v) != 2:
        raise _Bad(where, 'must be ["HH:MM", "HH:MM"]')
    a, b = _hhmm(v[0], where), _hhmm(v[1], where)
    if b <= a:
        raise _Bad(where, "must end after it starts")
    return a, b


def _weights(v, where, values=None) -> dict:
    if not isinstance(v, dict) or not v:
        raise _Bad(where, "must be a map of value -> weight")
    out = {}
    for k, w in v.items():
        key = None if k is None or k == "null" else str(k)
        if values is not None and key is not None and key not in values:
            raise _Bad(f"{where}.{k}", f"unknown value {k!r}", did_you_mean(str(k), values))
        out[key] = float(_num(w, f"{where}.{k}"))
    if sum(out.values()) <= 0:
        raise _Bad(where, "weights must not all be zero")
    return out


def _keys(doc, where, allowed):
    if not isinstance(doc, dict):
        raise _Bad(where, "must be a map")
    for k in doc:
        if k not in allowed:
            raise _Bad(
                f"{where}.{k}" if where else str(k),
                f"unknown key {k!r}",
                did_you_mean(str(k), allowed),
            )


def _agent(doc, where) -> AgentPlan:
    _keys(doc, where, AGENT_KEYS)
    kw: dict = {}
    if "shift" in doc:
        kw["shift"] = _span(doc["shift"], f"{where}.shift")
    if "breaks" in doc:
        if not isinstance(doc["breaks"], list):
            raise _Bad(f"{where}.breaks", "must be a list of [start, end]")
        kw["breaks"] = tuple(_span(b, f"{where}.breaks[{i}]") for i, b in enumerate(doc["breaks"]))
    if "reply" in doc:
        r = doc["reply"]
        if not isinstance(r, list) or len(r) != 2:
            raise _Bad(f"{where}.reply", "must be [mean seconds, standard deviation]")
        kw["reply"] = (
            float(_num(r[0], f"{where}.reply", 1.0, 86400.0)),
            float(_num(r[1], f"{where}.reply", 0.0, 86400.0)),
        )
    if "conversion" in doc:
        kw["conversion"] = float(_num(doc["conversion"], f"{where}.conversion", 0.0, 1.0))
    if "robot_share" in doc:
        kw["robot_share"] = float(_num(doc["robot_share"], f"{where}.robot_share", 0.0, 1.0))
    return AgentPlan(**kw)


def parse(doc, agent_ids: list) -> Scenario:
    """A Scenario from a loaded YAML document; raises _Bad at the first problem."""
    _keys(doc, "", KEYS)
    for req in ("date", "chats"):
        if req not in doc:
            raise _Bad(req, f"`{req}` is required")
    date = doc["date"]
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise _Bad("date", f"must be a date YYYY-MM-DD, got {date!r}") from None
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise _Bad("date", f"must be a date YYYY-MM-DD, got {date!r}")
    chats = _num(doc["chats"], "chats", 1, MAX_CHATS, integer=True)
    arrivals = [1.0] * 24
    for h, w in (doc.get("arrivals") or DEFAULT_ARRIVALS).items():
        if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h <= 23:
            raise _Bad(f"arrivals.{h}", "hours are whole numbers 0..23")
        arrivals[h] = float(_num(w, f"arrivals.{h}"))
    if sum(arrivals) <= 0:
        raise _Bad("arrivals", "weights must not all be zero")
    mix_doc = doc.get("mix") or {}
    _keys(mix_doc, "mix", MIX_KEYS)
    mix = {
        "product": _weights(mix_doc.get("product", {None: 1}), "mix.product"),
        "order": _weights(mix_doc.get("order", {None: 1}), "mix.order", ORDER_STATES),
        "intent": _weights(mix_doc.get("intent", {None: 1}), "mix.intent"),
        "crowds": {},
    }
    crowds = mix_doc.get("crowds", {})
    if not isinstance(crowds, dict):
        raise _Bad("mix.crowds", "must be a map of crowd label -> probability")
    for k, p in crowds.items():
        mix["crowds"][str(k)] = float(_num(p, f"mix.crowds.{k}", 0.0, 1.0))
    agents_doc = doc.get("agents") or {}
    if not isinstance(agents_doc, dict):
        raise _Bad("agents", "must be a map of agent -> plan")
    agents = {}
    for a, plan in agents_doc.items():
        if str(a) not in agent_ids:
            raise _Bad(
                f"agents.{a}", f"agent {a!r} is not in the rules", did_you_mean(str(a), agent_ids)
            )
        agents[str(a)] = _agent(plan or {}, f"agents.{a}")
    for a in agent_ids:
        agents.setdefault(a, AgentPlan())
    return Scenario(
        date=date,
        chats=chats,
        arrivals=tuple(arrivals),
        mix=mix,
        returning=float(_num(doc.get("returning", 0.0), "returning", 0.0, 1.0)),
        rounds=float(_num(doc.get("rounds", 2.0), "rounds", 0.0, 100.0)),
        silent=float(_num(doc.get("silent", 0.0), "silent", 0.0, 1.0)),
        think=float(_num(doc.get("think", 60.0), "think", 1.0, 86400.0)),
        agents=agents,
    )


def load(path, agent_ids: list) -> Scenario:
    """Read and check a scenario file; InputError (M1xx) naming the file and key."""
    file = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(1 << 22)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([diag("M100", f"cannot read scenario {file}: {exc}")]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mk = getattr(exc, "problem_mark", None)
        where = Span(file, mk.line + 1, mk.column + 1) if mk else Span(file, 1, 1)
        raise InputError(
            [diag("M101", f"scenario is not YAML: {getattr(exc, 'problem', exc)}", where)]
        ) from None
    except RecursionError:
        raise InputError(
            [diag("M101", "scenario is nested too deeply", Span(file, 1, 1))]
        ) from None
    try:
        return parse(doc if doc is not None else {}, agent_ids)
    except _Bad as exc:
        raise InputError(
            [
                diag(
                    "M102",
                    f"{exc.where}: {exc.message}" if exc.where else exc.message,
                    Span(file, _line(text, exc.where), 1),
                    "error",
                    tuple(exc.hints),
                )
            ]
        ) from None


def _line(text: str, where: str) -> int:
    """The line of the last key of a dotted path (best effort, for the caret)."""
    key = str(where).split(".")[-1].split("[")[0]
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*['\"]?{re.escape(key)}['\"]?\s*:", line):
            return i
    return 1


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rulec simulate scenario",
    "type": "object",
    "required": ["date", "chats"],
    "additionalProperties": False,
    "properties": {
        "date": {
            "type": "string",
            "format": "date",
            "description": "the simulated day (shop time zone)",
        },
        "chats": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_CHATS,
            "description": "buyer sessions in the day",
        },
        "arrivals": {
            "type": "object",
            "description": "relative arrival weight per hour 0..23",
            "patternProperties": {"^([01]?[0-9]|2[0-3])$": {"type": "number", "minimum": 0}},
            "additionalProperties": False,
        },
        "mix": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                **{
                    k: {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}
                    for k in ("product", "order", "intent")
                },
                "crowds": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
        "returning": {"type": "number", "minimum": 0, "maximum": 1},
        "rounds": {"type": "number", "minimum": 0, "maximum": 100},
        "silent": {"type": "number", "minimum": 0, "maximum": 1},
        "think": {"type": "number", "minimum": 1},
        "agents": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "shift": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                        "minItems": 2,
                        "maxItems": 2,
                    },
                    "breaks": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    },
                    "reply": {
                        "type": "array",
                        "items": {"type": "number", "minimum": 0},
                        "minItems": 2,
                        "maxItems": 2,
                    },
                    "conversion": {"type": "number", "minimum": 0, "maximum": 1},
                    "robot_share": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    },
}
