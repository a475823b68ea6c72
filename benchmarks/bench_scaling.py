"""Cost curves (issue 15): compile, table load, matcher build and match, 10 to 100,000 groups.

Every size is a shop from benchmarks/gen_rules.py with G groups and max(10, G / 10) crowds
(10 to 10,000), and every step goes through a public API:
- compile_json / compile_yaml / compile_rules: rulec.compiler.pipeline.compile_source of the
  shop in each surface (the YAML and .rules texts are printed from the JSON one);
- load: rulec.table.format.load of the compiled table file (matcher not built);
- build_cython / build_python: rulec.matching.matcher.build_matcher(body, impl); the pure
  twin is what RULEC_PURE=1 runs;
- match_cython / match_python: match_many over CHATS chats of the shop, caches warm (a
  first pass over the same chats ran before); first_match_cython / first_match_python:
  the first pass on a fresh matcher. The first pass evaluates every crowd predicate for each
  new combination of value classes (O(crowds) each) and there are more combinations as
  crowds split the values finer, so its cost grows as about min(chats, combinations) x
  crowds: it is measured and plotted but left out of the n log n check (UNCHECKED).
A step's cost is CPU time (time.process_time: the machine is shared, wall time means
little), the minimum over repeats; a step shorter than MIN_TIME runs in a loop and the
cost is per run. The check: from one size n1 to the next n2 (and from the first to the
last), a step's cost may grow at most MARGIN x (n2 log n2) / (n1 log n1) times; the script
exits 1 when a step grows faster. A size where a step fails (a limit of the table format,
say) is reported with its error and left out of the check.

Run from the repository root:
    .venv/bin/python -m benchmarks.bench_scaling              # 10 .. 100,000 groups
    .venv/bin/python -m benchmarks.bench_scaling --quick      # 10 .. 1,000 groups
Options: --steps a,b (a subset), --max-groups N, --repeats K, --out DIR (PNG plots of cost
against size, log-log, one per step and one of all; default benchmarks/plots), --json FILE,
--synthetic (adds a linear and a quadratic step of pure arithmetic: the quadratic one must
fail the check; tests/test_bench_scaling.py runs this).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZES = [10, 100, 1_000, 10_000, 100_000]
QUICK_SIZES = [10, 100, 1_000]
CHATS = 2_000
MARGIN = 1.5  # noise allowance on top of n log n
MIN_TIME = 0.05  # seconds of CPU per measurement, looping short steps
STEPS = [
    "compile_json",
    "compile_yaml",
    "compile_rules",
    "load",
    "build_cython",
    "build_python",
    "match_cython",
    "match_python",
    "first_match_cython",
    "first_match_python",
]
UNCHECKED = {"first_match_cython", "first_match_python"}
SYNTHETIC = ["synthetic_linear", "synthetic_quadratic"]


def crowds_for(groups: int) -> int:
    return max(10, groups // 10)


class Shop:
    """One size's inputs, made before any timing: sources, table file, body, chats."""

    def __init__(self, groups: int, workdir: str, steps: list[str]):
        from benchmarks.gen_rules import shop_chats, shop_source, shop_sources
        from rulec.compiler.pipeline import compile_source

        self.groups = groups
        if "compile_yaml" in steps or "compile_rules" in steps:
            self.sources = shop_sources(groups, crowds_for(groups), compact=True)
        else:
            self.sources = {"json": shop_source(groups, crowds_for(groups), compact=True)}
        r = compile_source(self.sources["json"], "bench.json")
        self.error = "; ".join(f"{d.code} {d.message}" for d in r.errors)[:200] or None
        self.body = r.body
        if self.body is None and r.shop is not None:
            # beyond the table format's limits (B715: a larger size than the standard ones, say):
            # the matcher steps still get the lowered body
            from rulec.compiler.passes import lower

            self.body = lower.run(r.shop)
        self.table = os.path.join(workdir, f"shop{groups}.rtbl")
        if r.data is not None:
            with open(self.table, "wb") as fh:
                fh.write(r.data)
        self.chats = shop_chats(groups, CHATS)
        self.warm: dict = {}  # impl -> matcher whose caches are warm


def _compile(surface):
    def run(shop: Shop):
        from rulec.compiler.pipeline import compile_source

        r = compile_source(shop.sources[surface], f"bench.{surface}")
        if r.errors:
            raise StepError("; ".join(f"{d.code} {d.message}" for d in r.errors)[:200])

    return run


