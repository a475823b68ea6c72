"""Code actions: a diagnostic whose hint says "did you mean `X`?" gets a quick fix that writes X
in place of the misspelt word."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

_SUGGESTION = re.compile(r"did you mean `([^`]+)`\?")
_QUOTED = re.compile(r"`([^`]+)`")


def fix_for(diag, lines) -> dict | None:
    """The quick fix of a compiler Diagnostic as LSP diagnostic data:
    {"fix": X, "range": [line, col, end_col]} (1-based), or None."""
    if diag.span is None:
        return None
    wanted = next((mt.group(1) for h in diag.hints for mt in [_SUGGESTION.search(h)] if mt), None)
    if wanted is None:
        return None
    line, col = diag.span.line, diag.span.col
    text = lines.line(line)
    written = [w for w in _QUOTED.findall(diag.message) if w != wanted]
    for word in written:
        at = text.find(word, col - 1)
        if at >= 0:
            return {"fix": wanted, "range": [line, at + 1, at + 1 + len(word)]}
    word, start = lines.word_at(line, col)
    if not word:
        return None
    return {"fix": wanted, "range": [line, start, start + len(word)]}


def code_actions(uri, lines, diagnostics) -> list:
    """Quick fixes for the LSP diagnostics the client sent back (their data carries the fix)."""
    out = []
    for d in diagnostics:
        data = d.data if isinstance(d.data, dict) else None
        if not data or "fix" not in data:
            continue
        line, col, end = data["range"]
        edit = lsp.TextEdit(lines.range(line, col, line, end), data["fix"])
        out.append(
            lsp.CodeAction(
                title=f"Change to `{data['fix']}`",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[d],
                is_preferred=True,
                edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
            )
        )
    return out
