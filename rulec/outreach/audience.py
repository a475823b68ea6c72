"""Streaming audience (JSON Lines) and activity input for the planner, with E8xx errors naming the line."""

from __future__ import annotations

import json
import os

from rulec.common import calendar as cal
from rulec.errors import Diagnostic, InputError, Span

MAX_LINE = 1 << 20  # bytes per audience line
MAX_LIST = 100_000  # cart adds / purchases per consumer
MAX_ACTIVITIES = 100_000
_loads = json.loads
_OPEN = b"{"


def bad(code: str, message: str, name: str, lineno: int | None) -> InputError:
    where = f"{name}:{lineno}: " if lineno else f"{name}: "
    span = Span(name, lineno, 1) if lineno and os.path.isfile(name) else None
    return InputError([Diagnostic(code, message if span else where + message, span)])


class Source:
    """Numbered audience lines from a path, a binary/text file, or an iterable of lines/dicts.

    `size` is the byte size when known and `done` the bytes consumed so far (progress)."""

    def __init__(self, audience):
        self.size, self.done, self._fh = None, 0, None
        if isinstance(audience, (str, os.PathLike)):
            self.name = os.fspath(audience)
            try:
                self._fh = open(self.name, "rb")
                self.size = os.fstat(self._fh.fileno()).st_size
            except OSError as exc:
                raise bad(
                    "E807", f"cannot read audience: {exc.strerror or exc}", self.name, None
                ) from None
            self._it = self._fh
        else:
            self.name = getattr(audience, "name", "<audience>")
            if not isinstance(self.name, str):
                self.name = "<audience>"
            self._it = audience

    def __iter__(self):
        n = 0
        for item in self._it:
            n += 1
            if isinstance(item, dict):
                yield n, item
                continue
            if isinstance(item, (bytes, bytearray)):
                self.done += len(item)
            if len(item) > MAX_LINE:
                raise bad("E806", f"line is longer than {MAX_LINE} bytes", self.name, n)
            if item[:1] != _OPEN and not item.strip():  # blank lines are skipped
                continue
            yield n, item

    def close(self):
        if self._fh is not None:
            self._fh.close()


def parse(item, lineno: int, name: str) -> dict:
    """One audience line -> its dict, checking the fields every campaign reads."""
    if isinstance(item, dict):
        rec = item
    else:
        try:
            rec = _loads(item)
        except (ValueError, RecursionError) as exc:
            raise bad("E801", f"audience line is not JSON: {exc}", name, lineno) from None
        if type(rec) is not dict:
            raise bad("E802", "audience line is not a JSON object", name, lineno)
    c = rec.get("consumer")
    if type(c) is not str or not c or len(c) > 1024 or not c.isprintable() and not _utf8(c):
        raise bad(
            "E803",
            "audience line needs `consumer`: a non-empty string (at most 1024 "
            "characters, valid Unicode)",
            name,
            lineno,
        )
    a = rec.get("attrs")
    if a is not None and type(a) is not dict:
        raise bad("E804", "`attrs` must be an object", name, lineno)
    labels = rec.get("crowds")
    if labels is not None and (type(labels) is not list or not all(type(x) is str for x in labels)):
        raise bad("E804", "`crowds` must be a list of strings", name, lineno)
    for key in ("exclusive", "interested"):
        v = rec.get(key)
        if v is not None and type(v) is not bool:
            raise bad("E804", f"`{key}` must be true or false", name, lineno)
    return rec


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def parse_many(items: list, name: str) -> tuple:
    """Parse numbered lines at once: ([(lineno, record)], [(lineno, InputError)]).

    The lines are decoded as one JSON array (several times faster than one `loads` a line)
    when each is one object; any doubt falls back to line by line, for exact errors."""
    recs = None
    if items and all(type(x) is bytes for _n, x in items):
        lines = [x for _n, x in items]
        if all(
            (x[:1] == b"{" or x.lstrip()[:1] == b"{")
            and (x[-2:] == b"}\n" or x.rstrip()[-1:] == b"}")
            for x in lines
        ):
            try:
                recs = _loads(b"[" + b",".join(lines) + b"]")
            except (ValueError, RecursionError):
                recs = None
            if recs is not None and len(recs) != len(lines):
                recs = None
    out, errors = [], []
    for k, (n, x) in enumerate(items):
        try:
            out.append((n, parse(recs[k] if recs is not None else x, n, name)))
        except InputError as exc:
            errors.append((n, exc))
    return out, errors


