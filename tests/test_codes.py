"""The code registry (rulec/common/codes.py): each code one meaning, raised through one helper,
listed once in docs/diagnostics.md and produced by at least one test."""

import ast
import collections
import pathlib
import re

import pytest

import rulec
from rulec.common.codes import CODES
from rulec.errors import Diagnostic, InputError, RulecError, StoreError, diag

PKG = pathlib.Path(rulec.__file__).parent
REPO = PKG.parent
SHAPE = re.compile(r"[A-Z]\d{3}")


def _python_files():
    return sorted(PKG.rglob("*.py"))


def code_literals():
    """{code: [file:line]} of every code-shaped string constant in rulec/ (the .pyx by regex)."""
    found = collections.defaultdict(list)
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SHAPE.fullmatch(node.value):
                    found[node.value].append(f"{path.relative_to(REPO)}:{node.lineno}")
    for path in sorted(PKG.rglob("*.pyx")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for code in re.findall(r"[\"']([A-Z]\d{3})[\"']", line):
                found[code].append(f"{path.relative_to(REPO)}:{n}")
    return found


def documented_rows():
    """Counter of the codes heading a table row of docs/diagnostics.md (`| CODE | ...`)."""
    doc = (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    return collections.Counter(re.findall(r"^\| ([A-Z]\d{3}) \|", doc, re.MULTILINE))


def test_registry_holds_only_codes_with_titles():
    for code, title in CODES.items():
        assert SHAPE.fullmatch(code), code
        assert isinstance(title, str) and title.strip(), code


def test_every_code_raised_in_rulec_is_registered():
    unregistered = {c: where for c, where in code_literals().items() if c not in CODES}
    assert not unregistered, f"add these to rulec/common/codes.py: {unregistered}"


def test_every_registered_code_is_raised_somewhere():
    """A registered code nothing raises is a stale entry (or the raise was lost)."""
    assert set(CODES) - set(code_literals()) == set()


def test_diagnostics_are_made_only_by_diag():
    """No `Diagnostic(...)` outside rulec/errors.py: `diag` (or `RulecError.of`) checks the code."""
    direct = []
    for path in _python_files():
        if path == PKG / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Diagnostic":
                direct.append(f"{path.relative_to(REPO)}:{node.lineno}")
    for path in sorted(PKG.rglob("*.pyx")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bDiagnostic\(", line):
                direct.append(f"{path.relative_to(REPO)}:{n}")
    assert not direct, f"use rulec.errors.diag / RulecError.of instead: {direct}"


def test_diag_refuses_an_unregistered_code():
    with pytest.raises(ValueError, match="Z999"):
        diag("Z999", "no such code")
    with pytest.raises(ValueError, match="Z999"):
        StoreError.of("Z999", "no such code")


def test_diag_and_of_build_the_diagnostic():
    assert diag("V401", "m", None, "warning", ["h"]) == Diagnostic(
        "V401", "m", None, "warning", ("h",)
    )
    exc = InputError.of("E806", "bad field", hints=("did you mean `buyer`?",))
    assert isinstance(exc, RulecError) and exc.code == "E806" and str(exc) == "bad field"
    assert exc.diagnostics == [diag("E806", "bad field", hints=("did you mean `buyer`?",))]


def test_every_registered_code_is_listed_once_in_the_docs():
    rows = documented_rows()
    assert sorted(c for c, n in rows.items() if n > 1) == []
    assert set(CODES) - set(rows) == set(), "not in docs/diagnostics.md"
    assert set(rows) - set(CODES) == set(), "documented but not registered"


def test_every_registered_code_is_produced_by_a_test():
    """Each code appears in a test or a test case file (which expects it)."""
    me = pathlib.Path(__file__).resolve()
    text = []
    for path in (REPO / "tests").rglob("*"):
        if path.is_file() and path.resolve() != me and "__pycache__" not in path.parts:
            text.append(path.read_bytes().decode("utf-8", "replace"))
    seen = set(re.findall(r"\b([A-Z]\d{3})\b", "\n".join(text)))
    assert set(CODES) - seen == set(), "no test produces these"