def _load(shop: Shop):
    from rulec.table.format import load

    if shop.error:
        raise StepError(shop.error)
    load(shop.table)


def _build(impl):
    def run(shop: Shop):
        from rulec.matching.matcher import build_matcher

        if shop.body is None:
            raise StepError(shop.error or "no body")
        build_matcher(shop.body, impl)

    return run


def _match(impl, warm):
    def run(shop: Shop):
        from rulec.matching.matcher import build_matcher

        if shop.body is None:
            raise StepError(shop.error or "no body")
        m = shop.warm.get(impl) if warm else None
        if m is None:
            m = build_matcher(shop.body, impl)
            if warm:  # one matcher a size, its caches filled once
                m.match_many(shop.chats)
                shop.warm[impl] = m
        t = time.process_time()
        m.match_many(shop.chats)
        return time.process_time() - t  # the match alone, not the build

    return run


def _synthetic(power):
    def run(shop: Shop):
        n = shop.groups
        acc = 0
        for i in range(n**power // 10 + 1):
            acc += i
        return None

    return run


RUNNERS = {
    "compile_json": _compile("json"),
    "compile_yaml": _compile("yaml"),
    "compile_rules": _compile("rules"),
    "load": _load,
    "build_cython": _build("cython"),
    "build_python": _build("python"),
    "match_cython": _match("cython", True),
    "match_python": _match("python", True),
    "first_match_cython": _match("cython", False),
    "first_match_python": _match("python", False),
    "synthetic_linear": _synthetic(1),
    "synthetic_quadratic": _synthetic(2),
}


class StepError(Exception):
    """A step that cannot run at a size (its message goes into the report)."""


def measure(step: str, shop: Shop, repeats: int) -> float:
    """Min over repeats of the step's CPU seconds (per run, looping runs shorter than
    MIN_TIME)."""
    run = RUNNERS[step]
    best = math.inf
    for _ in range(repeats):
        loops, spent = 0, 0.0
        while spent < MIN_TIME:
            t = time.process_time()
            inner = run(shop)
            spent += inner if inner is not None else time.process_time() - t
            loops += 1
        best = min(best, spent / loops)
    return best


def check(results: dict, margin: float = MARGIN) -> list[str]:
    """What grows faster than n log n: one line per offending pair of sizes."""
    bad = []
    for step, points in results.items():
        if step in UNCHECKED:
            continue
        ok = [(n, c) for n, c in points if isinstance(c, float)]
        pairs = list(zip(ok, ok[1:]))
        if len(ok) > 2:
            pairs.append((ok[0], ok[-1]))
        for (n1, c1), (n2, c2) in pairs:
            allowed = margin * (n2 * math.log(n2)) / (n1 * math.log(n1))
            ratio = c2 / max(c1, 1e-9)
            if ratio > allowed:
                bad.append(
                    f"{step}: {n1:,} -> {n2:,} groups costs {ratio:.1f}x "
                    f"(n log n allows {allowed:.1f}x with margin {margin})"
                )
    return bad


def rss_growth(shop: Shop, impl: str) -> float | None:
    """Peak resident size growth (MB) of building the matcher, in a fresh process."""
    if shop.body is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(shop.body, fh)
    code = (
        "import json, resource, sys\n"
        "from rulec.matching.matcher import build_matcher\n"
        "body = json.load(open(sys.argv[1]))\n"
        "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "m = build_matcher(body, sys.argv[2])\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) / 1024)\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, fh.name, impl],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    return float(out)


