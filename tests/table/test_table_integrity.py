"""Table integrity (docs/table-format.md, format 2): the checksum covers the whole file, so a
flipped bit anywhere (header included), in a signed or an unsigned table, is refused."""

import hashlib
import struct

import pytest
from table_helpers import SMALL

from rulec.errors import TableError
from rulec.table import format as tables


@pytest.fixture(scope="module")
def small_tables():
    from rulec.compiler.pipeline import compile_source

    plain = compile_source(SMALL, "s.rules")
    signed = compile_source(SMALL, "s.rules", sign_key=b"key")
    assert plain.ok and signed.ok
    return {"plain": (plain.data, None), "signed": (signed.data, b"key")}


@pytest.mark.parametrize("kind", ["plain", "signed"])
def test_every_single_bit_flip_is_refused(small_tables, kind):
    data, key = small_tables[kind]
    assert tables.Table.from_bytes(data, key=key).shop == "s"
    accepted = []
    for i in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            try:
                tables.Table.from_bytes(bytes(bad), key=key)
            except TableError:
                continue
            accepted.append((i, bit))
    assert accepted == [], f"{len(accepted)} of {8 * len(data)} flips accepted: {accepted[:10]}"


@pytest.mark.parametrize("kind", ["plain", "signed"])
def test_every_byte_replaced_is_refused(small_tables, kind):
    data, key = small_tables[kind]
    for i in range(len(data)):
        for value in (0x00, 0xFF, data[i] ^ 0x55):
            if value == data[i]:
                continue
            bad = bytearray(data)
            bad[i] = value
            with pytest.raises(TableError):
                tables.Table.from_bytes(bytes(bad), key=key)


def test_header_fields_are_under_the_checksum(small_tables):
    """The fields version 1 left unchecked: source hash, compiler version, flags."""
    data, _ = small_tables["plain"]
    head = tables.read_header(data)
    vlen = data[12]
    for offset in (13, 13 + vlen, 13 + vlen + 31):  # compiler version, source hash
        bad = bytearray(data)
        bad[offset] ^= 0x01
        with pytest.raises(TableError) as exc:
            tables.Table.from_bytes(bytes(bad))
        assert exc.value.code == "B704"
    bad = bytearray(data)
    struct.pack_into(">H", bad, 10, 0x0100)  # an unknown flag bit
    with pytest.raises(TableError) as exc:
        tables.Table.from_bytes(bytes(bad))
    assert exc.value.code == "B704"
    assert head["format_version"] == 2


def test_version_1_tables_are_refused_with_advice(small_tables):
    data, _ = small_tables["plain"]
    old = bytearray(data)
    struct.pack_into(">H", old, 8, 1)
    with pytest.raises(TableError) as exc:
        tables.Table.from_bytes(bytes(old))
    assert exc.value.code == "B703" and "compile the rules again" in str(exc.value)


def test_checksum_is_over_header_and_body(small_tables):
    data, _ = small_tables["plain"]
    head = tables.read_header(data)
    start = head["body_offset"]
    want = hashlib.sha256(data[: head["header_length"]] + data[start:]).digest()
    assert head["checksum"] == want
