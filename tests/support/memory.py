"""The largest Python heap a call reaches, measured in a fresh interpreter of its own."""

import json
import os
import subprocess
import sys

_CHILD = """
import gc, importlib, json, sys, tracemalloc
module, name = sys.argv[1].rsplit(".", 1)
function = getattr(importlib.import_module(module), name)
peaks = []
for args in json.loads(sys.argv[2]):
    gc.collect()
    tracemalloc.start()
    result = function(*args)
    peaks.append([result, tracemalloc.get_traced_memory()[1]])
    tracemalloc.stop()
print(json.dumps(peaks))
"""


def peak_heaps(function: str, calls: list) -> list:
    """Call `function` ("module.name", importable from this process's sys.path) once per
    argument list in `calls`, in one fresh interpreter, and return [result, the largest traced
    Python heap in bytes during the call] for each. Arguments and results are JSON.

    Why a process of its own: tracemalloc counts every thread's allocations, and earlier tests
    leave threads running (the session's Dask client keeps its event loop busy), so in the
    full suite a longer call looked like a bigger one (375 KB against 596 KB at 4x the lines,
    on a flat stream); coverage's tracer also grows its own sets inside the call, so the child
    runs without it. The first call also pays for imports: pass a small warm-up call first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, function, json.dumps(calls)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
