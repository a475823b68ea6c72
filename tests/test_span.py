"""rulec.errors.Span keeps attrs' frozen-class behaviour with its faster __init__ (issue 15)."""

import pickle

import attrs
import pytest

from rulec.errors import Span


def test_fields_defaults_and_keywords():
    s = Span("f.rules", 2, 3, 4, 5)
    assert (s.file, s.line, s.col, s.end_line, s.end_col) == ("f.rules", 2, 3, 4, 5)
    assert Span("f", 1, 2) == Span(file="f", line=1, col=2, end_line=None, end_col=None)
    assert repr(s) == "Span(file='f.rules', line=2, col=3, end_line=4, end_col=5)"


def test_equal_spans_hash_alike_and_others_differ():
    assert hash(Span("f", 1, 2, 1, 3)) == hash(Span("f", 1, 2, 1, 3))
    assert Span("f", 1, 2, 1, 3) != Span("f", 1, 2, 1, 4)
    assert len({Span("f", 1, 2), Span("f", 1, 2), Span("g", 1, 2)}) == 2


def test_still_frozen():
    s = Span("f", 1, 2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.line = 5  # type: ignore[misc]
    assert s.line == 1


def test_evolve_pickle_and_bad_calls():
    s = Span("f", 1, 2, 3, 4)
    assert attrs.evolve(s, line=7) == Span("f", 7, 2, 3, 4)
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(TypeError):
        Span("f", 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Span("f", 1, 2, 3, 4, 5)  # type: ignore[call-arg]
