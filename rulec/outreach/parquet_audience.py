"""Parquet audiences for the planner: record batches read with pyarrow, checked (E887–E899), streamed as numbered consumer dicts."""

from __future__ import annotations

import os

from rulec.errors import InputError
from rulec.outreach.audience import MAX_LINE, MAX_LIST, Refused, bad

MAGIC = b"PAR1"
BATCH_ROWS = 2000
MAX_ATTRS = 10_000  # attribute fields of the attrs struct
# The columns a consumer line can have, in the JSON Lines form's key names; others are not read.
COLUMNS = ("consumer", "attrs", "crowds", "exclusive", "interested", "cart_adds", "purchases")


def is_parquet(path: str) -> bool:
    """The file starts with Parquet's magic (a JSON Lines audience cannot: it is not JSON)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


class _Shape:
    """How one batch's column values become JSON-like values, found once from the schema."""

    def __init__(self):
        self.attrs_map = False  # attrs as map<string, …>: pairs -> dict
        self.time_cols: list[str] = []  # purchases / cart_adds with timestamp times -> ISO text


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        return None
    return pa, pc, pq


class ParquetSource:
    """Numbered consumer dicts of a Parquet file, read a record batch at a time.

    Row numbers (1-based, over the whole file) stand where JSON Lines have line numbers.
    `row_groups` restricts the reading to those row groups (a partition of the file), row
    numbers staying the file's. `size`/`done` count compressed bytes (progress)."""

    def __init__(self, path, row_groups=None, batch_rows: int = BATCH_ROWS):
        self.name = os.fspath(path)
        mods = _pa()
        if mods is None:
            raise bad(
                "E887",
                "reading a Parquet audience needs pyarrow (pip install 'rulec[parquet]')",
                self.name,
                None,
            )
        self._pa, self._pc, pq = mods
        try:
            self._pf = pq.ParquetFile(self.name)
            meta = self._pf.metadata
            schema = self._pf.schema_arrow
        except (OSError, self._pa.ArrowException) as exc:
            raise bad("E887", f"cannot read the Parquet audience: {exc}", self.name, None) from None
        groups = range(meta.num_row_groups) if row_groups is None else list(row_groups)
        for g in groups:
            if type(g) is not int or not 0 <= g < meta.num_row_groups:
                raise bad(
                    "E887", f"row group {g!r}: the file has {meta.num_row_groups}", self.name, None
                )
        starts, at = [], 0
        for g in range(meta.num_row_groups):
            starts.append(at)
            at += meta.row_group(g).num_rows
        self._groups = [(g, starts[g] + 1) for g in groups]
        self.rows = sum(meta.row_group(g).num_rows for g in groups)
        self.size = sum(meta.row_group(g).total_byte_size for g in groups)
        self.done = 0
        self._batch_rows = batch_rows
        self.shape = _Shape()
        self.columns = _check_schema(self._pa, schema, self.name, self.shape)
        self._started = False

    def require_columns(self, fields) -> None:
        """E888 unless the file has every column in `fields` (what the due campaigns read):
        checked before the ledger is touched (O14)."""
        missing = sorted(set(fields) - set(self.columns))
        if missing:
            raise bad(
                "E888",
                f"the Parquet audience has no column {', '.join(map(repr, missing))}, which a "
                "due campaign reads (O6-O8)",
                self.name,
                None,
            )

    def empty(self) -> bool:
        return self.rows == 0

    def __iter__(self):
        for chunk in self.chunks():
            yield from chunk

    def chunks(self):
        """The numbered rows, a record batch (at most `batch_rows`) at a time."""
        if self._started:
            return
        self._started = True
        for g, first in self._groups:
            try:
                batches = self._pf.iter_batches(
                    batch_size=self._batch_rows,
                    row_groups=[g],
                    columns=self.columns,
                    use_threads=False,
                )
                for batch in batches:
                    yield list(self._rows(batch, first))
                    first += batch.num_rows
            except self._pa.ArrowException as exc:
                raise bad(
                    "E887", f"cannot read the Parquet audience: {exc}", self.name, first
                ) from None
            self.done += self._pf.metadata.row_group(g).total_byte_size

    def _rows(self, batch, first: int):
        refused = _refusals(self._pa, self._pc, batch, self.name, first)
        try:
            recs = batch.to_pylist()
        except (ValueError, OverflowError) as exc:  # a timestamp beyond Python's datetime
            raise bad("E891", f"a value is out of range: {exc}", self.name, first) from None
        shape = self.shape
        for i, rec in enumerate(recs):
            n = first + i
            if refused and n in refused:
                yield n, Refused(refused[n])
                continue
            for k in [k for k, v in rec.items() if v is None]:  # null: the key is absent
                del rec[k]
            if shape.attrs_map and "attrs" in rec:
                rec["attrs"] = dict(rec["attrs"])
            for col in shape.time_cols:
                _times_to_text(rec, col)
            yield n, rec

    def close(self):
        close = getattr(self._pf, "close", None)
        if close is not None:
            close()