_TIMES: dict = {}  # time text -> epoch seconds (audiences repeat timestamps a lot)


def _time(v, what, name, lineno) -> float:
    t = _TIMES.get(v) if type(v) is str else None
    if t is not None:
        return t
    try:
        t = cal.parse_time(v).timestamp()
    except ValueError as exc:
        raise bad("E805", f"{what}: {exc}", name, lineno) from None
    if len(_TIMES) > 100_000:
        _TIMES.clear()
    _TIMES[v] = t
    return t


def purchases(rec: dict, name: str, lineno: int) -> list:
    """The consumer's purchase times (epoch seconds)."""
    ps = rec.get("purchases")
    if ps is None:
        return []
    if type(ps) is not list or len(ps) > MAX_LIST:
        raise bad("E804", "`purchases` must be a list of times", name, lineno)
    return [_time(p, f"purchases[{i}]", name, lineno) for i, p in enumerate(ps)]


def cart_adds(rec: dict, name: str, lineno: int) -> list:
    """The consumer's cart adds as (epoch seconds, item)."""
    cs = rec.get("cart_adds")
    if cs is None:
        return []
    if type(cs) is not list or len(cs) > MAX_LIST:
        raise bad("E804", "`cart_adds` must be a list of {time, item}", name, lineno)
    out = []
    for i, c in enumerate(cs):
        if type(c) is not dict or type(c.get("item")) is not str:
            raise bad(
                "E804",
                f'cart_adds[{i}] must be {{"time", "item"}} with a string item',
                name,
                lineno,
            )
        out.append((_time(c.get("time"), f"cart_adds[{i}].time", name, lineno), c["item"]))
    return out


def read_activities(source, tz) -> list:
    """O8 activities (a JSON Lines path or a list of dicts), times parsed; E81x on bad input."""
    name = "<activities>"
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        try:
            with open(name, "rb") as fh:
                rows = [(i, line) for i, line in enumerate(fh, 1) if line.strip()]
        except OSError as exc:
            raise bad(
                "E817", f"cannot read activities: {exc.strerror or exc}", name, None
            ) from None
    else:
        rows = list(enumerate(source or [], 1))
    if len(rows) > MAX_ACTIVITIES:
        raise bad("E816", f"more than {MAX_ACTIVITIES} activities", name, None)
    out = []
    for n, row in rows:
        if not isinstance(row, dict):
            try:
                row = _loads(row)
            except (ValueError, RecursionError) as exc:
                raise bad("E811", f"activity line is not JSON: {exc}", name, n) from None
        if type(row) is not dict:
            raise bad("E812", "activity line is not a JSON object", name, n)
        if type(row.get("id")) is not str or not row["id"]:
            raise bad("E813", "activity needs `id`: a non-empty string", name, n)
        act = {"id": row["id"], "kind": row.get("kind")}
        for key in ("created_at", "first_effective_at"):
            if key not in row:
                raise bad("E813", f"activity {row['id']!r} needs `{key}`", name, n)
            try:
                act[key] = cal.parse_time(row[key])
            except ValueError as exc:
                raise bad("E815", f"activity {row['id']!r} {key}: {exc}", name, n) from None
        for key, default in (
            ("edited_from_existing", False),
            ("crowd_restricted", False),
            ("complete", True),
            ("in_stock", True),
        ):
            v = row.get(key, default)
            if type(v) is not bool:
                raise bad("E814", f"activity {row['id']!r}: `{key}` must be true or false", name, n)
            act[key] = v
        out.append(act)
    return out
