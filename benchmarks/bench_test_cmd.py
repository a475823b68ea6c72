"""`rulec test` on a shop of 1,000 groups with 1,000 tests (issue 11 target: under 5 s).

Run: `.venv/bin/pytest benchmarks/bench_test_cmd.py --benchmark-only -q` (pytest-benchmark),
or `.venv/bin/python -m benchmarks.bench_test_cmd` for the figures of RESULTS-test-cmd.md
(wall and CPU time of the whole command, and of its parts, in one process)."""

import io
import pathlib
import sys
import tempfile
import time

import pytest

GROUPS = 1000


def shop(groups: int = GROUPS) -> tuple:
    """(rules, tests): groups g0..gN-1 each bound to a product (and every third to a crowd),
    two agents each; one test per group: its agents online, a chat for its product, the
    group, step and candidates expected."""
    rules = ["shop bench", "", "attribute level: int", "crowd vip = level >= 3", ""]
    rules += [f"agent a{i}" for i in range(groups * 2)]
    tests = []
    for i in range(groups):
        crowd = "  crowd vip\n" if i % 3 == 0 else ""
        rules.append(f"\ngroup g{i} {{\n  agents a{2 * i}, a{2 * i + 1}\n{crowd}  product p{i}\n}}")
        attrs = "    attrs {level: 1}\n" if i % 3 == 0 else ""
        tests.append(
            f'test "product p{i} goes to g{i}" {{\n  agent a{2 * i} online\n'
            f"  agent a{2 * i + 1} online pending 2\n  chat u{i} {{\n    product p{i}\n{attrs}"
            f"    expect group g{i}\n    expect step group\n    expect candidates g{i}\n  }}\n}}\n"
        )
    return "\n".join(rules) + "\n", "\n".join(tests)


def write(folder: pathlib.Path, groups: int = GROUPS) -> pathlib.Path:
    rules, tests = shop(groups)
    (folder / "bench.rules").write_text(rules, encoding="utf-8")
    (folder / "bench_test.rules").write_text(tests, encoding="utf-8")
    return folder


def run_cli(*args, command="test") -> tuple:
    from rulec.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main([command] + [str(a) for a in args], out, err)
    return code, out.getvalue()


@pytest.mark.parametrize("coverage", [False, True], ids=["plain", "coverage"])
def test_rulec_test_1000_groups_1000_tests(benchmark, tmp_path, coverage):
    write(tmp_path)
    args = [tmp_path] + (["--coverage"] if coverage else [])
    code, out = benchmark.pedantic(run_cli, args=args, rounds=3, iterations=1)
    assert code == 0 and "1000 passed, 0 failed" in out, out[-500:]


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - w, time.process_time() - c


def main():
    from rulec.testing import runner, suites
    from rulec.testing.discovery import expand

    with tempfile.TemporaryDirectory() as d:
        folder = write(pathlib.Path(d))
        runs = (
            ("rulec check (baseline: compile + capture analysis)", [], "check"),
            ("rulec test", [], "test"),
            ("rulec test --coverage", ["--coverage"], "test"),
        )
        base = None
        for label, args, command in runs:
            times = []
            for _ in range(3):
                (code, out), wall, cpu = _timed(
                    lambda a=args, c=command: run_cli(folder, *a, command=c)
                )
                assert code == 0 and (command == "check" or "1000 passed" in out), out[-300:]
                times.append((wall, cpu))
            best = min(c for _w, c in times)
            base = base or best
            print(
                label,
                " ".join(f"wall {w:.2f}s cpu {c:.2f}s" for w, c in times),
                f"| best cpu {best:.2f}s = {best / base:.2f} x check",
            )
        (loaded, _), wall, cpu = _timed(lambda: suites.load(expand([folder])[0]))
        print(f"parts: parse + compile rules and tests: wall {wall:.2f}s cpu {cpu:.2f}s")
        _res, wall, cpu = _timed(lambda: runner.run(loaded))
        print(f"parts: run 1000 tests: wall {wall:.2f}s cpu {cpu:.2f}s")


if __name__ == "__main__":
    sys.exit(main())
