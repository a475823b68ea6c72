"""Table limits (docs/table-format.md, "Limits"): crafted tables are refused before the work
they ask for is done (bounded decompression, a value count before parsing, a bound on the
matcher's bitsets); the compiler refuses to write a table beyond them (B715)."""

import json
import pathlib
import subprocess
import sys
import zlib

import pytest
from table_helpers import SMALL

from rulec.compiler.pipeline import compile_source
from rulec.errors import TableError
from rulec.table import format as tables
from rulec.table import schema

MiB = 1 << 20
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _table(text: bytes) -> bytes:
    return tables.pack_payload(zlib.compress(text, 1), b"\0" * 32, "0.1.0")


def _small_body() -> dict:
    return tables.Table.from_bytes(compile_source(SMALL, "s.rules").data).body


CHILD = """
import json, resource, sys
from rulec.errors import TableError
from rulec.table import format as tables
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    tables.Table.from_bytes(data)
    code, msg = None, ""
except TableError as exc:
    code, msg = exc.code, str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "msg": msg, "growth": (after - before) * 1024}))
"""


def _refused_within(data: bytes, peak_mib: int, tmp_path, code="B706") -> str:
    """Load `data` in a fresh process: refused with `code`, and the process's peak resident
    size grows by less than peak_mib while loading (ru_maxrss, a high-water mark)."""
    f = tmp_path / "crafted.rtbl"
    f.write_bytes(data)
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(f)], capture_output=True, text=True, cwd=ROOT
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["code"] == code, r
    assert r["growth"] < peak_mib * MiB, f"peak grew {r['growth'] / MiB:.0f} MiB"
    return r["msg"]


def _bomb(unit: bytes, size: int) -> bytes:
    """zlib of `[` + unit repeated to `size` bytes + `0]`, made a megabyte at a time."""
    c = zlib.compressobj(9)
    block = unit * (MiB // len(unit))
    out = [c.compress(b"[")] + [c.compress(block) for _ in range(size // len(block))]
    return b"".join(out + [c.compress(b"0]"), c.flush()])


@pytest.mark.parametrize(
    "unit,peak",
    [(b"[],", 8), (b"{},", 8), (b"0,", 8), (b'"",', 8), (b"   ", 48)],
    ids=["lists", "dicts", "ints", "strs", "spaces"],
)
def test_zlib_bombs_are_refused_early(unit, peak, tmp_path):
    """~100 KB of zlib that says ~100 MB of JSON: refused after a megabyte or two of values,
    or at the 32 MiB size limit for blank space."""
    data = tables.pack_payload(_bomb(unit, 100 * MiB), b"\0" * 32, "0.1.0")
    assert len(data) < 120_000
    msg = _refused_within(data, peak, tmp_path)
    assert "too large" in msg


def test_at_the_value_limit_the_work_is_bounded(tmp_path):
    """The largest document the limits let through costs what the limits say (~64 bytes
    a value), then fails the schema."""
    n = tables.MAX_VALUES // 2 - 10  # `[],` is two values by the count
    data = _table(b"[" + b"[]," * n + b"[]]")
    msg = _refused_within(data, 160, tmp_path)
    assert "malformed" in msg


def _text_with_tree(groups: int, values: int) -> bytes:
    """A well-formed body's JSON with `groups` groups and `values` product tree values (made
    as text: building the dicts would be slow)."""
    body = _small_body()
    g = dict(body["groups"][0], agents=[], name="G")
    body["groups"] = ["GROUPS"]
    body["tree"]["index"]["product"] = "INDEX"
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    one = json.dumps(g, separators=(",", ":"), sort_keys=True)
    many = ",".join(one.replace('"G"', f'"g{i}"') for i in range(groups))
    index = "{" + ",".join(f'"p{i}":[0]' for i in range(values)) + "}"
    return text.replace('"GROUPS"', many).replace('"INDEX"', index).encode()


def test_matcher_rows_are_bounded_before_building(tmp_path, monkeypatch):
    """20,000 groups x 55,000 tree values of one group each were 140 MB of dense group
    bitsets (refused); as sparse rows they cost 12 bytes a value, so the table loads. The
    bound still refuses, before building, a body whose rows would pass it."""
    body = json.loads(_text_with_tree(20_000, 55_000))
    assert schema.check_body(body) is None
    assert schema.size_problem(body) is None
    assert tables.Table.from_bytes(_table(json.dumps(body).encode())).body["groups"]
    words = 20_000 // 64 + 1
    # every one of the 55,000 product rows costs 4 words (one group each): 220,000 words
    monkeypatch.setattr(schema, "MAX_ROW_BITS", 96 * (220_000 + 6 * words))
    assert schema.size_problem(body) is None
    monkeypatch.setattr(schema, "MAX_ROW_BITS", 96 * (220_000 + 6 * words) - 1)
    assert "bitsets" in schema.size_problem(body)
    with pytest.raises(TableError) as exc:
        tables.Table.from_bytes(_table(json.dumps(body).encode()))
    assert exc.value.code == "B706" and "bitsets" in str(exc.value)


def test_compiler_refuses_a_table_beyond_the_limits(monkeypatch):
    monkeypatch.setattr(schema, "MAX_ROW_BITS", 3)
    r = compile_source(SMALL, "s.rules")
    assert [d.code for d in r.errors] == ["B715"] and r.data is None
    assert r.errors[0].span.file == "s.rules"
    monkeypatch.setattr(tables, "MAX_VALUES", 10)
    r = compile_source(SMALL, "s.rules")
    assert [d.code for d in r.errors] == ["B715"] and "values" in r.errors[0].message


def test_compile_cli_reports_b715(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "MAX_BODY", 100)
    src = tmp_path / "s.rules"
    src.write_text(SMALL)
    r = cli("compile", src, "-o", tmp_path / "t.rtbl")
    assert r.code == 1 and "[B715]" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "t.rtbl").exists()


def test_oversized_file_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "MAX_FILE", 1000)
    big = tmp_path / "big.rtbl"
    big.write_bytes(compile_source(SMALL, "s.rules").data + b"\0" * 2000)
    with pytest.raises(TableError) as exc:
        tables.load(big)
    assert exc.value.code == "B706" and "larger than" in str(exc.value)


@pytest.mark.parametrize("lit", [b"1e400", b"-1e999"])
def test_non_finite_literals_are_refused(lit, tmp_path):
    body = _small_body()
    body["crowds"] = [{"name": "c", "expr": ["cmp", ">", "x", 12345]}]
    text = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    text = text.replace(b"12345", lit)
    msg = _refused_within(_table(text), 8, tmp_path)
    assert "out of range" in msg


def test_escaped_surrogate_in_a_table_is_refused(cli, tmp_path):
    body = _small_body()
    body["shop"] = "SURR"
    text = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    bad = tmp_path / "s.rtbl"
    bad.write_bytes(_table(text.replace(b"SURR", b"\\ud800")))
    r = cli("inspect", bad)
    assert r.code == 1 and "[B706]" in r.err and "surrogate" in r.err
    assert "Traceback" not in r.err
    # an escaped backslash before `ud800` is ordinary text
    ok = tmp_path / "ok.rtbl"
    ok.write_bytes(_table(text.replace(b"SURR", b"\\\\ud800")))
    assert tables.load(ok).shop == "\\ud800"
    assert cli("inspect", ok).code == 0
