"""Every example in rules/ and the contract's YAML example compile, twice to the same bytes."""

import pathlib
import re

import pytest

from rulec.compiler.pipeline import compile_path, compile_source

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    p
    for p in (ROOT / "rules").iterdir()
    if p.suffix in (".rules", ".yaml", ".yml") and not p.stem.endswith("_test")  # tests: rulec test
)
CONTRACT = ROOT.parent / "shared" / "spec" / "contract.md"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_compiles_deterministically(path):
    first = compile_path(path)
    assert first.ok, [(d.code, d.message) for d in first.errors]
    assert not first.diagnostics, "examples should be warning-free"
    assert compile_path(path).data == first.data


def test_both_surfaces_of_the_tea_shop_give_the_same_table():
    a = compile_path(ROOT / "rules" / "shop-double12.rules")
    b = compile_path(ROOT / "rules" / "shop-double12.yaml")
    assert a.body == b.body


@pytest.mark.skipif(not CONTRACT.exists(), reason="shared/spec is not checked out beside the repo")
def test_contract_yaml_examples_compile():
    blocks = re.findall(r"```yaml\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
    assert blocks
    for text in blocks:
        r = compile_source(text, "contract.yaml")
        assert r.ok, [(d.code, d.message) for d in r.errors]
        assert compile_source(text, "contract.yaml").data == r.data
