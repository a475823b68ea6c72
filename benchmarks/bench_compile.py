"""Compile time of one shop in the three surfaces (.rules, YAML, JSON), issue 15: 10,000 groups +
1,000 crowds in < 2 s CPU in each. Figures are CPU seconds (the machine is shared), the minimum
of repeated compiles, and the ratio to an older checkout measured in the same run.

    .venv/bin/python -m benchmarks.bench_compile                       # this checkout
    .venv/bin/python -m benchmarks.bench_compile --old /tmp/pc-old     # + baseline and ratio
    .venv/bin/python -m benchmarks.bench_compile --parts               # inside a .rules parse
    .venv/bin/python -m pytest -c benchmarks/pytest.ini benchmarks/bench_compile.py  # smoke

`--old DIR` is a checkout with its own .venv (`git worktree add --detach DIR main && make -C
DIR setup`); both run benchmarks/compile_worker.py (this checkout's) on the same source files,
and the table bytes must be identical. RESULTS-compile.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

from benchmarks.gen_rules import shop_sources
from rulec.compiler.pipeline import compile_source

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKER = pathlib.Path(__file__).with_name("compile_worker.py")
SURFACES = ("rules", "yaml", "json")


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("groups,crowds", [(10, 10), (100, 50), (1000, 200)])
def test_compile(benchmark, groups, crowds, surface):
    src = shop_sources(groups, crowds)[surface]
    result = benchmark.pedantic(
        compile_source, args=(src, f"bench.{surface}"), rounds=3, iterations=1
    )
    assert result.ok, result.errors[:3]
    assert len(result.body["groups"]) == groups


def run_worker(checkout: pathlib.Path, files: list[str], repeat: int) -> dict:
    """{file: worker line} from compile_worker.py run by `checkout`'s own .venv and code."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("RULEC_PURE", None)
    out = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), str(WORKER), str(repeat), *files],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {row["file"]: row for row in map(json.loads, out.splitlines())}


def parts(text: str, repeat: int) -> dict:
    """Where a direct `.rules` parse goes (CPU s, min of `repeat`, collector paused): the
    lexer and LALR loop with empty callbacks, then with the reductions' node work and no-op
    methods, then the whole parse."""
    import time

    from rulec.common.gc_pause import gc_paused
    from rulec.compiler.frontend_predicate import MAX_DEPTH, MAX_PREDICATE, Positions
    from rulec.compiler.frontend_rules import RulesBuilder
    from rulec.grammar.direct import direct

    d = direct("rules_file", MAX_PREDICATE, MAX_DEPTH)

    def loop(callbacks):
        return d._parser(d._table, callbacks).parse(d.tokens(text), "rules_file")

    runs = {
        "lexer + LALR loop": lambda: loop({r.rule: lambda s: None for r in d.rules}),
        "+ node work": lambda: loop({r.rule: r.callback(lambda m, i: None) for r in d.rules}),
        "+ builder methods (whole parse)": lambda: d.parse(
            text, RulesBuilder(Positions("shop.rules"), text)
        ),
    }
    out = {}
    with gc_paused():
        for name, fn in runs.items():
            best = float("inf")
            for _ in range(repeat):
                t0 = time.process_time()
                fn()
                best = min(best, time.process_time() - t0)
            out[name] = best
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=pathlib.Path, help="an older checkout with its own .venv")
    ap.add_argument("--groups", type=int, default=10000)
    ap.add_argument("--crowds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parts", action="store_true", help="where a .rules parse goes, then stop")
    args = ap.parse_args(argv)
    if args.parts:
        text = shop_sources(args.groups, args.crowds)["rules"]
        for name, secs in parts(text, args.repeat).items():
            print(f"{name:34s} {secs:.2f} s CPU")
        print(f"load average: {os.getloadavg()[0]:.2f}")
        return 0
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for surface, text in shop_sources(args.groups, args.crowds).items():
            path = pathlib.Path(tmp) / f"shop.{surface}"
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        new = run_worker(ROOT, files, args.repeat)
        old = run_worker(args.old.resolve(), files, args.repeat) if args.old else {}
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{args.groups:,} groups + {args.crowds:,} crowds, CPU s, min of {args.repeat}")
    head = "| surface | new | parse | check | lower | pack |"
    print(head + (" old | old/new | same bytes |" if old else ""))
    print("|---" * (head.count("|") - 1 + (3 if old else 0)) + "|")
    for f in files:
        n, st = new[f], new[f]["stages"]
        row = f"| {pathlib.Path(f).suffix[1:]} | {n['cpu']:.2f} | " + " | ".join(
            f"{st[k]:.2f}" for k in ("parse", "check", "lower", "pack")
        )
        if old:
            o = old[f]
            same = "yes" if o["sha256"] == n["sha256"] else "NO"
            row += f" | {o['cpu']:.2f} | {o['cpu'] / n['cpu']:.2f}x | {same}"
        print(row + " |")
    return 0 if all(old[f]["sha256"] == new[f]["sha256"] for f in old) else 1


if __name__ == "__main__":
    sys.exit(main())
