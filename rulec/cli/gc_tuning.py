"""Process-wide garbage-collector tuning for long CLI runs (an application's choice, not the library's)."""

from __future__ import annotations

import contextlib
import gc
import threading

GC_GEN0 = 50_000  # the cyclic collector's first threshold while planning
_lock = threading.Lock()
_state = {"users": 0, "saved": None}


@contextlib.contextmanager
def fewer_collections():
    """Raise the collector's first threshold (700 by default) to GC_GEN0 inside the block.

    A planning run allocates millions of short-lived tuples and dicts, none of them in cycles;
    at the default threshold the young-generation collections cost a fifth to a third of the
    run's CPU (benchmarks/RESULTS-planner.md). Cycles are still collected, only less often.
    Blocks in several threads share one setting: the first one in raises it, the last one out
    restores what it found, and a threshold someone else changed meanwhile (or 0, collection
    disabled) is left alone."""
    with _lock:
        if _state["users"] == 0:
            old = gc.get_threshold()
            _state["saved"] = None
            if 0 < old[0] < GC_GEN0:
                _state["saved"] = old
                gc.set_threshold(GC_GEN0, *old[1:])
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            old = _state["saved"]
            if _state["users"] == 0 and old is not None:
                if gc.get_threshold() == (GC_GEN0, *old[1:]):
                    gc.set_threshold(*old)
                _state["saved"] = None
