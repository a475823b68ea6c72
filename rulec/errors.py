"""The one error type of every stage: a diagnostic with code, location, message and hints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import attrs

from rulec.common.codes import CODES

E = TypeVar("E", bound="RulecError")


@attrs.frozen
class Span:
    """A place in a source file (1-based line and column)."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None


_SPAN_SETS = tuple(getattr(Span, n).__set__ for n in ("file", "line", "col", "end_line", "end_col"))


def _span_init(
    self: Span,
    file: str,
    line: int,
    col: int,
    end_line: int | None = None,
    end_col: int | None = None,
    *,
    _set: tuple[Any, ...] = _SPAN_SETS,
) -> None:
    """Span's __init__: the slot stores attrs' frozen __init__ makes, each through the slot's
    own descriptor instead of `object.__setattr__` looked up by name (a large compile makes
    a Span per name and per statement, 160,000 for 10,000 groups; issue 15). The class stays
    frozen: assigning a field still raises."""
    set_file, set_line, set_col, set_end_line, set_end_col = _set
    set_file(self, file)
    set_line(self, line)
    set_col(self, col)
    set_end_line(self, end_line)
    set_end_col(self, end_col)


Span.__init__ = _span_init  # type: ignore[method-assign]


@attrs.frozen
class Diagnostic:
    """One finding: `code` names its kind (see docs/diagnostics.md), `span` where it is."""

    code: str
    message: str
    span: Span | None = None
    severity: str = "error"  # "error" | "warning"
    hints: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_json(self) -> dict[str, Any]:
        s = self.span
        return {
            "file": s.file if s else None,
            "line": s.line if s else None,
            "col": s.col if s else None,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hints": list(self.hints),
        }


class RulecError(Exception):
    """Raised by any stage with one or more diagnostics; rendered once, by the CLI."""

    def __init__(
        self, diagnostics: Diagnostic | Iterable[Diagnostic], message: str | None = None
    ) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(message or (first.message if first else "error"))

    @classmethod
    def of(
        cls: type[E], code: str, message: str, span: Span | None = None, hints: Iterable[str] = ()
    ) -> E:
        """This error with one diagnostic made by `diag`: `raise StoreError.of("S905", ...)`."""
        return cls([diag(code, message, span, "error", hints)])

    @property
    def code(self) -> str:
        return self.diagnostics[0].code if self.diagnostics else ""


def diag(
    code: str,
    message: str,
    span: Span | None = None,
    severity: str = "error",
    hints: Iterable[str] = (),
) -> Diagnostic:
    """The one way to make a Diagnostic: refuses a code missing from rulec/common/codes.py."""
    if code not in CODES:
        raise ValueError(f"diagnostic code {code!r} is not registered in rulec/common/codes.py")
    return Diagnostic(code, message, span, severity, tuple(hints))


class TableError(RulecError):
    """A table file is corrupt, truncated, foreign, unsigned or wrongly signed."""


class InputError(RulecError):
    """An event, state, audience or activity line is malformed."""


class StoreError(RulecError):
    """A state store or ledger is unreachable, foreign or damaged."""


def did_you_mean(word: str, choices: Iterable[object]) -> tuple[str, ...]:
    """Hints for a misspelt name: the closest of `choices` (difflib), if any is close."""
    import difflib

    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.5)
    return (f"did you mean `{close[0]}`?",) if close else ()
