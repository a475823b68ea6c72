"""Audience rows of a pandas DataFrame (a Dask or Spark partition) as plain dicts for the planner."""

from __future__ import annotations

import math

from rulec.errors import InputError, diag

MAX_DEPTH = 16  # nesting of list/struct cells (the planner's own fields nest 2 deep)


def is_frame(items) -> bool:
    """A pandas DataFrame, recognised without importing pandas (it may not be installed)."""
    t = type(items)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def records(items):
    """`items` unchanged, unless it is a DataFrame: then its rows as dicts of plain values."""
    return _rows(items) if is_frame(items) else items


def _rows(df):
    cols = [str(c) for c in df.columns]
    for row in df.itertuples(index=False, name=None):
        rec = {}
        for col, v in zip(cols, row):
            v = _plain(v, col, 0)
            if v is not None:  # a missing cell is a missing field (as in a JSON line)
                rec[col] = v
        yield rec


def _plain(v, col, depth):
    """A cell as JSON-like Python: numpy scalars and arrays, Arrow lists and structs, pandas
    missing values (None / NaN / NA / NaT) become what a JSON line would have held."""
    if depth > MAX_DEPTH:
        raise InputError(
            [diag("K113", f"column {col!r}: cell nested deeper than {MAX_DEPTH} levels")]
        )
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, dict):
        return {str(k): _plain(x, col, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, col, depth + 1) for x in v]
    name = type(v).__name__
    if hasattr(v, "tolist") and name == "ndarray":  # a list cell read from Parquet / Arrow
        return [_plain(x, col, depth + 1) for x in v.tolist()]
    if hasattr(v, "item") and type(v).__module__ == "numpy":  # numpy scalars
        return _plain(v.item(), col, depth)
    if name in ("NAType", "NaTType"):
        return None
    if hasattr(v, "isoformat"):  # a timestamp column: the ISO text a JSON line would carry
        if getattr(v, "tzinfo", None) is None:
            raise InputError(
                [
                    diag(
                        "K113",
                        f"column {col!r}: a time without a UTC offset ({v}); store times "
                        "with their zone (or as ISO text with an offset)",
                    )
                ]
            )
        return v.isoformat()
    raise InputError(
        [diag("K113", f"column {col!r}: a cell of type {name} is not an audience value")]
    )
