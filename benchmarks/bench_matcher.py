"""R5 matcher benchmarks (issue 4): Cython vs the pure twin, the reference, a hand-written baseline, peers.

Run: .venv/bin/pytest benchmarks/bench_matcher.py --benchmark-only -q
The generated workload is moved out of the garbage collector's reach (gc.freeze(), as a
service would after loading) so that collections triggered by the result lists do not
re-scan 100,000 chat dicts; this applies to every contender alike. Each benchmark stores `chats_per_s` (and `us_per_chat`) in its extra_info; RESULTS-matcher.md
holds the figures and the ratios to the hand-written baseline of the same run. Every contender
is first checked to give the matcher's answers on a sample.
"""

import gc
import math
from array import array
from functools import cache

import pytest

from benchmarks.bench_matcher_baseline import HandMatcher
from benchmarks.workload import workload
from rulec.matching import matcher as M
from rulec.matching import reference
from rulec.table.format import Table

N = 100_000
needs_cython = pytest.mark.skipif(
    M._matcher is None, reason=f"Cython matcher not built: {M.extension_error}"
)


@cache
def standard():
    body, chats = workload(chats=N)
    Table.from_body(body)
    return frozen((body, chats))


def frozen(x):
    gc.collect()
    gc.freeze()
    return x


def _rate(benchmark, n):
    st = benchmark.stats.stats
    benchmark.extra_info["n"] = n
    benchmark.extra_info["chats_per_s"] = round(n / st.median)
    benchmark.extra_info["chats_per_s_best"] = round(n / st.min)
    benchmark.extra_info["us_per_chat"] = round(st.median / n * 1e6, 4)


def _check(m, body, chats, k=2000):
    sample = chats[:k]
    assert m.match_many(sample) == [reference.match(body, c) for c in sample]


@needs_cython
def test_match_many_cython(benchmark):
    """match_many over 100,000 contract chat dicts, warm caches (steady state)."""
    body, chats = standard()
    m = M.build_matcher(body, "cython")
    _check(m, body, chats)
    m.match_many(chats)
    benchmark.pedantic(m.match_many, (chats,), rounds=8, iterations=1, warmup_rounds=1)
    _rate(benchmark, len(chats))


@needs_cython
def test_match_many_cython_cold(benchmark):
    """match_many, first pass of a fresh matcher (every class combination met for the first time)."""
    body, chats = standard()
    benchmark.pedantic(
        lambda m: m.match_many(chats),
        setup=lambda: ((M.build_matcher(body, "cython"),), {}),
        rounds=5,
        iterations=1,
    )
    _rate(benchmark, len(chats))


@needs_cython
def test_match_cython(benchmark):
    """match, one call per chat (a Python loop over 20,000 chats)."""
    body, chats = standard()
    m = M.build_matcher(body, "cython")
    sample = chats[:20_000]
    m.match_many(sample)
    match = m.match

    def run():
        for c in sample:
            match(c)

    benchmark.pedantic(run, rounds=8, iterations=1, warmup_rounds=1)
    _rate(benchmark, len(sample))


def columns_of(m, chats):
    """Columnar inputs (see rulec.matching.matcher) built once from the chat dicts."""

    def codes(dim, get):
        return array("i", [m.code(dim, get(c)) for c in chats])

    def interned(get):
        vocab, ids, out = {}, [], array("i")
        for c in chats:
            v = get(c)
            if v is None:
                out.append(-1)
            else:
                if v not in vocab:
                    vocab[v] = len(ids)
                    ids.append(v)
                out.append(vocab[v])
        return out, ids

    def num(name):
        return array("d", [c["attrs"].get(name, math.nan) for c in chats])

    return dict(
        n=len(chats),
        product=codes("product", lambda c: c.get("product")),
        order=codes("order", lambda c: c.get("order")),
        intent=codes("intent", lambda c: c.get("intent")),
        crowd=codes("crowd", lambda c: (c.get("crowds") or [None])[0]),
        columns={
            "level": num("level"),
            "spent": num("spent"),
            "orders": num("orders"),
            "city": interned(lambda c: c["attrs"].get("city")),
            "message": interned(lambda c: c.get("message")),
        },
    )


@needs_cython
def test_match_columns_cython(benchmark):
    """match_columns over 100,000 chats held as columns (ids and attribute arrays)."""
    body, chats = standard()
    m = M.build_matcher(body, "cython")
    cols = columns_of(m, chats)
    out = array("i", bytes(4 * len(chats)))
    m.match_columns(**cols, out=out)
    names = m.outcomes()
    assert [list(names[i]) for i in out[:5000]] == m.match_many(chats[:5000])
    benchmark.pedantic(
        m.match_columns, kwargs=dict(cols, out=out), rounds=10, iterations=1, warmup_rounds=1
    )
    _rate(benchmark, len(chats))


