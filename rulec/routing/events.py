"""Events and state inputs of the router: parsing and validation with line-naming errors (E8xx).

Codes: E800 unreadable file, E801 not a JSON object (or not JSON: NaN and Infinity are not),
E802 unknown/missing type, E803 unknown agent, E804 bad/missing time, E805 out-of-order time,
E806 bad/missing field (buyer...), E807 bad status, E808 conversion rate not in 0..1, E809
unknown key, E850 a string that is not Unicode text (a lone surrogate), E851 a number out of
range (integers beyond 64 bits, floats beyond the double range); state files: E830
malformed, E831 unknown agent, E832 bad value, E833 bad time.

Every reader here takes untrusted input: JSON only through `loads` (bounded numbers, valid
text), every bad value a coded InputError, never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from os import PathLike
from typing import Any, NoReturn, ParamSpec, TypedDict, TypeVar

from rulec.common.calendar import parse_time
from rulec.common.vocab import ORDER_STATES, STATUSES
from rulec.errors import Diagnostic, InputError, Span, diag, did_you_mean
from rulec.routing.jsonin import Bad as _Bad
from rulec.routing.jsonin import check_json, loads
from rulec.routing.jsonin import check_str as _check_str

TYPES = ("agent", "chat", "reply", "conversion")
KEYS = {
    "agent": ("type", "time", "agent", "status"),
    "reply": ("type", "time", "agent", "buyer"),
    "conversion": ("type", "time", "agent", "rate"),
    "chat": (
        "type",
        "time",
        "buyer",
        "product",
        "order",
        "intent",
        "crowds",
        "attrs",
        "message",
        "exclusive_agent",
    ),
}
MAX_LINE = 1 << 20
MAX_PENDING = 1 << 31  # pending counts in a state file

P = ParamSpec("P")
R = TypeVar("R")
Path = str | PathLike[str]
Agents = Mapping[str, int]  # agent id -> index in the table


class State(TypedDict):
    """A checked `--state` document: agents by index (the given fields), contacts by buyer."""

    agents: dict[int, dict[str, Any]]
    contacts: dict[str, tuple[int, float]]


_time_cache: dict[Any, float] = {}


def epoch(text: Any) -> float:
    """Epoch seconds of an ISO-8601 time with an offset (cached); ValueError otherwise."""
    t = _time_cache.get(text)
    if t is None:
        t = parse_time(text).timestamp()
        if len(_time_cache) > 65536:
            _time_cache.clear()
        _time_cache[text] = t
    return t


def _coded(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` raising InputError for the _Bad it finds (entry points used by the router)."""

    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except _Bad as exc:
            raise InputError([diag(exc.code, exc.message, None, "error", exc.hints)]) from None

    checked.__doc__, checked.__name__ = fn.__doc__, fn.__name__
    return checked


@_coded
def check_chat_key(chat: Any) -> tuple[str, Any, float]:
    """(buyer, time text, epoch seconds) of a chat given to Router.route: a JSON object with
    a non-empty `buyer` string (Unicode text) and an ISO-8601 `time` with an offset."""
    if not isinstance(chat, dict):
        raise _Bad("E801", f"a chat must be a JSON object, got {type(chat).__name__}")
    if "buyer" not in chat:
        raise _Bad("E806", "chat event lacks `buyer`")
    b = chat["buyer"]
    if not isinstance(b, str) or not b:
        raise _Bad("E806", "`buyer` must be a non-empty string")
    _check_str(b)
    if "time" not in chat:
        raise _Bad("E804", "chat event lacks `time`")
    try:
        return b, chat["time"], epoch(chat["time"])
    except (ValueError, TypeError) as exc:
        raise _Bad("E804", f"bad time: {exc}") from None


