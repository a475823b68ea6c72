"""The C audience-line scanner (rulec/outreach/_scan.pyx, issue 15) against the decoders it
stands in for, on bench_planner's audience lines: CPU time per line and ratios, one process.

python -m benchmarks.bench_scan 200000   # N lines (default 200,000), best of 5 rounds each

Both on the audience as bench_planner writes it (non-ASCII as it is) and on the same audience
written with json.dumps' default ensure_ascii=True (non-ASCII as escapes, which the scanner
takes in attribute values, crowd labels and cart items).
pytest -c benchmarks/pytest.ini --rootdir=. benchmarks/bench_scan.py --benchmark-only

Measured: `count_common` (scan_line on every line, no Python object per line), json.loads of
each line, msgspec's decode of each line, and msgspec's decode of the lines joined as one
array (what audience.py does with a batch). CPU time (time.process_time), because the
machine is shared; the load average is printed beside the figures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import msgspec
import pytest

from benchmarks.bench_planner import write_audience
from rulec.outreach import _scan


def audience_lines(n: int, ensure_ascii: bool = False) -> list[bytes]:
    """bench_planner's seeded audience: n lines of bytes, newline kept (as the planner reads);
    with ensure_ascii, each line written again by json.dumps' default (escaped non-ASCII)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.jsonl")
        write_audience(path, n)
        with open(path, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)
    if ensure_ascii:
        lines = [json.dumps(json.loads(b)).encode() + b"\n" for b in lines]
    return lines


def contenders() -> dict:
    """name -> a function of the line list (each decodes or scans every line once)."""
    dec = msgspec.json.Decoder()
    loads = json.loads

    def scanner(lines):
        assert _scan.count_common(lines) == len(lines)  # every bench line is the common shape

    return {
        "scan_line (C)": scanner,
        "json.loads per line": lambda lines: [loads(b) for b in lines],
        "msgspec per line": lambda lines: [dec.decode(b) for b in lines],
        "msgspec batch array": lambda lines: dec.decode(b"[" + b",".join(lines) + b"]"),
    }


def best_cpu(fn, lines, rounds: int) -> float:
    """The least CPU seconds of `rounds` runs of fn(lines)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn(lines)
        best = min(best, time.process_time() - t0)
    return best


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 200_000
    for ensure_ascii in (False, True):
        lines = audience_lines(n, ensure_ascii)
        size = sum(map(len, lines)) / n
        times = {name: best_cpu(fn, lines, 5) for name, fn in contenders().items()}
        base = times["scan_line (C)"]
        print(
            f"{n:,} audience lines of {size:.0f} bytes on average, ensure_ascii={ensure_ascii};"
            " CPU time, best of 5 rounds"
        )
        for name, t in times.items():
            print(f"  {name:22s} {t * 1e9 / n:8.1f} ns/line  {t / base:6.1f}x scan_line")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("name", list(contenders()))
def test_scan_vs_decoders(benchmark, name, ensure_ascii):
    lines = audience_lines(20_000, ensure_ascii)
    benchmark.pedantic(contenders()[name], args=(lines,), rounds=5)


if __name__ == "__main__":
    main(sys.argv)