def test_match_many_python(benchmark):
    """The pure-Python twin, match_many over 20,000 chats (warm)."""
    body, chats = standard()
    m = M.build_matcher(body, "python")
    _check(m, body, chats)
    sample = chats[:20_000]
    m.match_many(sample)
    benchmark.pedantic(m.match_many, (sample,), rounds=5, iterations=1)
    _rate(benchmark, len(sample))


def test_reference(benchmark):
    """The reference evaluator (walks the body per chat), 1,000 chats."""
    body, chats = standard()
    sample = chats[:1000]
    benchmark.pedantic(lambda: [reference.match(body, c) for c in sample], rounds=3, iterations=1)
    _rate(benchmark, len(sample))


def test_hand_baseline(benchmark):
    """The hand-written plain-Python baseline (generated predicate source, int masks), 100,000 chats."""
    body, chats = standard()
    m = HandMatcher(body)
    _check(m, body, chats)
    m.match_many(chats)
    benchmark.pedantic(m.match_many, (chats,), rounds=8, iterations=1)
    _rate(benchmark, len(chats))


PEERS = {
    "rule-engine": ("re", "rule_engine", 300),
    "cel-python": ("cel", "celpy", 30),
    "zen-engine": ("zen", "zen", 3000),
}


@pytest.mark.parametrize("peer", list(PEERS))
def test_peer(benchmark, peer):
    """A peer engine evaluating the same predicates (identical answers checked first)."""
    dialect, module, k = PEERS[peer]
    pytest.importorskip(module, reason=f"{peer} is not installed")
    from benchmarks.bench_matcher_peers import PeerMatcher

    body, chats = standard()
    m = PeerMatcher(body, dialect)
    sample = chats[:k]
    assert m.match_many(sample) == [reference.match(body, c) for c in sample]
    benchmark.pedantic(m.match_many, (sample,), rounds=3, iterations=1)
    _rate(benchmark, len(sample))


SCALE_CHATS = 20_000


@needs_cython
@pytest.mark.parametrize("groups", [16, 64, 256, 1024, 4096])
def test_scaling_groups(benchmark, groups):
    """match_many cost per chat, 16 to 4,096 groups (32 crowds; products grow with groups: max(1000, 16 x groups))."""
    body, chats = frozen(
        workload(groups=groups, crowds=32, products=max(1000, 16 * groups), chats=SCALE_CHATS)
    )
    m = M.build_matcher(body, "cython")
    _check(m, body, chats, 300)
    m.match_many(chats)
    benchmark.pedantic(m.match_many, (chats,), rounds=12, iterations=1)
    _rate(benchmark, len(chats))


@needs_cython
@pytest.mark.parametrize("groups", [16, 64, 256, 1024, 4096])
def test_scaling_groups_same_shape(benchmark, groups):
    """match_many cost per chat, 16 to 4,096 groups, the shop's shape kept: products 16 x groups
    picked uniformly by groups, about 6 groups binding crowds, so result sizes stay small."""
    body, chats = frozen(
        workload(
            groups=groups,
            crowds=32,
            products=max(1000, 16 * groups),
            chats=SCALE_CHATS,
            skewed_groups=False,
            crowd_share=min(0.35, 6 / groups),
        )
    )
    m = M.build_matcher(body, "cython")
    _check(m, body, chats, 300)
    m.match_many(chats)
    benchmark.pedantic(m.match_many, (chats,), rounds=12, iterations=1)
    _rate(benchmark, len(chats))


@needs_cython
@pytest.mark.parametrize("crowds", [8, 32, 128, 1024])
def test_scaling_crowds(benchmark, crowds):
    """match_many cost per chat as crowd predicates grow from 8 to 1,024 (64 groups)."""
    body, chats = frozen(workload(groups=64, crowds=crowds, chats=SCALE_CHATS))
    m = M.build_matcher(body, "cython")
    _check(m, body, chats, 300)
    m.match_many(chats)
    benchmark.pedantic(m.match_many, (chats,), rounds=12, iterations=1)
    _rate(benchmark, len(chats))


def report(path):
    """Markdown table (chats/s from the median and the best round, ratio to the baseline)."""
    import json

    data = json.load(open(path))["benchmarks"]
    base = next(b for b in data if b["name"] == "test_hand_baseline")["extra_info"]
    lines = [
        "| benchmark | chats | µs/chat (median) | chats/s (median) | chats/s (best) | x baseline (median / best) |",
        "|---|---|---|---|---|---|",
    ]
    for b in data:
        e = b["extra_info"]
        lines.append(
            f"| {b['name'][5:]} | {e['n']:,} | {e['us_per_chat']:.3f} | {e['chats_per_s']:,} | "
            f"{e['chats_per_s_best']:,} | {e['chats_per_s'] / base['chats_per_s']:.2f} / "
            f"{e['chats_per_s_best'] / base['chats_per_s_best']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(report(sys.argv[1]))
