"""Table limits (docs/table-format.md, "Limits"): crafted tables are refused before the work
they ask for is done (bounded decompression, a value count before parsing, a bound on the
matcher's bitsets); the compiler refuses to write a table beyond them (B715)."""

import json
import os
import pathlib
import subprocess
import sys
import tracemalloc
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
if len(sys.argv) > 2:
    tables.MAX_DECODED = int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    tables.Table.from_bytes(data)
    code, msg = None, ""
except TableError as exc:
    code, msg = exc.code, str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "msg": msg, "growth": (after - before) * 1024}))
"""


def _refused_within(data: bytes, peak_mib: int, tmp_path, code="B706", limit=None) -> str:
    """Load `data` in a fresh process (MAX_DECODED set to `limit` there when given): refused
    with `code`, and the process's peak resident size grows by less than peak_mib while
    loading (ru_maxrss, a high-water mark)."""
    f = tmp_path / "crafted.rtbl"
    f.write_bytes(data)
    extra = [str(limit)] if limit else []
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(f), *extra], capture_output=True, text=True, cwd=ROOT
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
    [(b"[],", 8), (b"{},", 8), (b"0,", 8), (b'"",', 8), (b"   ", 8)],
    ids=["lists", "dicts", "ints", "strs", "spaces"],
)
def test_zlib_bombs_are_refused_early(unit, peak, tmp_path):
    """~100 KB of zlib that says ~100 MB of JSON (the attack that grew a process by 6.5 GB):
    refused while only measuring, a megabyte at a time, at the memory bound or at the
    32 MiB size limit for blank space, before any of the text is kept."""
    data = tables.pack_payload(_bomb(unit, 100 * MiB), b"\0" * 32, "0.1.0")
    assert len(data) < 120_000
    msg = _refused_within(data, peak, tmp_path)
    assert "too large" in msg


def test_at_the_memory_bound_the_work_is_bounded(tmp_path):
    """The largest document the bound lets through costs at most the bound, then fails the
    schema (MAX_DECODED lowered to 64 MiB in the loading process, so the test stays small);
    one unit more is refused before parsing."""
    limit = 64 * MiB
    unit = tables.decoded_bound(b"[]," * 2) - tables.decoded_bound(b"[],")
    n = (limit - tables.decoded_bound(b"[[]]")) // unit
    text = b"[" + b"[]," * n + b"[]]"
    assert tables.decoded_bound(text) <= limit < tables.decoded_bound(text + b"," * 1000)
    msg = _refused_within(_table(text), 64, tmp_path, limit=limit)
    assert "malformed" in msg
    msg = _refused_within(_table(b"[" + b"[]," * (n + 10) + b"[]]"), 8, tmp_path, limit=limit)
    assert "too large" in msg and "MiB" in msg


def _json_cost(text: bytes) -> int:
    """What decoding a JSON text takes at its peak: the text, plus every allocation while
    json.loads runs (tracemalloc)."""
    tracemalloc.start()
    try:
        value = json.loads(text.decode("utf-8"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del value
    return len(text) + peak


N = 50_000
SHAPES = {
    "empty lists": b"[" + b"[]," * N + b"[]]",
    "nested lists": b"[" + b"[[]]," * N + b"[]]",
    "empty dicts": b"[" + b"{}," * N + b"{}]",
    "one-key dicts": b"[" + b",".join(b'{"%d":0}' % i for i in range(N)) + b"]",
    "distinct keys": b"{" + b",".join(b'"%d":[]' % i for i in range(N)) + b"}",
    "numbers": b"[" + b",".join(b"%d,%d.5" % (i + 1000, i) for i in range(N)) + b"]",
    "big numbers": b"[" + b",".join(b"7" * 300 for _ in range(N // 10)) + b"]",
    "short strings": b"[" + b",".join(b'"%d"' % i for i in range(N)) + b"]",
    "CJK strings": ("[" + ",".join(f'"一{i}"' for i in range(N)) + "]").encode(),
    "latin-1 strings": ("[" + ",".join(f'"é{i}"' for i in range(N)) + "]").encode(),
    "emoji strings": ("[" + ",".join(f'"😀{i}"' for i in range(N)) + "]").encode(),
    "escapes": b"[" + b",".join(b'"%d\\u4e00"' % i for i in range(N)) + b"]",
    "long escaped string": b'["' + b"a" * (20 * N) + b'\\u4e00"]',
    "long emoji string": ('["😀' + "a" * (20 * N) + '\\u00e9"]').encode(),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_bound_covers_what_decoding_costs(shape):
    """decoded_bound, worked out from the text alone, is at least what json.loads takes, for
    the shapes that cost most per byte (containers, keys, numbers, wide strings, escapes)."""
    text = SHAPES[shape]
    assert _json_cost(text) <= tables.decoded_bound(text)


def test_a_compiled_table_costs_less_than_its_bound():
    body = _small_body()
    body["groups"] = body["groups"] * 2000
    text = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    cost, bound = _json_cost(text), tables.decoded_bound(text)
    assert cost <= bound < 4 * cost


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
    monkeypatch.setattr(tables, "MAX_DECODED", 10_000)
    r = compile_source(SMALL, "s.rules")
    assert [d.code for d in r.errors] == ["B715"] and "decoded values" in r.errors[0].message


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


def _scaled(body: dict, k: int) -> dict:
    """`body` k times over: groups, agents and crowds renamed per copy, tree values too (order
    states are shared), group indices shifted (what a shop k times larger compiles to)."""
    n = len(body["groups"])
    out = dict(body, groups=[], agents=[], crowds=[])
    tree = {"dims": body["tree"]["dims"], "bound": {}, "index": {}}
    for c in range(k):
        sfx = f"_{c}" if c else ""
        for g in body["groups"]:
            crowd = [x + sfx for x in g["crowd"]]
            agents = [a + sfx for a in g["agents"]]
            out["groups"].append(dict(g, name=g["name"] + sfx, agents=agents, crowd=crowd))
        out["agents"] += [dict(a, id=a["id"] + sfx) for a in body["agents"]]
        out["crowds"] += [dict(p, name=p["name"] + sfx) for p in body["crowds"]]
        for d, ids in body["tree"]["bound"].items():
            tree["bound"].setdefault(d, []).extend(i + c * n for i in ids)
        for d, index in body["tree"]["index"].items():
            into = tree["index"].setdefault(d, {})
            for v, ids in index.items():
                into.setdefault(v if d == "order" else v + sfx, []).extend(i + c * n for i in ids)
    out["tree"] = tree
    return out


LOAD_100K = """
import json, resource, sys, time
from rulec.table import format as tables
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = tables.load(sys.argv[1])
m = t.matcher
chat = {"product": "nope", "order": "unpaid", "attrs": {"level": 5, "spent": 30000}}
print(json.dumps({"groups": len(t.groups), "crowds": len(t.body["crowds"]),
                  "matched": len(m.match(chat)), "impl": m.implementation,
                  "growth": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024}))
"""


def test_a_100000_group_table_loads_and_builds_within_500_mb(tmp_path):
    """100,000 groups and 10,000 crowds (the compile benchmark's 10,000-group shop ten times
    over, 28 MB of JSON) load and build a matcher through the table format: the loader's
    memory bound admits it, and load + matcher build stay under 500 MB of peak growth, for
    both twins."""
    from benchmarks.gen_rules import shop_source

    r = compile_source(shop_source(10_000, 1_000, compact=True), "b.json")
    body = _scaled(r.body, 10)
    data = tables.pack(body, b"\0" * 32, "0.1.0")  # B715 when beyond the limits
    body = None
    path = tmp_path / "big.rtbl"
    path.write_bytes(data)
    for pure in ("", "1"):
        env = {k: v for k, v in os.environ.items() if k != "RULEC_PURE"}
        env.update({"RULEC_PURE": pure} if pure else {})
        p = subprocess.run(
            [sys.executable, "-c", LOAD_100K, str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert (got["groups"], got["crowds"]) == (100_000, 10_000)
        assert got["matched"] > 0 and (got["impl"] == "python" or not pure)
        assert got["growth"] < 500 * MiB, f"{got['impl']}: peak grew {got['growth'] / MiB:.0f} MiB"
