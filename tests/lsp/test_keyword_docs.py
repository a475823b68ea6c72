"""The keyword meanings (hover texts, schema descriptions) cover the language and cite real clauses."""

import pathlib
import re

import pytest

from rulec.common import vocab
from rulec.compiler import keyword_docs

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEMANTICS = ROOT.parent / "shared" / "spec" / "semantics.md"
GRAMMAR = ROOT / "rulec" / "grammar" / "rules.lark"


def test_every_word_of_the_grammar_has_a_meaning():
    words = set(re.findall(r'"([a-z_]+)"', GRAMMAR.read_text(encoding="utf-8")))
    assert {"shop", "group", "campaign", "contains_any", "presale_start"} <= words
    missing = sorted(w for w in words if keyword_docs.meaning(w) is None)
    assert missing == []


def test_every_enum_value_has_a_meaning():
    for values in (vocab.ORDER_STATES, vocab.NOBODY_TARGETS, vocab.KINDS, vocab.STRENGTHS):
        for v in values:
            assert keyword_docs.meaning(v), v


@pytest.mark.skipif(not SEMANTICS.exists(), reason="shared/spec is not checked out beside the repo")
def test_every_cited_clause_exists_in_the_semantics():
    text = SEMANTICS.read_text(encoding="utf-8")
    cited = {
        c
        for table in (keyword_docs.KEYWORDS, keyword_docs.VALUES)
        for _, cs in table.values()
        for c in cs
    }
    assert cited
    assert sorted(c for c in cited if not re.search(rf"\b{c}\b", text)) == []


def test_meaning_is_markdown_with_the_clause():
    assert keyword_docs.meaning("sticky").startswith("**sticky**:")
    assert "semantics R2" in keyword_docs.meaning("sticky")
    assert keyword_docs.meaning("no_such_word") is None
