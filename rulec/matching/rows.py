"""Group rows of the pure matcher: a set of group indices kept dense (int bitset) or sparse.

A table with n groups has one row per dimension value. As n-bit ints, rows cost n/8 bytes
each whether one group holds the value or all do: values x groups bits, 1.25 GB at 100,000
groups. So a row is an int only when it is dense (at least one member per 64 groups, so the
int costs at most 8 bytes per member) and a frozenset of indices otherwise; the empty row is
the int 0. Every operation here costs O(members + n / 64) at most, never a per-member
shift of an n-bit int. The Cython matcher reads the same rows (rulec/matching/_matcher.pyx).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Union, cast

# a row: an int bitset (dense) or a frozenset of group indices (sparse). `type(row) is int`
# tells them apart (no bools here; cheaper than isinstance), which mypy narrows only on the
# int side: the casts name the sparse side.
Row = Union[int, "frozenset[int]"]
Sparse = frozenset[int]

DENSE_PER = 64  # a row with at least one member per DENSE_PER groups is an int


def bits(indices: Sequence[int]) -> int:
    """The int bitset of group indices, in O(len + max / 8): OR-ing `1 << i` one index at a
    time copies the growing int every time (quadratic in the groups)."""
    if len(indices) < 16:
        b = 0
        for i in indices:
            b |= 1 << i
        return b
    buf = bytearray((max(indices) >> 3) + 1)
    for i in indices:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def members(row: Row) -> list[int]:
    """Ascending member indices, in O(n / 64 + count)."""
    if type(row) is not int:
        return sorted(cast(Sparse, row))
    if row < 1 << 64:
        out: list[int] = []
        while row:
            low = row & -row
            out.append(low.bit_length() - 1)
            row ^= low
        return out
    s = format(row, "b")[::-1]  # str.find scans in C; clearing bits one at a time copies
    out = []
    i = s.find("1")
    while i >= 0:
        out.append(i)
        i = s.find("1", i + 1)
    return out


def make(indices: Collection[int], n: int) -> Row:
    """The row of a collection of distinct group indices below n, dense or sparse by count."""
    if not indices:
        return 0
    if len(indices) * DENSE_PER >= n:
        return bits(indices if isinstance(indices, (list, tuple)) else list(indices))
    return frozenset(indices)


def bitmap(row: int) -> bytes:
    """An int bitset as bytes, for O(1) membership tests (see within)."""
    return row.to_bytes((row.bit_length() + 7) >> 3, "little")


def within(indices: Iterable[int], m: bytes) -> list[int]:
    """The indices that are members of the bitmap `m` (O(len))."""
    top = len(m) << 3
    return [i for i in indices if i < top and m[i >> 3] >> (i & 7) & 1]


def union(rows: Iterable[Row], n: int) -> Row:
    """The union of rows (dense parts OR-ed as ints, sparse parts gathered in one set)."""
    dense = 0
    sparse: set[int] = set()
    for r in rows:
        if type(r) is int:
            dense |= r
        else:
            sparse.update(cast(Sparse, r))
    if not sparse:
        return dense
    if dense:
        return dense | bits(list(sparse))
    return make(sparse, n)


def both(cand: Row, row: Row) -> Row:
    """The intersection of two rows (the R5 step's `hits`)."""
    if type(cand) is int:
        if type(row) is int:
            return cand & row
        cand, row = row, cand
    elif type(row) is not int:
        return cast(Sparse, cand) & cast(Sparse, row)
    # cand sparse, row dense: test members against the int's bytes, not by shifting it
    sparse, dense = cast(Sparse, cand), cast(int, row)
    if len(sparse) <= 2:
        return frozenset(i for i in sparse if dense >> i & 1)
    return frozenset(within(sparse, bitmap(dense)))