@_coded
def check_chat(chat: Any, agents: Agents) -> float:
    """A whole chat checked as the CLI checks an events line (its `type` may be left out);
    its epoch time. For APIs that take chats in bulk (Router.route_many)."""
    if not isinstance(chat, dict):
        raise _Bad("E801", f"a chat must be a JSON object, got {type(chat).__name__}")
    if chat.get("type", "chat") != "chat":
        raise _Bad("E802", f"a chat event, not a {str(chat['type'])[:40]!r} event, was expected")
    check_json(chat)
    return _check(chat if "type" in chat else {**chat, "type": "chat"}, agents)


@_coded
def check_pool_chat(chat: Any) -> None:
    """A chat queued in the message pool is kept as JSON: it must be plain JSON data."""
    check_json(chat)


@_coded
def bad_exclusive(ex: Any) -> NoReturn:
    """`exclusive_agent` that is not a string (E806)."""
    raise _Bad("E806", f"`exclusive_agent` must be a string or null, got {type(ex).__name__}")


def _str_or_none(ev: dict[str, Any], key: str) -> None:
    v = ev.get(key)
    if v is not None and not isinstance(v, str):
        raise _Bad(
            "E806",
            f"`{key}` must be a string or null, got {json.dumps(v, ensure_ascii=False)[:60]}",
        )


def _agent(ev: dict[str, Any], agents: Agents) -> int:
    """The agent an agent/reply/conversion event names must be one of the table's."""
    a = ev.get("agent")
    if a is None:
        raise _Bad("E806", f"{ev['type']} event lacks `agent`")
    if not isinstance(a, str) or a not in agents:
        shown = a if isinstance(a, str) else json.dumps(a)
        raise _Bad("E803", f"unknown agent {shown!r}", did_you_mean(shown, agents))
    return agents[a]


@_coded
def check_event(ev: Any, agents: Agents) -> float:
    """Validate one event dict against the table's agents (id -> index); returns its epoch
    time. Raises InputError (no location; callers add it)."""
    check_json(ev)
    return _check(ev, agents)


def _check(ev: Any, agents: Agents) -> float:
    if not isinstance(ev, dict):
        raise _Bad("E801", f"an event must be a JSON object, got {type(ev).__name__}")
    kind = ev.get("type")
    if kind not in TYPES:
        if kind is None:
            raise _Bad("E802", "event lacks `type` (agent, chat, reply or conversion)")
        raise _Bad(
            "E802",
            f"unknown event type {kind!r} (agent, chat, reply or conversion)",
            did_you_mean(str(kind), TYPES),
        )
    for k in ev:
        if k not in KEYS[kind]:
            raise _Bad(
                "E809", f"unknown key {k!r} in a {kind} event", did_you_mean(str(k), KEYS[kind])
            )
    if "time" not in ev:
        raise _Bad("E804", f"{kind} event lacks `time`")
    try:
        t = epoch(ev["time"])
    except (ValueError, TypeError) as exc:
        raise _Bad("E804", f"bad time: {exc}") from None
    if kind == "chat":
        b = ev.get("buyer")
        if b is None:
            raise _Bad("E806", "chat event lacks `buyer`")
        if not isinstance(b, str) or not b:
            raise _Bad("E806", "`buyer` must be a non-empty string")
        for k in ("product", "intent", "message", "exclusive_agent"):
            _str_or_none(ev, k)
        o = ev.get("order")
        if o is not None and o not in ORDER_STATES:
            raise _Bad(
                "E806",
                f"unknown order state {o!r} ({', '.join(ORDER_STATES)})",
                did_you_mean(str(o), ORDER_STATES),
            )
        c = ev.get("crowds")
        if c is not None and (not isinstance(c, list) or not all(isinstance(x, str) for x in c)):
            raise _Bad("E806", "`crowds` must be a list of strings")
        a = ev.get("attrs")
        if a is not None and not isinstance(a, dict):
            raise _Bad("E806", "`attrs` must be a JSON object")
        return t
    _agent(ev, agents)
    if kind == "agent":
        s = ev.get("status")
        if s not in STATUSES:
            raise _Bad(
                "E807",
                f"bad status {s!r} (online, suspended or offline)",
                did_you_mean(str(s), STATUSES),
            )
    elif kind == "reply":
        _str_or_none(ev, "buyer")
    else:
        r = ev.get("rate")
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
            shown = json.dumps(r, ensure_ascii=False, default=repr)
            raise _Bad("E808", f"conversion rate must be a number in 0..1, got {shown[:40]}")
    return t


