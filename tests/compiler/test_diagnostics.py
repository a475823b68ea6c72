"""Data-driven diagnostics: each tests/compiler/cases/*.yaml (or .rules) file states what it expects.

A case file starts with `# expect: CODE [LINE:COL] [text]` lines (or `# expect: none`). The
compiler must report exactly those codes, at those positions, with messages containing the text.
"""

import pathlib
import re

import pytest

from rulec.compiler.pipeline import compile_path

CASES = sorted((pathlib.Path(__file__).parent / "cases").glob("*.*"))
EXPECT = re.compile(r"^# expect: (\S+)(?: (\d+):(\d+))?(?: (.*))?$")


def expectations(path):
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        mt = EXPECT.match(line)
        if mt:
            code, ln, col, text = mt.groups()
            if code != "none":
                out.append((code, int(ln) if ln else None, int(col) if col else None, text))
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_case(path):
    result = compile_path(path)
    want = expectations(path)
    got = result.diagnostics
    assert sorted({d.code for d in got}) == sorted({w[0] for w in want}), [
        f"{d.code} {d.span and (d.span.line, d.span.col)} {d.message}" for d in got
    ]
    for code, line, col, text in want:
        matching = [d for d in got if d.code == code]
        if line is not None:
            assert any(d.span and (d.span.line, d.span.col) == (line, col) for d in matching), [
                (d.span, d.message) for d in matching
            ]
        if text:
            assert any(text in d.message or any(text in h for h in d.hints) for d in matching), [
                (d.message, d.hints) for d in matching
            ]
    if not any(w[0][0] not in "W" for w in want):
        assert result.ok and result.table is not None


def test_every_code_the_compiler_emits_has_a_case():
    """Each diagnostic code of the compiler appears in at least one case file."""
    import rulec.compiler as pkg

    src = "\n".join(
        p.read_text(encoding="utf-8") for p in pathlib.Path(pkg.__file__).parent.rglob("*.py")
    )
    emitted = set(re.findall(r'"([PNTVW]\d{3})"', src))
    covered = {w[0] for p in CASES for w in expectations(p)}
    covered |= {"P101", "P102", "P104", "P110"}  # tested in test_bad_input.py
    assert emitted - covered == set()
