"""Streaming audience (JSON Lines) and activity input for the planner, with E8xx errors naming the line."""

from __future__ import annotations

import itertools
import json
import math
import os
import secrets

from rulec.common import calendar as cal
from rulec.errors import InputError, Span, diag
from rulec.outreach.privileges import ACT_KEYS

MAX_LINE = 1 << 20  # bytes per audience line
MAX_LIST = 100_000  # cart adds / purchases per consumer
MAX_ACTIVITIES = 100_000
ACTIVITY_FIELDS = tuple(k for k in ACT_KEYS if k != "id")  # what O8 reads, all required
# Audience fields a due promo privilege reads (settled reading: a line without one is bad
# input). `exclusive` is read of every consumer; the others of exclusive consumers only.
PROMO_FIELDS = {
    "cart_coupon": ("cart_adds",),  # O6
    "recall": ("purchases",),  # O7
    "super_discount": ("interested", "purchases"),  # O8
}
_OPEN = b"{"
_OPENS = itertools.repeat(_OPEN)  # bytes.startswith's second argument, for map()


class NotJsonNumber(ValueError):
    """NaN, Infinity or a number beyond a double's range: Python's json takes them, JSON and
    the other implementations do not (O14: refused, E884)."""


def _constant(name):
    raise NotJsonNumber(f"{name} is not a JSON number")


def _float(text):
    f = float(text)
    if math.isinf(f):
        raise NotJsonNumber(f"number {text[:40]} is out of range")
    return f


_decode = json.JSONDecoder(parse_float=_float, parse_constant=_constant).decode


def _batch_decoder():
    """The decoder of a batch's joined lines (bytes): msgspec's (≈2x faster, pinned in the
    `fast` extra), else the standard one; RULEC_PURE=1 keeps the standard one. Both refuse the
    same texts and give the same values (tests/outreach/test_plan_paths.py); a batch either
    refuses is decoded line by line with the standard one, for exact errors."""
    if os.environ.get("RULEC_PURE") != "1":
        try:
            import msgspec
        except ImportError:
            pass
        else:
            return msgspec.json.Decoder().decode
    return lambda data: _decode(data.decode("utf-8"))


_decode_batch = _batch_decoder()


def _loads(text):
    """JSON of a line (str, or UTF-8 bytes; a byte-order mark is dropped)."""
    return _decode(text if isinstance(text, str) else text.decode("utf-8-sig"))


# The batch fast path decodes a batch's lines as one JSON array with this string between them.
# Its value is random per process, so no line can contain it: when every separator comes back
# at the array's top level, each line was exactly one JSON value on its own (O14). A raw
# newline cannot occur inside a JSON string, so nothing else could join two lines either.
_SEP_TEXT = "\x00rulec-line-" + secrets.token_hex(12)
_SEP = b"," + json.dumps(_SEP_TEXT).encode() + b","


def bad(code: str, message: str, name: str, lineno: int | None) -> InputError:
    where = f"{name}:{lineno}: " if lineno else f"{name}: "
    span = Span(name, lineno, 1) if lineno and os.path.isfile(name) else None
    return InputError([diag(code, message if span else where + message, span)])


class Refused:
    """A row a columnar source found bad before parsing (its error is raised in its turn, so
    the rows before it are still decided, as with a bad JSON line)."""

    __slots__ = ("error",)

    def __init__(self, error: InputError):
        self.error = error


def open_source(audience, batch_rows: int = 2000):
    """The audience's numbered lines: a Parquet file (by its magic bytes) or JSON Lines."""
    if isinstance(audience, (str, os.PathLike)):
        from rulec.outreach import parquet_audience as pqa

        path = os.fspath(audience)
        if pqa.is_parquet(path):
            return pqa.ParquetSource(path, batch_rows=batch_rows)
        if path.endswith((".parquet", ".pq")) and os.path.isfile(path):
            raise bad("E887", "not a Parquet file (no PAR1 magic)", path, None)
    return Source(audience, batch_rows)