MAX_KEPT = 10_000  # diagnostics kept from one file (the rest are counted by render)


def read_events(
    path: Path, agents: Agents, keep_going: bool = False
) -> tuple[list[tuple[dict[str, Any], float, int]], list[Diagnostic]]:
    """Parse an events file (JSON Lines, in time order). Returns (events, diagnostics):
    without `keep_going` the events are only good when there are no diagnostics; with it,
    bad lines are reported and skipped. Each event is returned as (event, epoch, line)."""
    diags: list[Diagnostic] = []
    return list(iter_events(path, agents, diags, keep_going)), diags


def iter_events(
    path: Path, agents: Agents, diags: list[Diagnostic], keep_going: bool = False
) -> Iterator[tuple[dict[str, Any], float, int]]:
    """Yield (event, epoch, line) of an events file as it is read (memory flat in the file's
    size); each bad line is appended to `diags` and skipped (without `keep_going`, reading
    stops at the 50th). An unreadable file is one E800 diagnostic and nothing yielded."""
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        diags.append(diag("E800", f"cannot read events file {path}: {exc.strerror or exc}"))
        return
    last, bad = None, 0
    with fh:
        lineno = 0
        while True:
            try:
                line = fh.readline(MAX_LINE + 1)
                long = len(line) > MAX_LINE
                while line and not line.endswith("\n") and len(line) > MAX_LINE:
                    line = fh.readline(MAX_LINE + 1)  # the rest of an over-long line
            except UnicodeDecodeError as exc:
                diags.append(
                    diag(
                        "E801",
                        f"events file is not UTF-8 ({exc.reason}) after line {lineno}",
                        Span(str(path), lineno + 1, 1),
                    )
                )
                break
            if not line and not long:
                break
            lineno += 1
            if not long and not line.strip():
                continue
            try:
                if long:
                    raise _Bad("E801", f"line is longer than {MAX_LINE} characters")
                ev = loads(line)
                t = _check(ev, agents)
                if last is not None and t < last:
                    raise _Bad(
                        "E805",
                        f"event time {ev['time']} is earlier than the previous "
                        "event's (events must be in time order)",
                    )
            except _Bad as exc:
                bad += 1
                if bad <= MAX_KEPT:
                    span = Span(str(path), lineno, 1)
                    diags.append(
                        diag(exc.code, f"line {lineno}: {exc.message}", span, "error", exc.hints)
                    )
                if bad >= 50 and not keep_going:
                    break
                continue
            last = t
            yield ev, t, lineno


def _state_bad(code: str, path: object, where: str, message: str) -> Diagnostic:
    return diag(code, f"{path}: {where}: {message}")


def read_state(path: Path, agents: Agents) -> tuple[State | None, list[Diagnostic]]:
    """Parse and check a `--state` JSON file. Returns (state, diagnostics); state is
    {"agents": {index: {status?, pending?, conversion?}}, "contacts": {buyer: (index, epoch)}}."""
    doc, diags = read_json_file(path, "state", 64 << 20, "E830")
    return (None, diags) if diags else check_state(doc, agents, str(path))


