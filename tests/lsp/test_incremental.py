"""The incremental .rules parser gives exactly the full parser's model or diagnostics, edit after
edit, and reuses the statements an edit did not touch."""

import pathlib
import random

import attrs
import pytest

from rulec.compiler.frontend_rules import parse_rules
from rulec.errors import RulecError
from rulec.lsp.completion import STATEMENTS
from rulec.lsp.incremental import STATEMENT_WORDS, IncrementalRules, chunks

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "rules").glob("*.rules")) + [ROOT / "tests/lsp/files/tea.rules"]
INSERTS = ["\n", "{", "}", '"', " x ", "group ", "1", "#", ";", "level", "agent ", "crowd a = "]


def outcome(parse, text):
    try:
        return ("ok", attrs.asdict(parse(text, "f.rules")))
    except RulecError as exc:
        return ("error", [(d.code, d.message, d.span, d.hints) for d in exc.diagnostics])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_random_edits_give_the_full_parsers_answer(path):
    base = path.read_text(encoding="utf-8")
    rnd = random.Random(path.name)
    inc = IncrementalRules()
    text = base
    for _ in range(150):
        pos = rnd.randrange(len(text))
        kind = rnd.randrange(4)
        if kind == 0:
            text = text[:pos] + text[pos + 1 :]
        elif kind == 1:
            text = text[:pos] + rnd.choice(INSERTS) + text[pos:]
        elif kind == 2:
            text = base  # back to a clean file: everything parses again
        assert outcome(inc.parse, text) == outcome(parse_rules, text), repr(
            text[pos - 40 : pos + 40]
        )


def test_an_edit_reuses_every_other_statement():
    text = (ROOT / "tests/lsp/files/tea.rules").read_text(encoding="utf-8")
    inc = IncrementalRules()
    inc.parse(text, "f.rules")
    n = len(chunks(text))
    edited = text.replace("agent 小美 level 5", "agent 小美 level 4")
    shop = inc.parse(edited, "f.rules")
    assert inc.reused == n - 1
    assert [a.level for a in shop.agents] == [4, 3]
    # a line added on top: the leading comment chunk changes, every statement moves down and
    # is reused with its spans shifted
    shop = inc.parse("# one more line\n" + edited, "f.rules")
    assert inc.reused == n - 1
    assert shop.agents[0].span.line == 9 and shop.groups[0].span.line == 11


def test_a_statement_word_continuing_a_statement_falls_back_to_the_full_parser():
    text = "shop s\nagent\ngroup\n"  # an agent named `group`
    assert [c[0] for c in chunks(text)] == [1, 2, 3]
    shop = IncrementalRules().parse(text, "f.rules")
    assert [a.id for a in shop.agents] == ["group"]


def test_braces_in_strings_and_comments_do_not_open_blocks():
    text = 'shop s # {\ncampaign c batch {\n  copy "{ not a block"\n}\nagent a\n'
    assert [c[0] for c in chunks(text)] == [1, 2, 5]


def test_completion_knows_every_statement_of_the_grammar():
    assert set(STATEMENTS) == set(STATEMENT_WORDS)


def test_statements_written_twice_keep_their_own_positions():
    text = "shop s\nagent a\nagent a\ngroup g { agents a }\n"
    inc = IncrementalRules()
    for top in ("", "# 1\n", "# 1\n# 2\n", ""):
        assert outcome(inc.parse, top + text) == outcome(parse_rules, top + text)
        shop = inc.parse(top + text, "f.rules")
        moved = top.count("\n")
        assert [a.span.line for a in shop.agents] == [2 + moved, 3 + moved]
