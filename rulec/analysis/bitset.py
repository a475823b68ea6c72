"""Group sets as Python ints (bit i = group i): building one from indices and reading it back."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress


def mask(ids: Iterable[int]) -> int:
    """The set of `ids` as an int; built as bytes, since OR-ing one bit at a time into a
    10,000-bit int copies the int each time."""
    ids = list(ids)
    if not ids:
        return 0
    buf = bytearray((max(ids) >> 3) + 1)
    for i in ids:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def bits(m: int) -> list[int]:
    """The members of `m`, ascending."""
    return list(compress(range(m.bit_length()), _digits(m)))


def pick(items, m: int) -> tuple:
    """The items at the members of `m` (items[i] for each bit i)."""
    return tuple(compress(items, _digits(m)))


_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")


def _digits(m: int) -> bytes:
    # the binary digits, lowest first, as bytes 0/1 that compress() reads in C: a Python loop
    # over the bits of 10,000-bit masks was a tenth of a run
    return bin(m)[:1:-1].encode().translate(_ZERO_ONE) if m > 0 else b""