def read_json_file(
    path: Path, what: str, limit: int, not_json_code: str
) -> tuple[Any, list[Diagnostic]]:
    """(document, diagnostics) of a whole-file JSON input (`--state`, `--event`): E800 when
    it cannot be read, `not_json_code` when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(limit)
    except (OSError, UnicodeDecodeError) as exc:
        return None, [
            diag("E800", f"cannot read {what} file {path}: {getattr(exc, 'strerror', None) or exc}")
        ]
    try:
        return loads(text), []
    except _Bad as exc:
        code = not_json_code if exc.code == "E801" else exc.code
        return None, [diag(code, f"{path}: {exc.message}")]


def check_state(
    doc: Any, agents: Agents, path: str = "<state>"
) -> tuple[State | None, list[Diagnostic]]:
    """Validate a state document (the contract's form). Returns (state, diagnostics)."""
    diags: list[Diagnostic] = []
    if not isinstance(doc, dict):
        return None, [_state_bad("E830", path, "top level", "must be a JSON object")]
    try:
        check_json(doc)
    except _Bad as exc:
        return None, [_state_bad(exc.code, path, "a value", exc.message)]
    for k in doc:
        if k not in ("agents", "contacts"):
            diags.append(_state_bad("E830", path, k, "unknown key (agents, contacts)"))
    out_agents: dict[int, dict[str, Any]] = {}
    out_contacts: dict[str, tuple[int, float]] = {}
    ag = doc.get("agents", {})
    if not isinstance(ag, dict):
        diags.append(_state_bad("E830", path, "agents", "must be an object"))
        ag = {}
    for aid, entry in ag.items():
        where = f"agents.{aid}"
        if aid not in agents:
            diags.append(
                diag(
                    "E831",
                    f"{path}: {where}: unknown agent {aid!r}",
                    None,
                    "error",
                    did_you_mean(aid, agents),
                )
            )
            continue
        if not isinstance(entry, dict):
            diags.append(_state_bad("E830", path, where, "must be an object"))
            continue
        rec: dict[str, Any] = {}
        for k, v in entry.items():
            if k == "status":
                if v not in STATUSES:
                    diags.append(
                        _state_bad(
                            "E832",
                            path,
                            f"{where}.status",
                            f"bad status {v!r} (online, suspended or offline)",
                        )
                    )
                rec["status"] = v
            elif k == "pending":
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_PENDING:
                    diags.append(
                        _state_bad(
                            "E832",
                            path,
                            f"{where}.pending",
                            f"must be a whole number in 0..{MAX_PENDING}, got {v!r}",
                        )
                    )
                rec["pending"] = v
            elif k == "conversion":
                if v is not None and (
                    isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1
                ):
                    diags.append(
                        _state_bad(
                            "E832",
                            path,
                            f"{where}.conversion",
                            f"must be a number in 0..1, got {v!r}",
                        )
                    )
                rec["conversion"] = v
            else:
                diags.append(
                    _state_bad(
                        "E830", path, f"{where}.{k}", "unknown key (status, pending, conversion)"
                    )
                )
        out_agents[agents[aid]] = rec
    cs = doc.get("contacts", {})
    if not isinstance(cs, dict):
        diags.append(_state_bad("E830", path, "contacts", "must be an object"))
        cs = {}
    for buyer, c in cs.items():
        where = f"contacts.{buyer}"
        if not isinstance(c, dict) or set(c) != {"agent", "time"}:
            diags.append(_state_bad("E830", path, where, 'must be {"agent": ID, "time": ISO}'))
            continue
        if not isinstance(c["agent"], str):
            diags.append(
                _state_bad("E832", path, f"{where}.agent", "must be an agent id (a string)")
            )
            continue
        if c["agent"] not in agents:
            diags.append(
                diag(
                    "E831",
                    f"{path}: {where}.agent: unknown agent {c['agent']!r}",
                    None,
                    "error",
                    did_you_mean(str(c["agent"]), agents),
                )
            )
            continue
        try:
            t = epoch(c["time"])
        except (ValueError, TypeError) as exc:
            diags.append(_state_bad("E833", path, f"{where}.time", str(exc)))
            continue
        out_contacts[buyer] = (agents[c["agent"]], t)
    if diags:
        return None, diags
    return {"agents": out_agents, "contacts": out_contacts}, []