def _times_to_text(rec: dict, col: str) -> None:
    """Timestamp times (with a zone) as the ISO text the JSON Lines form carries."""
    v = rec.get(col)
    if not v:
        return
    if col == "purchases":
        rec[col] = [t.isoformat() for t in v]
    else:
        rec[col] = [dict(c, time=c["time"].isoformat()) for c in v]


# -- the schema (once a file) ---------------------------------------------------------------
def _check_schema(pa, schema, name, shape) -> list:
    """The columns to read; E888 without `consumer`, E889 a wrong type, E892 too deep."""
    t = pa.types
    names = list(schema.names)
    for col in set(names):
        if col in COLUMNS and names.count(col) > 1:
            raise bad("E889", f"column {col!r} appears {names.count(col)} times", name, None)
    if "consumer" not in names:
        raise bad("E888", "the Parquet audience has no `consumer` column", name, None)

    def wrong(col, want, typ):
        raise bad("E889", f"column {col!r} is {typ}; it must be {want}", name, None)

    def text(typ):
        typ = typ.value_type if t.is_dictionary(typ) else typ
        return t.is_string(typ) or t.is_large_string(typ) or t.is_string_view(typ)

    def listy(typ):
        return t.is_list(typ) or t.is_large_list(typ) or t.is_list_view(typ)

    def scalar(typ):
        return text(typ) or t.is_boolean(typ) or t.is_integer(typ) or t.is_floating(typ)

    def time(col, typ):
        if t.is_null(typ):  # only empty lists (or null entries, refused row by row)
            return False
        if t.is_timestamp(typ):
            if typ.tz is None:
                raise bad(
                    "E894",
                    f"column {col!r} holds timestamps without a time zone; times need a UTC "
                    "offset (write timestamp[..., tz=...] or ISO text with an offset)",
                    name,
                    None,
                )
            return True
        if not text(typ):
            wrong(col, "ISO text with an offset or a timestamp with a time zone", typ)
        return False

    def nested(typ):
        return t.is_nested(typ) or t.is_dictionary(typ) and not text(typ)

    cols = [c for c in names if c in COLUMNS]
    for col in cols:
        typ = schema.field(col).type
        if t.is_null(typ) and col != "consumer":
            continue  # all null: the key absent on every line
        if col == "consumer" and not text(typ):
            wrong(col, "text (string)", typ)
        elif col in ("exclusive", "interested") and not t.is_boolean(typ):
            wrong(col, "bool", typ)
        elif col == "crowds":
            if not listy(typ):
                wrong(col, "a list of strings", typ)
            if not text(typ.value_type) and not t.is_null(typ.value_type):
                (_deep_raiser(name) if nested(typ.value_type) else wrong)(
                    col, "a list of strings", typ
                )
        elif col == "attrs":
            _check_attrs(pa, typ, name, shape, scalar, listy, nested, wrong, _deep_raiser(name))
        elif col == "purchases":
            if not listy(typ):
                wrong(col, "a list of times", typ)
            if nested(typ.value_type):
                _deep_raiser(name)(col, "a list of times", typ)
            if time(col, typ.value_type):
                shape.time_cols.append(col)
        elif col == "cart_adds":
            want = "a list of {time, item} structs"
            if listy(typ) and t.is_null(typ.value_type):
                continue  # only empty lists
            if not listy(typ) or not t.is_struct(typ.value_type):
                (_deep_raiser(name) if listy(typ) and nested(typ.value_type) else wrong)(
                    col, want, typ
                )
            st = typ.value_type
            fields = [st.field(i).name for i in range(st.num_fields)]
            for sub in ("time", "item"):
                if sub not in fields:
                    raise bad(
                        "E888", f"column 'cart_adds' has no `{sub}` field ({want})", name, None
                    )
            item = st.field("item").type
            if nested(item):
                _deep_raiser(name)(col, want, typ)
            if not text(item):
                wrong("cart_adds.item", "text (string)", item)
            if time("cart_adds.time", st.field("time").type):
                shape.time_cols.append(col)
    return cols


def _deep_raiser(name):
    def deep(col, want, typ):
        raise bad(
            "E892",
            f"column {col!r} nests deeper than an audience line can: {typ}; it must be {want}",
            name,
            None,
        )

    return deep


def _check_attrs(pa, typ, name, shape, scalar, listy, nested, wrong, deep) -> None:
    """attrs: a struct (or a map with string keys) of scalars or lists of scalars."""
    t = pa.types
    want = "a struct (or map<string, …>) of scalars or lists of scalars"
    if t.is_map(typ):
        if not t.is_string(typ.key_type) and not t.is_large_string(typ.key_type):
            wrong("attrs", want, typ)
        shape.attrs_map = True
        if not (t.is_null(typ.item_type) or scalar(typ.item_type)):
            (deep if nested(typ.item_type) else wrong)("attrs", "map<string, scalar>", typ)
        return
    elif t.is_struct(typ):
        if typ.num_fields > MAX_ATTRS:
            raise bad("E893", f"column 'attrs' has more than {MAX_ATTRS:,} fields", name, None)
        values = [(f"attrs.{typ.field(i).name}", typ.field(i).type) for i in range(typ.num_fields)]
    else:
        wrong("attrs", want, typ)
    for col, v in values:
        if t.is_null(v) or scalar(v):
            continue
        if listy(v) and (scalar(v.value_type) or t.is_null(v.value_type)):
            continue
        if nested(v) or listy(v):
            deep(col, want, v)
        wrong(col, "a scalar (text, bool, integer, float) or a list of them", v)


