"""Matcher fixtures: every test runs on both implementations (Cython skipped only when not built)."""

import pytest
from matcher_bodies import make_body

from rulec.matching import matcher as M
from rulec.table.format import Table

IMPLS = ["python", "cython"]


@pytest.fixture(params=IMPLS)
def impl(request):
    if request.param == "cython" and M._matcher is None:
        pytest.skip(f"Cython matcher extension not built: {M.extension_error}")
    return request.param


@pytest.fixture
def build(impl):
    """build(groups, crowds=(), intents=()) -> matcher of the given implementation."""

    def _build(groups, crowds=(), intents=(), attributes=None):
        body = make_body(groups, crowds, intents, attributes)
        Table.from_body(body)  # schema check
        return M.build_matcher(body, impl)

    return _build
