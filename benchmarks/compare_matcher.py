"""Before/after: another checkout's matcher against this one's, in one process, rounds interleaved.

On a shared machine two runs minutes apart are not comparable, so both matchers run in the
same process, round after round in turn, and each keeps its best round (CPU time). The other
checkout needs its extension built in place:

    git worktree add /tmp/pm-old main
    (cd /tmp/pm-old && ../../work/.../.venv/bin/python setup.py build_ext --inplace)
    .venv/bin/python -m benchmarks.compare_matcher /tmp/pm-old [--rounds 10] [--groups N]

Prints chats/s of match_many and match_columns (standard workload, benchmarks/workload.py)
and the hand-written baseline's (bench_matcher_baseline.py) for the ratios; with --groups N,
the build time (CPU s) of both on a gen_rules shop of N groups and N / 10 crowds instead.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import pathlib
import sys
import time
from array import array


def load_other(root: pathlib.Path):
    """The other checkout's pure plan and Cython module, as modules of their own."""
    mods = {}
    for name, rel in (("pure", "rulec/matching/pure.py"), ("rows", "rulec/matching/rows.py")):
        path = root / rel
        if not path.exists():
            continue
        spec = importlib.util.spec_from_file_location(f"other_{name}", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        if name == "rows":  # the other pure.py imports `rows` by its package name
            sys.modules["other_rows"] = mod
        spec.loader.exec_module(mod)
        mods[name] = mod
    so = next((root / "rulec/matching").glob("_matcher.cpython-*.so"))
    spec = importlib.util.spec_from_file_location("rulec.matching._matcher", so)
    assert spec and spec.loader
    saved = sys.modules.pop("rulec.matching._matcher", None)
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    if saved is not None:
        sys.modules["rulec.matching._matcher"] = saved
    return mods, ext


def best_of(rounds: int, fns: dict) -> dict:
    """name -> min CPU seconds over rounds, the functions run in turn every round."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.process_time()
            f()
            best[k] = min(best[k], time.process_time() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("other", type=pathlib.Path)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--groups", type=int)
    args = ap.parse_args(argv)
    from rulec.matching import matcher as M

    mods, ext = load_other(args.other)
    if "rows" in mods:
        print("note: the other checkout has rows.py too (pure twin loaded with it)")

    def other(body):
        return ext.CMatcher(mods["pure"].PyMatcher(body))

    if args.groups:
        return builds(args, other, M)
    from benchmarks.bench_matcher import columns_of
    from benchmarks.bench_matcher_baseline import HandMatcher
    from benchmarks.workload import workload

    body, chats = workload(chats=100_000)
    gc.collect()
    gc.freeze()
    old, new, hand = other(body), M.build_matcher(body, "cython"), HandMatcher(body)
    assert old.match_many(chats[:5000]) == new.match_many(chats[:5000])
    cols_old, cols_new = columns_of(old, chats), columns_of(new, chats)
    out = array("i", bytes(4 * len(chats)))
    fns = {
        "baseline": lambda: hand.match_many(chats),
        "match_many old": lambda: old.match_many(chats),
        "match_many new": lambda: new.match_many(chats),
        "match_columns old": lambda: old.match_columns(**cols_old, out=out),
        "match_columns new": lambda: new.match_columns(**cols_new, out=out),
    }
    for f in fns.values():  # warm every cache first
        f()
    best = best_of(args.rounds, fns)
    n = len(chats)
    for k, t in best.items():
        extra = f"  ({best['baseline'] / t:.2f}x baseline)" if k.startswith("match_many") else ""
        print(f"{k:>18}: {n / t:>12,.0f} chats/s  {t * 1e6 / n:.3f} us/chat{extra}")
    return 0


def builds(args, other, M) -> int:
    from benchmarks.gen_rules import shop_source
    from rulec.compiler.pipeline import compile_source
    from rulec.table import format as tables
    from rulec.table import schema

    # the dense-era row bound refuses large shops: lift both table limits for this body only
    schema.MAX_ROW_BITS, tables.MAX_DECODED = 1 << 62, 1 << 62
    r = compile_source(shop_source(args.groups, max(10, args.groups // 10), compact=True), "b.json")
    assert r.body is not None, r.errors[:2]
    body = r.body
    gc.collect()
    gc.freeze()
    fns = {
        "build old": lambda: other(body),
        "build new": lambda: M.build_matcher(body, "cython"),
    }
    for k, t in best_of(args.rounds, fns).items():
        print(f"{k:>10} ({args.groups:,} groups): {t:.3f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
