"""The table format (docs/table-format.md): determinism, integrity checks, signing, runtime-only load."""

import json
import pathlib
import struct
import subprocess
import sys

import pytest

import rulec
from rulec.errors import TableError
from rulec.table import format as tables

CONTRACT = pathlib.Path(__file__).parent / "cases" / "ok_contract_example.yaml"


@pytest.fixture
def table_file(tmp_path, cli):
    out = tmp_path / "shop.rtbl"
    assert cli("compile", CONTRACT, "-o", out).code == 0
    return out


def test_same_source_same_bytes(tmp_path, cli, table_file):
    again = tmp_path / "again.rtbl"
    assert cli("compile", CONTRACT, "-o", again).code == 0
    assert again.read_bytes() == table_file.read_bytes()


def test_header_fields(table_file):
    data = table_file.read_bytes()
    head = tables.read_header(data)
    assert data[:8] == b"RULECTBL"
    assert head["format_version"] == 2 and head["compiler_version"] == rulec.__version__
    import hashlib

    assert head["source_hash"] == hashlib.sha256(CONTRACT.read_bytes()).hexdigest()


def test_load_round_trip(table_file):
    t = rulec.load(table_file)
    assert t.shop == "demo" and t.group_names == ["售前A"]
    assert [c["name"] for c in t.body["campaigns"]][:2] == ["week48", "d12-recall"]
    # promo privileges get their scheduled send times (O6, O7, O8)
    sends = {c["name"]: c["send_at"] for c in t.body["campaigns"]}
    assert sends["d12-cart"] == "2023-12-11T20:00:00+08:00"
    assert sends["d12-recall"] == "2023-12-12T14:00:00+08:00"
    assert sends["d12-super"] == "2023-12-12T20:00:00+08:00"


def _refused(tmp_path, data, code, cli):
    bad = tmp_path / "bad.rtbl"
    bad.write_bytes(data)
    with pytest.raises(TableError) as exc:
        rulec.load(bad)
    assert exc.value.code == code
    r = cli("inspect", bad)
    assert r.code == 1 and f"[{code}]" in r.err and "Traceback" not in r.err


def test_truncated(tmp_path, cli, table_file):
    data = table_file.read_bytes()
    for cut in (0, 5, 20, 60, len(data) - 1):
        _refused(tmp_path, data[:cut], "B702" if cut == 0 else "B701", cli)


def test_corrupt_body(tmp_path, cli, table_file):
    data = bytearray(table_file.read_bytes())
    data[-10] ^= 0xFF
    _refused(tmp_path, bytes(data), "B704", cli)


def test_trailing_garbage(tmp_path, cli, table_file):
    _refused(tmp_path, table_file.read_bytes() + b"x", "B704", cli)


def test_foreign_file(tmp_path, cli):
    _refused(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "B702", cli)


def test_unreadable_table_file(tmp_path):
    """`tables.load` of a path that cannot be opened: B700 naming the file, not an OSError."""
    with pytest.raises(TableError) as exc:
        tables.load(tmp_path / "missing.rtbl")
    assert exc.value.code == "B700" and "missing.rtbl" in str(exc.value)


def test_newer_format_version(tmp_path, cli, table_file):
    data = bytearray(table_file.read_bytes())
    struct.pack_into(">H", data, 8, 99)
    _refused(tmp_path, bytes(data), "B703", cli)


@pytest.mark.parametrize(
    "body",
    [
        {"shop": "x"},  # lacks everything else
        "not a dict",
        [[[[[]]]]],
    ],
)
def test_malformed_body_with_valid_checksum(tmp_path, cli, body):
    _refused(tmp_path, tables.pack(body, b"\0" * 32, "0.1.0"), "B706", cli)


def test_bad_group_reference_in_body(tmp_path, cli, table_file):
    body = rulec.load(table_file).body
    body["tree"]["index"]["product"]["a"] = [7]
    _refused(tmp_path, tables.pack(body, b"\0" * 32, "0.1.0"), "B706", cli)


def test_deep_expression_in_body(tmp_path, cli, table_file):
    body = rulec.load(table_file).body
    e = ["const", True]
    for _ in range(200):  # deeper than the schema allows, shallow enough to encode
        e = ["not", e]
    body["crowds"][0]["expr"] = e
    _refused(tmp_path, tables.pack(body, b"\0" * 32, "0.1.0"), "B706", cli)


def test_signed_tables(tmp_path, cli):
    key = tmp_path / "key"
    key.write_bytes(b"s3cret\n")
    other = tmp_path / "other"
    other.write_bytes(b"different")
    out = tmp_path / "signed.rtbl"
    assert cli("compile", CONTRACT, "-o", out, "--sign-key", key).code == 0
    assert cli("inspect", out, "--sign-key", key).code == 0
    r = cli("inspect", out)
    assert r.code == 1 and "B705" in r.err and "signed" in r.err
    r = cli("inspect", out, "--sign-key", other)
    assert r.code == 1 and "does not match" in r.err
    assert rulec.load(out, key=b"s3cret").shop == "demo"
    plain = tmp_path / "plain.rtbl"
    assert cli("compile", CONTRACT, "-o", plain).code == 0
    with pytest.raises(TableError):
        rulec.load(plain, require_signature=True)


def test_inspect_shows_the_tree(cli, table_file):
    r = cli("inspect", table_file)
    assert r.code == 0
    assert "decision tree" in r.out and "vip -> 售前A" in r.out
    assert "vip = member_level >= 3 and total_spent > 1000" in r.out
    data = json.loads(cli("inspect", table_file, "--json").out)
    assert data["body"]["shop"] == "demo"


def test_loading_needs_only_the_runtime(table_file):
    """A service loads a table without the parser or the compiler (architecture rule)."""
    code = (
        "import sys\n"
        "sys.modules['lark'] = None\n"
        "sys.modules['yaml'] = None\n"
        "sys.modules['rulec.compiler'] = None\n"
        "import rulec\n"
        f"t = rulec.load({str(table_file)!r})\n"
        "print(t.shop, t.match({'product': 'a', 'attrs': {'member_level': 4, 'total_spent': 2000}}))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "demo ['售前A']"


def test_signed_table_routes_with_the_key_from_the_environment(tmp_path, cli, monkeypatch):
    key = tmp_path / "key"
    key.write_bytes(b"k")
    out = tmp_path / "signed.rtbl"
    assert cli("compile", CONTRACT, "-o", out, "--sign-key", key).code == 0
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "chat", "time": "2026-11-23T09:00:00+08:00", "buyer": "u"}\n')
    r = cli("route", out, "--events", events)
    assert r.code == 1 and "B705" in r.err
    monkeypatch.setenv("RULEC_SIGN_KEY_FILE", str(key))
    r = cli("route", out, "--events", events)
    assert r.code == 0 and json.loads(r.out)["target"] == "message_pool"
