"""The pygls wiring of `rulec lsp`: document sync with debounced diagnostics, and one handler per
request, each delegating to the module that does the job."""

from __future__ import annotations

import asyncio
import gc

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from rulec import __version__
from rulec.errors import RulecError
from rulec.lsp import actions, completion, hover, navigation
from rulec.lsp.document import Document

DEBOUNCE_MS = 75  # typing pauses shorter than this are not analysed
COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword,
    "value": lsp.CompletionItemKind.EnumMember,
    "attribute": lsp.CompletionItemKind.Field,
}


class RulesServer(LanguageServer):
    """A language server that keeps one Document per open rules file."""

    def __init__(self, debounce_ms: int = DEBOUNCE_MS):
        super().__init__("rulec", __version__)
        self.debounce = debounce_ms / 1000
        self.docs: dict[str, Document] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def doc(self, uri: str) -> Document:
        """The document at `uri`, analysed up to its current text (a request that arrives
        inside the debounce pause sees the text the client has)."""
        text = self.workspace.get_text_document(uri).source
        doc = self.docs.get(uri)
        if doc is None:
            encoding = str(self.workspace.position_encoding or "utf-16")
            doc = self.docs[uri] = Document(uri, encoding)
        doc.update(text)
        return doc

    def publish(self, uri: str) -> None:
        self._cancel(uri)
        if uri not in self.docs and not self._is_open(uri):
            return
        doc = self.doc(uri)
        # The parse cache is long-lived and large; freezing it keeps the collector's full
        # passes (hundreds of ms on a 1,000-group file) out of the next analyses. The young
        # generations are collected first so that fresh cyclic garbage is not frozen with it.
        gc.collect(1)
        gc.freeze()
        version = self.workspace.get_text_document(uri).version
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri, doc.lsp_diagnostics(), version)
        )

    def publish_later(self, uri: str) -> None:
        self._cancel(uri)
        loop = asyncio.get_running_loop()
        self._timers[uri] = loop.call_later(self.debounce, self.publish, uri)

    def close(self, uri: str) -> None:
        self._cancel(uri)
        self.docs.pop(uri, None)
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    def _cancel(self, uri):
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def _is_open(self, uri):
        return uri in self.workspace.text_documents


def build(debounce_ms: int = DEBOUNCE_MS) -> RulesServer:
    server = RulesServer(debounce_ms)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RulesServer, params: lsp.DidOpenTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RulesServer, params: lsp.DidChangeTextDocumentParams):
        ls.publish_later(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RulesServer, params: lsp.DidSaveTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RulesServer, params: lsp.DidCloseTextDocumentParams):
        ls.close(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: RulesServer, params: lsp.HoverParams):
        doc = ls.doc(params.text_document.uri)
        line, col = doc.position(params.position)
        index = doc.index if doc.fresh else None
        occ = index.at(line, col) if index is not None else None
        word, start = doc.lines.word_at(line, col)
        text = hover.hover_text(doc.index, occ, word)
        if text is None:
            return None
        if occ is not None:
            where = doc.lines.range(occ.line, occ.col, occ.line, occ.end_col)
        else:
            where = doc.lines.range(line, start, line, start + len(word))
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text), where)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: RulesServer, params: lsp.DefinitionParams):
        doc = ls.doc(params.text_document.uri)
        if not doc.fresh:
            return None
        return navigation.definition(doc.index, doc.lines, doc.uri, *doc.position(params.position))

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: RulesServer, params: lsp.ReferenceParams):
        doc = ls.doc(params.text_document.uri)
        if not doc.fresh:
            return None
        line, col = doc.position(params.position)
        return navigation.references(
            doc.index, doc.lines, doc.uri, line, col, params.context.include_declaration
        )

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ",", "["])
    )
    def on_completion(ls: RulesServer, params: lsp.CompletionParams):
        doc = ls.doc(params.text_document.uri)
        line, col = doc.position(params.position)
        found = completion.complete(doc.index, doc.lines, line, col, doc.yaml)
        items = [
            lsp.CompletionItem(
                label,
                kind=COMPLETION_KINDS.get(kind, lsp.CompletionItemKind.Reference),
                detail=kind,
            )
            for label, kind in found
        ]
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: RulesServer, params: lsp.DocumentSymbolParams):
        doc = ls.doc(params.text_document.uri)
        return navigation.symbols(doc.index, doc.lines) if doc.fresh else []

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: RulesServer, params: lsp.DocumentFormattingParams):
        from rulec.cli.fmt_cmd import FormatChanged, canonical

        doc = ls.doc(params.text_document.uri)
        try:
            result = canonical(doc.text or "", doc.file)
        except (RulecError, FormatChanged, RecursionError):
            return None  # the diagnostics say what is wrong; nothing is rewritten
        if result == doc.text:
            return []
        return [lsp.TextEdit(doc.lines.full_range(), result)]

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(ls: RulesServer, params: lsp.PrepareRenameParams):
        doc = ls.doc(params.text_document.uri)
        found = (
            navigation.rename_target(doc.index, doc.lines, *doc.position(params.position))
            if doc.fresh
            else None
        )
        if found is None:
            return None
        where, name = found
        return lsp.PrepareRenamePlaceholder(where, name)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def on_rename(ls: RulesServer, params: lsp.RenameParams):
        doc = ls.doc(params.text_document.uri)
        line, col = doc.position(params.position)
        index = doc.index if doc.fresh else None
        occ = index.at(line, col) if index is not None else None
        if (
            index is None
            or occ is None
            or navigation.rename_target(index, doc.lines, line, col) is None
        ):
            raise JsonRpcInvalidParams("no declared name here to rename")
        taken = index.names(occ.kind)
        problem = navigation.bad_new_name(params.new_name, doc.yaml, taken)
        if problem:
            raise JsonRpcInvalidParams(problem)
        return navigation.rename(doc.index, doc.lines, doc.uri, line, col, params.new_name)

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    def on_code_action(ls: RulesServer, params: lsp.CodeActionParams):
        doc = ls.doc(params.text_document.uri)
        return actions.code_actions(doc.uri, doc.lines, params.context.diagnostics)

    return server
