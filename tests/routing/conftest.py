"""Routing tests: until rulec.runtime.matcher exists, tables get the local R5 shim."""
import pytest

from rulec.runtime.table import Table
from routing_helpers import ShimMatcher


@pytest.fixture(autouse=True)
def _matcher_shim(monkeypatch):
    try:
        import rulec.runtime.matcher  # noqa: F401
    except ImportError:
        monkeypatch.setattr(Table, "matcher", property(lambda self: ShimMatcher(self.body)))
    yield