class Source:
    """Numbered audience lines from a path, a binary/text file, or an iterable of lines/dicts,
    read in chunks of `batch` consumer lines (blank lines are skipped and counted).

    `size` is the byte size when known and `done` the bytes consumed so far (progress)."""

    def __init__(self, audience, batch: int = 2000):
        self.size, self.done, self._fh = None, 0, None
        self._peeked: list | bool | None = None  # the first chunk, read ahead by empty()
        if isinstance(audience, (str, os.PathLike)):
            self.name = os.fspath(audience)
            try:
                self._fh = open(self.name, "rb")
                self.size = os.fstat(self._fh.fileno()).st_size
            except OSError as exc:
                raise bad(
                    "E800", f"cannot read audience: {exc.strerror or exc}", self.name, None
                ) from None
            self._it = self._fh
        else:
            self.name = getattr(audience, "name", "<audience>")
            if not isinstance(self.name, str):
                self.name = "<audience>"
            if isinstance(audience, (bytes, bytearray, dict)) or not hasattr(audience, "__iter__"):
                raise bad(
                    "E883",
                    f"audience must be a path, a file or an iterable of lines or dicts, "
                    f"not {type(audience).__name__}",
                    self.name,
                    None,
                )
            self._it = iter(audience)
        self._chunks = self._read(batch)

    def _read(self, batch: int):
        """Lists of `batch` numbered lines (fewer at the end). A file's lines that all open an
        object and fit MAX_LINE pass in one step; anything else is looked at line by line."""
        n, it, fast = 0, self._it, self._fh is not None
        while True:
            out: list = []
            while len(out) < batch:
                raw = list(itertools.islice(it, batch - len(out)))
                if not raw:
                    break
                if (
                    fast
                    and max(map(len, raw)) <= MAX_LINE
                    and all(map(bytes.startswith, raw, _OPENS))
                ):
                    self.done += sum(map(len, raw))
                    out.extend(zip(range(n + 1, n + 1 + len(raw)), raw))
                    n += len(raw)
                    continue
                for item in raw:
                    n += 1
                    item = self._line(item, n)
                    if item is not None:
                        out.append((n, item))
            if not out:
                return
            yield out

    def _line(self, item, n):
        """A line as parse() takes it, None for a blank line; E883 / E806 raised."""
        if isinstance(item, dict):
            return item
        if isinstance(item, (bytes, bytearray)):
            self.done += len(item)
        elif not isinstance(item, str):
            raise bad(
                "E883",
                f"audience line is a {type(item).__name__}, not text or a dict",
                self.name,
                n,
            )
        if len(item) > MAX_LINE:
            raise bad("E801", f"line is longer than {MAX_LINE} bytes", self.name, n)
        if item[:1] != _OPEN and not item.strip():  # blank lines are skipped
            return None
        return bytes(item) if type(item) is bytearray else item

    def empty(self) -> bool:
        """No consumer line at all (blank lines aside): read ahead to the first one (O14)."""
        if self._peeked is None:
            self._peeked = next(self._chunks, False)
        return self._peeked is False

    def chunks(self):
        """The numbered lines, a list of up to `batch` at a time."""
        if self._peeked:
            yield self._peeked
        self._peeked = False
        yield from self._chunks

    def __iter__(self):
        for chunk in self.chunks():
            yield from chunk

    def close(self):
        if self._fh is not None:
            self._fh.close()


def parse(item, lineno: int, name: str) -> dict:
    """One audience line -> its dict, checking the fields every campaign reads."""
    if isinstance(item, dict):
        rec = item
    elif type(item) is Refused:
        raise item.error
    else:
        try:
            rec = _loads(item)
        except NotJsonNumber as exc:
            raise bad("E884", f"audience line: {exc}", name, lineno) from None
        except (ValueError, RecursionError) as exc:
            raise bad("E801", f"audience line is not JSON: {exc}", name, lineno) from None
        if type(rec) is not dict:
            raise bad("E801", "audience line is not a JSON object", name, lineno)
    c = rec.get("consumer")
    if type(c) is not str or not c or len(c) > 1024 or not c.isprintable() and not _utf8(c):
        raise bad(
            "E806",
            "audience line needs `consumer`: a non-empty string (at most 1024 "
            "characters, valid Unicode)",
            name,
            lineno,
        )
    a = rec.get("attrs")
    if a is not None and type(a) is not dict:
        raise bad("E806", "`attrs` must be an object", name, lineno)
    labels = rec.get("crowds")
    if labels is not None and (type(labels) is not list or not all(type(x) is str for x in labels)):
        raise bad("E806", "`crowds` must be a list of strings", name, lineno)
    for key in ("exclusive", "interested"):
        if key in rec and type(rec[key]) is not bool:
            raise bad("E806", f"`{key}` must be true or false", name, lineno)
    return rec


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def parse_many(items: list, name: str) -> tuple:
    """Parse numbered lines at once: ([(lineno, record)], [(lineno, InputError)])."""
    out, errors = [], []
    for n, x in decoded(items):
        try:
            out.append((n, parse(x, n, name)))
        except InputError as exc:
            errors.append((n, exc))
    return out, errors


def decoded(items: list) -> list:
    """The numbered lines with their JSON decoded where it could be done in one step for the
    whole batch, [(lineno, value or the line as given)]; parse() checks each value.

    The lines are decoded as one JSON array (several times faster than one `loads` a line),
    separated by a value no line can contain (_SEP): the result is used only when every
    separator is back at the top level, i.e. every line was one JSON value on its own. Any
    doubt leaves the lines to parse() one by one, for exact errors."""
    recs = None
    if items and all(type(x) is bytes for _n, x in items):
        lines = [x for _n, x in items]
        if all(
            (x[:1] == b"{" or x.lstrip()[:1] == b"{")
            and (x[-2:] == b"}\n" or x.rstrip()[-1:] == b"}")
            for x in lines
        ):
            try:
                both = _decode_batch(b"[" + _SEP.join(lines) + b"]")
            except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
                both = None
            n = len(lines)
            if both is not None and len(both) == 2 * n - 1:
                if both[1::2].count(_SEP_TEXT) == n - 1:
                    recs = both[0::2]
    if recs is None:
        return items
    return list(zip([n for n, _x in items], recs))


