"""The direct parser's lexer (rulec/grammar/lexer.py, issue 15) gives Lark's contextual lexer's
tokens, with every position, whatever the text: the same parser loop reads both token streams
and they must agree token for token, up to where Lark's stops (an error stops both)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.lexer import LexerThread
from lark.parsers.lalr_parser import _Parser
from test_lang_direct import SOURCES
from test_lang_fuzz import RULES_SOURCES, VOCAB

from rulec.grammar import direct as d
from rulec.grammar.lexer import PlainRun
from rulec.grammar.loader import parser

TRICKY = [
    "shop s\r\nagent group level 2\r\n",  # a keyword as a name; CRLF lines
    "shop s # a comment # with ## marks\n\n\t\f group g { agents a, b } # end",
    'shop \'单引号\'\nattribute "a b": int\ncrowd c = a >= -1.5e3 and not b in [\'x\', "y\\""]',
    "shop s\nrouting { sticky hold 24h window 7d; busy_threshold -3 }\npromo p presale_start 2023-12-01",
    "shop s\ncampaign c presale { send_at 2023-12-11T21:59:00+08:00 }\ntimezone Asia/Shanghai",
    "shop s\ngroup 1p { product 1p-2, p_3 }\n# only a comment at the end",
    "shop s\nagent a @ level 2\n",  # a character no terminal takes
    'shop s\ncrowd c = a == "unterminated\n',
    "shop s\ngroup g {\n",  # ends too early
    "   \n\t# nothing but ignored text\n",
    "shop s\u2028agent a\n",  # a line separator is not a newline to Lark
]
PREDICATES = [
    "level >= 3 and spent > 4943",
    "  not (a) and b not in [1, 2.5, -3, true, false] or c contains_any ['x']  # c\n",
    "x contains 'y' or z",
    "a == ",
    "a === b",
]


def _tokens(start: str, text: str, lark_own: bool, lark=None) -> tuple[list, bool]:
    """(tokens as tuples, whether the parse stopped on an error), read by Lark's parser loop
    (rules.lark's parser unless `lark` is given)."""
    lark = lark or parser()
    direct = d.DirectParser(lark, start, compiled=False)
    seen: list = []

    def record(tok):
        seen.append(
            (tok.type, str(tok), tok.start_pos, tok.line, tok.column)
            + (tok.end_line, tok.end_column, tok.end_pos)
        )
        return tok

    callbacks = {r.rule: (lambda children: None) for r in direct.rules}
    callbacks.update({t.name: record for t in lark.terminals})  # the loop calls it per token
    if lark_own:
        thread = LexerThread.from_text(lark.parser.lexer, text)
    else:
        thread = LexerThread(PlainRun(direct._lexer, text), text)
    try:
        _Parser(direct._table, callbacks).parse(thread, start)
    except UnexpectedInput:
        return seen, True
    return seen, False


def _same(start: str, text: str, grammar=None) -> None:
    lark, lark_failed = _tokens(start, text, True, grammar)
    ours, ours_failed = _tokens(start, text, False, grammar)
    assert ours == lark
    assert ours_failed == lark_failed


@pytest.mark.parametrize("text", [t for _, t in SOURCES] + TRICKY)
def test_rules_files_lex_as_lark_lexes_them(text):
    _same("rules_file", text)


@pytest.mark.parametrize("text", PREDICATES)
def test_predicates_lex_as_lark_lexes_them(text):
    _same("predicate", text)


def test_the_sources_lex_to_many_tokens():
    """The comparison above is over real token streams (a recorder that saw nothing would
    agree with anything)."""
    tokens, failed = _tokens("rules_file", SOURCES[0][1], False)
    assert len(tokens) > 50 and not failed
    assert _tokens("rules_file", TRICKY[6], False)[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCAB + [" ", "\n", "#", "a", "1"]), max_size=40))
def test_token_soups_lex_as_lark_lexes_them(words):
    text = "".join(words)
    _same("rules_file", text)
    _same("predicate", text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RULES_SOURCES),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(VOCAB),
)
def test_edited_examples_lex_as_lark_lexes_them(text, at, cut, insert):
    at %= len(text) + 1
    _same("rules_file", text[:at] + insert + text[at + cut :])


def test_a_token_over_several_lines_moves_the_line_count():
    """rules.lark has no such terminal (its strings stop at a newline), Lark's lexer allows it."""
    toy = Lark(
        "start: (BLOCK | WORD)+\nBLOCK: /<[^>]*>/\nWORD: /[a-z]+/\n%ignore /[ \\n]+/",
        parser="lalr",
        propagate_positions=True,
    )
    text = "ab <one\ntwo\n three> cd\n<x> e <\n>"
    tokens, failed = _tokens("start", text, False, toy)
    assert (tokens[1][3], tokens[1][5], tokens[2][3]) == (1, 3, 3)  # BLOCK: lines 1 to 3
    _same("start", text, toy)
