"""Every routing scenario (tests/routing/cases and the shared conformance suite) gives the same
decisions and R10 traces through `rulec route --store redis://…` as with the memory store (E1
across stores), and meets its expectations."""

import json

import pytest
from test_routing_cases import CASES, check, run_scenario

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_scenario_redis_store(path, tmp_path, redis_url):
    sc = json.loads(path.read_text(encoding="utf-8"))
    mem = run_scenario(sc, tmp_path)
    red = run_scenario(sc, tmp_path, ["--store", redis_url])
    assert red == mem
    problems = [p for d, w in zip(red, sc["expect"]) for p in check(d, w)]
    assert not problems and len(red) == len(sc["expect"]), (sc["name"], problems)