def require(rec: dict, fields: tuple, name: str, lineno: int) -> None:
    """The settled reading: a line must carry `exclusive` and, for an exclusive consumer,
    `fields` (what the due promo privileges read); E886 naming the missing one."""
    if "exclusive" not in rec:
        raise bad(
            "E886",
            "audience line lacks `exclusive` (true or false), which the due promo "
            "privileges read (O6-O8)",
            name,
            lineno,
        )
    if rec["exclusive"] is True:
        for key in sorted(fields):
            if key not in rec:
                raise bad(
                    "E886",
                    f"audience line of exclusive consumer {rec['consumer']!r} lacks `{key}`, "
                    "which a due campaign reads (O6-O8)",
                    name,
                    lineno,
                )


_TIMES: dict = {}  # time text -> epoch seconds (audiences repeat timestamps a lot)


def _time(v, what, name, lineno) -> float:
    t = _TIMES.get(v) if type(v) is str else None
    if t is not None:
        return t
    try:
        t = cal.parse_time(v).timestamp()
    except ValueError as exc:
        raise bad("E804", f"{what}: {exc}", name, lineno) from None
    if len(_TIMES) > 100_000:
        _TIMES.clear()
    _TIMES[v] = t
    return t


def purchases(rec: dict, name: str, lineno: int) -> list:
    """The consumer's purchase times (epoch seconds)."""
    ps = rec.get("purchases")
    if type(ps) is not list or len(ps) > MAX_LIST:
        raise bad("E806", "`purchases` must be a list of times", name, lineno)
    get = _TIMES.get  # the cached times first: no message text is built on the way
    out = [get(p) if type(p) is str else None for p in ps]
    if None in out:
        out = [_time(p, f"purchases[{i}]", name, lineno) for i, p in enumerate(ps)]
    return out


def cart_adds(rec: dict, name: str, lineno: int) -> list:
    """The consumer's cart adds as (epoch seconds, item)."""
    cs = rec.get("cart_adds")
    if type(cs) is not list or len(cs) > MAX_LIST:
        raise bad("E806", "`cart_adds` must be a list of {time, item}", name, lineno)
    out, get = [], _TIMES.get
    for i, c in enumerate(cs):
        item = c.get("item") if type(c) is dict else None
        if type(item) is not str or not (item.isascii() or _utf8(item)):
            raise bad(
                "E806",
                f'cart_adds[{i}] must be {{"time", "item"}} with a string item (valid Unicode)',
                name,
                lineno,
            )
        t = c.get("time")
        t = get(t) if type(t) is str else None
        if t is None:
            t = _time(c.get("time"), f"cart_adds[{i}].time", name, lineno)
        out.append((t, item))
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
            except NotJsonNumber as exc:
                raise bad("E884", f"activity line: {exc}", name, n) from None
            except (ValueError, RecursionError, TypeError) as exc:
                raise bad("E811", f"activity line is not JSON: {exc}", name, n) from None
        if type(row) is not dict:
            raise bad("E812", "activity line is not a JSON object", name, n)
        if type(row.get("id")) is not str or not row["id"]:
            raise bad("E813", "activity needs `id`: a non-empty string", name, n)
        for key in ACTIVITY_FIELDS:  # every field O8 reads (settled reading): none defaulted
            if key not in row:
                raise bad("E813", f"activity {row['id']!r} needs `{key}` (O8 reads it)", name, n)
        if type(row["kind"]) is not str:
            raise bad("E814", f"activity {row['id']!r}: `kind` must be a string", name, n)
        act = {"id": row["id"], "kind": row["kind"]}
        for key in ("created_at", "first_effective_at"):
            try:
                act[key] = cal.parse_time(row[key])
                cal.check_representable(act[key])
            except ValueError as exc:
                raise bad("E815", f"activity {row['id']!r} {key}: {exc}", name, n) from None
        for key in ("edited_from_existing", "crowd_restricted", "complete", "in_stock"):
            v = row[key]
            if type(v) is not bool:
                raise bad("E814", f"activity {row['id']!r}: `{key}` must be true or false", name, n)
            act[key] = v
        out.append(act)
    return out


def settle(
    batch: list, errors: list, keep_going: bool, bad: list
) -> tuple[list, InputError | None]:
    """A chunk's checked lines and its bad ones, `(lineno, InputError)`, settled: (the lines to
    plan, the error to raise once they are planned, or None). Without keep_going only the
    lines before the first bad one are planned, then its error is raised; with it every good
    line is planned and the bad lines' diagnostics are added to `bad`. (One rule for both
    planner loops, plan_run.Run and its Cython twin.)"""
    if not errors:
        return batch, None
    errors.sort(key=lambda e: e[0])
    if not keep_going:
        stop = errors[0]
        return [b for b in batch if b[0] < stop[0]], stop[1]
    for _n, error in errors:
        bad.extend(error.diagnostics)
    return batch, None
