"""benchmarks/bench_scaling.py (issue 15): the script runs, plots, and its n log n check fails
on a step that grows faster (a synthetic quadratic one), never on one that does not."""

import math
import pathlib
import subprocess
import sys

from benchmarks import bench_scaling as S

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_check_flags_growth_faster_than_n_log_n():
    sizes = [10, 100, 1000, 10000]
    results = {
        "linear": [(n, 0.001 * n) for n in sizes],
        "n_log_n": [(n, 0.001 * n * math.log(n)) for n in sizes],
        "quadratic": [(n, 1e-6 * n * n) for n in sizes],
        "n_log2_n": [(n, 0.001 * n * math.log(n) ** 2) for n in sizes],
        "failed_at_the_top": [(10, 0.1), (100, 1.0), (1000, "B715 too large")],
        "first_match_python": [(n, 1e-6 * n * n) for n in sizes],  # measured, not checked
    }
    bad = S.check(results)
    flagged = {line.split(":")[0] for line in bad}
    assert flagged == {"quadratic", "n_log2_n"}, bad
    # 10 -> 100 groups: 100x for a quadratic step against 1.5 x 20 = 30x allowed
    assert any(line.startswith("quadratic: 10 -> 100 groups costs 100.0x") for line in bad)


def test_quick_run_writes_plots_and_fails_on_the_quadratic_step(tmp_path):
    steps = "build_cython,build_python,match_python"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_scaling",
            "--quick",
            "--steps",
            steps,
            "--synthetic",
            "--repeats",
            "1",
            "--out",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 1, p.stdout + p.stderr
    fails = p.stdout.split("FAIL: faster than n log n:", 1)[1]
    # 10 -> 100 groups is a few microseconds of work either side, so timer noise may hide its
    # growth; from 100 groups on the quadratic step must be caught.
    assert "synthetic_quadratic: 100 -> 1,000 groups" in fails
    assert "synthetic_linear" not in fails
    assert "| build_cython | " in p.stdout and "load average" in p.stdout
    for step in steps.split(",") + ["synthetic_quadratic", "all"]:
        png = tmp_path / f"scaling-{step}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