# -- per batch: values the JSON Lines form could not carry ---------------------------------
def _refusals(pa, pc, batch, name, first) -> dict:
    """{row number: InputError} of the batch's rows with a null where none may be (E890),
    NaN or an infinite float (E891), a text or list beyond the line bounds (E893)."""
    t = pa.types
    found: dict[int, InputError] = {}

    def mark(rows, code, message):
        for r in rows:
            n = first + r
            if n not in found:
                found[n] = bad(code, message, name, n)

    def rows_of(mask):
        return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()

    def parents(lst, mask):
        """Rows of a list column whose flattened values satisfy `mask`."""
        idx = pc.list_parent_indices(lst)
        return sorted(set(pc.filter(idx, pc.fill_null(mask, False)).to_pylist()))

    def long_text(arr):
        typ = arr.type
        if t.is_dictionary(typ):
            arr = (
                arr.dictionary_decode()
                if hasattr(arr, "dictionary_decode")
                else arr.cast(typ.value_type)
            )
        return pc.greater(pc.binary_length(arr), MAX_LINE)

    cols = {batch.schema.field(i).name: batch.column(i) for i in range(batch.num_columns)}
    consumer = cols["consumer"]
    if t.is_null(consumer.type):
        mark(range(batch.num_rows), "E890", "`consumer` is null")
    else:
        mark(rows_of(consumer.is_null()), "E890", "`consumer` is null")
        mark(rows_of(long_text(consumer)), "E893", f"`consumer` is longer than {MAX_LINE} bytes")
    for col in ("crowds", "purchases", "cart_adds"):
        lst = cols.get(col)
        if lst is None or t.is_null(lst.type):
            continue
        mark(
            rows_of(pc.greater(pc.list_value_length(lst), MAX_LIST)),
            "E893",
            f"`{col}` has more than {MAX_LIST:,} entries",
        )
        values = pc.list_flatten(lst)
        mark(parents(lst, values.is_null()), "E890", f"`{col}` holds a null entry")
        if col == "cart_adds" and t.is_struct(values.type):
            for sub in ("time", "item"):
                mark(
                    parents(lst, pc.struct_field(values, sub).is_null()),
                    "E890",
                    f"a `cart_adds` entry has a null `{sub}`",
                )
            item = pc.struct_field(values, "item")
            mark(
                parents(lst, long_text(item)),
                "E893",
                f"a cart item is longer than {MAX_LINE} bytes",
            )
        elif t.is_string(values.type) or t.is_large_string(values.type):
            mark(
                parents(lst, long_text(values)),
                "E893",
                f"a `{col}` entry is longer than {MAX_LINE} bytes",
            )
    attrs = cols.get("attrs")
    if attrs is not None and not t.is_null(attrs.type):
        for key, arr, lst in _attr_values(pa, pc, attrs):
            typ = arr.type
            if t.is_floating(typ):
                bad_num = pc.or_(pc.is_nan(arr), pc.is_inf(arr))
                rows = parents(lst, bad_num) if lst is not None else rows_of(bad_num)
                mark(rows, "E891", f"`attrs.{key}`: NaN or an infinite number is not a JSON number")
            elif t.is_string(typ) or t.is_large_string(typ) or t.is_dictionary(typ):
                too = long_text(arr)
                rows = parents(lst, too) if lst is not None else rows_of(too)
                mark(rows, "E893", f"`attrs.{key}` is longer than {MAX_LINE} bytes")
    return found


def _attr_values(pa, pc, attrs):
    """(name, values, list column the values are flattened from or None) of each attrs value
    column; for a map, the map itself is the list and its items the values."""
    t = pa.types
    if t.is_map(attrs.type):  # as a list of its values (the compute kernels take lists)
        view = pa.ListArray.from_arrays(attrs.offsets, attrs.items, mask=attrs.is_null())
        yield "*", pc.list_flatten(view), view
        return
    for i in range(attrs.type.num_fields):
        yield from _scalar_or_list(
            pa, pc, attrs.type.field(i).name, pc.struct_field(attrs, [i]), None
        )


def _scalar_or_list(pa, pc, key, arr, parent):
    t = pa.types
    if t.is_list(arr.type) or t.is_large_list(arr.type) or t.is_list_view(arr.type):
        yield key, pc.list_flatten(arr), arr  # (a map's values are scalars: schema check)
    else:
        yield key, arr, parent