def plot(
    results: dict, out: pathlib.Path, unit: str = "groups", prefix: str = "scaling", note: str = ""
) -> list[pathlib.Path]:
    """One log-log PNG per step (cost, and n and n log n through the first point) and one
    of all steps, `prefix`-STEP.png and `prefix`-all.png; `unit` names the size axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig_all, ax_all = plt.subplots(figsize=(8, 5.5))
    for step, points in results.items():
        ok = [(n, c) for n, c in points if isinstance(c, float)]
        if not ok:
            continue
        ns, cs = [n for n, _ in ok], [c for _, c in ok]
        ax_all.plot(ns, cs, marker="o", label=step)
        fig, ax = plt.subplots(figsize=(6, 4.2))
        ax.plot(ns, cs, marker="o", label=f"{step} (CPU s)")
        n0, c0 = ok[0]
        ax.plot(ns, [c0 * n / n0 for n in ns], "--", color="grey", label="n (from the first point)")
        ax.plot(
            ns,
            [c0 * n * math.log(n) / (n0 * math.log(n0)) for n in ns],
            ":",
            color="black",
            label="n log n",
        )
        _style(ax, f"{step}: cost against {unit}", unit)
        path = out / f"{prefix}-{step}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    _style(ax_all, f"every step: CPU seconds against {unit}{note}", unit)
    path = out / f"{prefix}-all.png"
    fig_all.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig_all)
    return written + [path]


def _style(ax, title, unit):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(unit)
    ax.set_ylabel("CPU seconds")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def table(results: dict, memory: dict) -> str:
    sizes = sorted({n for pts in results.values() for n, _ in pts})
    lines = [
        "| step | " + " | ".join(f"{n:,}" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for step, points in results.items():
        cells = dict(points)
        row = []
        for n in sizes:
            c = cells.get(n)
            row.append(f"{c:.4g} s" if isinstance(c, float) else (f"error: {c}" if c else ""))
        lines.append(f"| {step} | " + " | ".join(row) + " |")
    for impl, pts in memory.items():
        cells = dict(pts)
        row = [f"{cells[n]:.0f} MB" if cells.get(n) is not None else "" for n in sizes]
        lines.append(f"| build_{impl} peak RSS growth | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="10 .. 1,000 groups")
    ap.add_argument("--steps", help="comma-separated subset of: " + ", ".join(STEPS))
    ap.add_argument("--max-groups", type=int)
    ap.add_argument("--sizes", help="comma-separated group counts (instead of the standard ones)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "plots"))
    ap.add_argument("--json")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--memory", action="store_true", help="peak RSS of each build (subprocess)")
    ap.add_argument(
        "--replot", nargs="+", metavar="JSON", help="check and plot saved runs (--json) merged"
    )
    args = ap.parse_args(argv)
    if args.replot:
        return report(*merged(args.replot), None, args)
    steps = args.steps.split(",") if args.steps else list(STEPS)
    unknown = [s for s in steps if s not in RUNNERS]
    if unknown:
        ap.error(f"unknown steps: {', '.join(unknown)}")
    if args.synthetic:
        steps += SYNTHETIC
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    if args.max_groups:
        sizes = [n for n in sizes if n <= args.max_groups]
    results: dict = {s: [] for s in steps}
    memory: dict = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as work:
        for n in sizes:
            shop = Shop(n, work, steps)
            # the largest size runs twice at most: it is the heavy one
            repeats = min(args.repeats, 2) if n >= 100_000 else args.repeats
            for step in steps:
                try:
                    cost: float | str = measure(step, shop, repeats)
                except StepError as exc:
                    cost = str(exc)
                results[step].append((n, cost))
                print(f"{step:>20} {n:>8,} groups: {cost}", file=sys.stderr, flush=True)
            if args.memory:
                for impl in ("cython", "python"):
                    memory.setdefault(impl, []).append((n, rss_growth(shop, impl)))
            del shop
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return report(results, memory, args.json, args)


def merged(paths) -> tuple[dict, dict]:
    """The results and memory figures of saved runs, later files adding steps and sizes."""
    results: dict = {}
    memory: dict = {}
    for path in paths:
        with open(path) as fh:
            saved = json.load(fh)
        for into, key in ((results, "results"), (memory, "memory")):
            for step, points in saved.get(key, {}).items():
                have = dict(into.get(step, []))
                have.update({n: c for n, c in points})
                into[step] = sorted(have.items())
    return results, memory


def report(results: dict, memory: dict, json_out, args) -> int:
    """Check, print the table, plot; 1 when a step grows faster than n log n."""
    bad = check(results)
    print(table(results, memory))
    for p in plot(results, pathlib.Path(args.out), note=" (crowds = max(10, groups / 10))"):
        print(f"plot: {p}")
    if json_out:
        with open(json_out, "w") as fh:
            json.dump({"results": results, "memory": memory, "failures": bad}, fh, indent=1)
    if bad:
        print("FAIL: faster than n log n:\n  " + "\n  ".join(bad))
        return 1
    print("ok: every step grows at most n log n (with margin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
