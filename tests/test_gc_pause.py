"""rulec/common/gc_pause.py: the collector is off inside a block and on after it; a block that
leaves many objects alive hands them to the old generation without walking them (issue 15)."""

import gc
import weakref

from rulec.common import gc_pause
from rulec.common.gc_pause import gc_paused


class _Cycle:
    def __init__(self):
        self.me = self


def test_paused_inside_and_resumed_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block leaves the collector to the outer one
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_after_an_exception():
    try:
        with gc_paused():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()


def test_many_survivors_go_to_the_old_generation_and_are_still_collected():
    gc.collect()
    with gc_paused():
        kept = [[i] for i in range(gc_pause.PROMOTE_AFTER + 10_000)]  # tracked objects
        cycle = _Cycle()
    assert gc.isenabled()
    assert not gc.get_freeze_count()  # nothing is left frozen
    assert _in_old_generation(kept) and _in_old_generation(cycle)  # promoted, not walked
    gone = weakref.ref(cycle)
    del cycle, kept
    gc.collect()  # a full collection still frees cyclic garbage the block made
    assert gone() is None


def test_few_survivors_stay_young():
    gc.collect()
    with gc_paused():
        kept = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert not _in_old_generation(kept)  # a small block's objects age as usual


def _in_old_generation(obj) -> bool:
    return any(o is obj for o in gc.get_objects(generation=2))
