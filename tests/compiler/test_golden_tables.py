"""Compiled tables stay byte-identical (issue 15): the rules/ examples and the benchmark shop in
its three surfaces compile to the digests main's compiler gave before the parser was made
faster (tests/compiler/golden_tables.json)."""

import hashlib
import json
import pathlib

import pytest

import rulec
from benchmarks.gen_rules import shop_sources
from rulec.compiler.pipeline import compile_path, compile_source

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden_tables.json").read_text())
EXAMPLES = sorted(k for k in GOLDEN["tables"] if k.startswith("rules/"))
BENCH = sorted(k for k in GOLDEN["tables"] if k.startswith("bench/"))


def _digest(result) -> str:
    assert result.ok, [(d.code, d.message) for d in result.errors]
    return hashlib.sha256(result.data).hexdigest()


def test_golden_covers_every_example():
    on_disk = {
        f"rules/{p.name}"
        for p in (ROOT / "rules").iterdir()
        if p.suffix in (".rules", ".yaml", ".yml", ".json") and not p.stem.endswith("_test")
    }
    assert on_disk == set(EXAMPLES)
    assert GOLDEN["compiler_version"] == rulec.__version__  # a new version: regenerate on purpose


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_table_bytes_unchanged(name):
    assert _digest(compile_path(ROOT / name)) == GOLDEN["tables"][name]


@pytest.fixture(scope="module")
def bench_sources():
    return shop_sources(1000, 200)


@pytest.mark.parametrize("name", BENCH)
def test_benchmark_table_bytes_unchanged(name, bench_sources):
    surface = name.rsplit(".", 1)[1]
    file = name.split("/", 1)[1]
    assert _digest(compile_source(bench_sources[surface], file)) == GOLDEN["tables"][name]
