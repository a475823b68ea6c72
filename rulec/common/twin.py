"""Picks a compiled extension or its pure-Python twin (RULEC_PURE, RULEC_REQUIRE_EXTENSIONS).

The matcher (`rulec.matching._matcher`, twin `pure`) and the router's decision path
(`rulec.routing._decide`, twin `decide`) each come as a Cython extension and a pure-Python
twin giving the same answers. `load_twin` imports both: the extension when it is built;
RULEC_PURE=1 makes the twin live even so (`make test-pure`), and RULEC_REQUIRE_EXTENSIONS=1
(the Makefile and CI) makes a missing extension an error, S990, instead of a silent fall back
to the slow twin.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import attrs

from rulec.errors import RulecError


def pure_forced() -> bool:
    """RULEC_PURE=1: every compiled part stands aside for its pure-Python twin."""
    return os.environ.get("RULEC_PURE") == "1"


@attrs.frozen
class Twin:
    """An extension and its twin: `extension` is None when not built (`error` says why), and
    `implementation` names the live side, "cython" or "python"."""

    what: str
    extension: ModuleType | None
    pure: ModuleType
    error: str | None
    implementation: str

    def module(self, impl: str | None = None) -> ModuleType:
        """The module of `impl` ("cython", "python", None: the live one)."""
        impl = impl or self.implementation
        if impl == "python":
            return self.pure
        if impl != "cython":
            raise ValueError(f"unknown {self.what} implementation {impl!r}")
        if self.extension is None:
            raise RuntimeError(f"the Cython {self.what} is not available ({self.error})")
        return self.extension


def load_twin(extension: str, pure: str, what: str) -> Twin:
    """The extension module named `extension` (dotted) and its twin `pure`; `what` names the
    part in messages ("matcher", "decision path")."""
    try:
        module: ModuleType | None = importlib.import_module(extension)
        error = None
    except ImportError as exc:  # not built, or built for another Python
        module, error = None, str(exc)
    if module is None and os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1":
        raise RulecError.of(
            "S990",
            f"the Cython {what} ({extension}) is not built, and RULEC_REQUIRE_EXTENSIONS=1 "
            f"requires it: {error}",
            hints=(
                "run `make setup` (it builds missing extensions), or unset "
                "RULEC_REQUIRE_EXTENSIONS to run on the pure-Python twin",
            ),
        )
    live = "cython" if module is not None and not pure_forced() else "python"
    return Twin(what, module, importlib.import_module(pure), error, live)
