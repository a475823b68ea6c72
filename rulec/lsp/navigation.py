"""Go to definition, find references, rename and the outline, over a document's Index."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from rulec.compiler.printer_rules import ID_RE

SYMBOL_KINDS = {
    "shop": lsp.SymbolKind.Module,
    "attribute": lsp.SymbolKind.Field,
    "crowd": lsp.SymbolKind.Class,
    "intent": lsp.SymbolKind.Interface,
    "agent": lsp.SymbolKind.Object,
    "group": lsp.SymbolKind.Namespace,
    "promo": lsp.SymbolKind.Event,
    "campaign": lsp.SymbolKind.Function,
}
# A name YAML reads back as the same plain string (no quotes needed).
_YAML_PLAIN = re.compile(r"[^\W\d][\w\-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


def occurrence_range(lines, occ) -> lsp.Range:
    return lines.range(occ.line, occ.col, occ.line, occ.end_col)


def definition(index, lines, uri, line, col) -> list:
    occ = index.at(line, col)
    if occ is None:
        return []
    return [
        lsp.Location(uri, occurrence_range(lines, d)) for d in index.definitions(occ.kind, occ.name)
    ]


def references(index, lines, uri, line, col, include_declaration=True) -> list:
    occ = index.at(line, col)
    if occ is None:
        return []
    return [
        lsp.Location(uri, occurrence_range(lines, o))
        for o in index.all_of(occ.kind, occ.name)
        if include_declaration or not o.is_def
    ]


def rename_target(index, lines, line, col):
    """(range, current name) of a renamable name at the cursor, or None."""
    occ = index.at(line, col)
    if occ is None or occ.kind == "shop" or not index.definitions(occ.kind, occ.name):
        return None
    return occurrence_range(lines, occ), occ.name


def bad_new_name(new_name: str, yaml: bool, taken=()) -> str | None:
    """Why `new_name` cannot replace a name (not writable unquoted, or declared already)."""
    if new_name in taken:
        return f"`{new_name}` is declared already"
    if yaml:
        ok = bool(_YAML_PLAIN.fullmatch(new_name)) and new_name.lower() not in _YAML_WORDS
    else:
        ok = bool(ID_RE.fullmatch(new_name))
    return None if ok else f"`{new_name}` is not a plain name (letters, digits, `_`, inner `-`)"


def rename(index, lines, uri, line, col, new_name) -> lsp.WorkspaceEdit | None:
    occ = index.at(line, col)
    if occ is None:
        return None
    edits = [
        lsp.TextEdit(occurrence_range(lines, o), new_name) for o in index.all_of(occ.kind, occ.name)
    ]
    return lsp.WorkspaceEdit(changes={uri: edits})


def symbols(index, lines) -> list:
    """The outline: every declaration, in file order."""
    out = []
    for o in index.items:
        if o.is_def and o.kind in SYMBOL_KINDS:
            r = occurrence_range(lines, o)
            out.append(lsp.DocumentSymbol(o.name, SYMBOL_KINDS[o.kind], r, r, detail=o.kind))
    return out
