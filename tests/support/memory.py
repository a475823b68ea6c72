"""The largest Python heap one call reaches, measured without the coverage tracer's own growth."""

import gc
import sys
import tracemalloc


def peak_heap(fn, *args, **kw):
    """(fn's result, the largest traced Python heap in bytes while it ran).

    Coverage's tracer keeps the lines and arcs it sees in Python sets; a set that outgrows its
    table doubles it inside whatever call is being measured (a 225 KB jump in a 380 KB
    measurement once made a flat curve look like growth under `make coverage-pure`). So the
    tracer is paused for the call and put back after; the garbage of earlier tests is
    collected first, so it is not freed, or not, inside the call."""
    gc.collect()
    tracer = sys.gettrace()
    sys.settrace(None)
    tracemalloc.start()
    try:
        result = fn(*args, **kw)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sys.settrace(tracer)
