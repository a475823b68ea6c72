"""The service's own refusals that a running server shows only in narrow windows: /readyz while
starting or shutting down (H120), and an error without a diagnostic answered as H199."""

import asyncio

import pytest

from rulec.errors import RulecError
from rulec.serve.app import Service
from rulec.serve.http import HttpError


def test_readyz_refuses_while_not_ready():
    service = Service(config=None, registry=None, metrics=None, dlog=None)
    service.ready = False  # what shutdown sets before the listener closes
    with pytest.raises(HttpError) as exc:
        asyncio.run(service.readyz(None))
    assert exc.value.status == 503 and exc.value.diagnostics[0].code == "H120"


def test_an_error_without_a_diagnostic_is_an_internal_error():
    err = HttpError.from_rulec(400, RulecError([]), "route")
    assert [d.code for d in err.diagnostics] == ["H199"]
