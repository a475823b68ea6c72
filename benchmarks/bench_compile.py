"""Compile time for 10 .. 10,000 groups (issue 2 target: 10,000 groups + 1,000 crowds < 2 s)."""

import pytest

from benchmarks.gen_rules import shop_source
from rulec.compiler.pipeline import compile_source


@pytest.mark.parametrize("groups,crowds", [(10, 10), (100, 50), (1000, 200), (10000, 1000)])
def test_compile(benchmark, groups, crowds):
    src = shop_source(groups, crowds)
    result = benchmark.pedantic(compile_source, args=(src, "bench.json"), rounds=3, iterations=1)
    assert result.ok, result.errors[:3]
    assert len(result.body["groups"]) == groups
