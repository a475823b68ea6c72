"""One open document: its text, the compiler's diagnostics for it and the index of its last
successful parse (kept while the text does not parse, for completion)."""

from __future__ import annotations

import urllib.parse

from lsprotocol import types as lsp

from rulec.compiler.model import Shop
from rulec.compiler.pipeline import check_source, is_yaml_name
from rulec.lsp.actions import fix_for
from rulec.lsp.incremental import IncrementalRules
from rulec.lsp.index import Index
from rulec.lsp.positions import Lines

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


def file_of(uri: str) -> str:
    """The file name diagnostics carry: the path of a file: URI, else the URI itself."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    return uri


class Document:
    """The analysis of one document, redone by `update` when its text changes."""

    def __init__(self, uri: str, encoding: str = "utf-16"):
        self.uri = uri
        self.file = file_of(uri)
        self.yaml = is_yaml_name(self.file)
        self.encoding = encoding
        self.text: str | None = None
        self.lines = Lines("", encoding)
        self.diagnostics: list = []  # compiler Diagnostics of `text`
        self.fresh = False  # `text` parsed: the index is of it
        self._shop: Shop | None = None  # the model of the last text that parsed, and its lines
        self._shop_lines = self.lines
        self._index: Index | None = None
        self._rules = None if self.yaml else IncrementalRules()

    def update(self, text: str) -> bool:
        """Analyse `text` unless it is the text analysed last; True when it was analysed."""
        if text == self.text:
            return False
        self.text, self.lines = text, Lines(text, self.encoding)
        parse = None if self._rules is None else self._rules.parse  # None for YAML
        result = check_source(text, self.file, parse=parse)
        self.diagnostics = result.diagnostics
        self.fresh = result.shop is not None
        if self.fresh:
            self._shop, self._shop_lines, self._index = result.shop, self.lines, None
        return True

    @property
    def index(self) -> Index | None:
        """The index of the last text that parsed, built when first asked for (diagnostics,
        the one thing done on every change, do not need it)."""
        if self._index is None and self._shop is not None:
            self._index = Index(self._shop, self._shop_lines)
        return self._index

    def lsp_diagnostics(self) -> list:
        out = []
        for d in self.diagnostics:
            message = d.message + "".join(f"\n= help: {h}" for h in d.hints)
            out.append(
                lsp.Diagnostic(
                    range=self.lines.span_range(d.span),
                    message=message,
                    severity=SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
                    code=d.code,
                    source="rulec",
                    data=fix_for(d, self.lines),
                )
            )
        return out

    def position(self, pos: lsp.Position) -> tuple:
        return self.lines.from_lsp(pos)
