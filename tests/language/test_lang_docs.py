"""docs/language.md: every .rules example parses, and each is the same model as the YAML
example that follows it (the contract's "every construct exists in both surfaces")."""

import re

import pytest
from lang_helpers import ROOT, plain

from rulec.compiler.frontend_predicate import parse_predicate
from rulec.compiler.frontend_rules import parse_rules
from rulec.compiler.frontend_yaml import parse_yaml

DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)
RULES = [(i, b) for i, (lang, b) in enumerate(BLOCKS) if lang == "" and ":=" not in b]
PAIRS = [
    (b, BLOCKS[i + 1][1]) for i, b in RULES if i + 1 < len(BLOCKS) and BLOCKS[i + 1][0] == "yaml"
]


def with_shop(text, yaml=False):
    if re.search(r"^shop", text, re.M):
        return text
    return ("shop: x\n" if yaml else "shop x\n") + text


def test_the_doc_has_examples_for_every_statement():
    kinds = {
        re.match(r"\s*(\w+)", ln).group(1)
        for _, b in RULES
        for ln in b.splitlines()
        if re.match(r"\s*\w", ln)
    }
    assert {
        "shop",
        "timezone",
        "routing",
        "outreach",
        "attribute",
        "crowd",
        "intent",
        "agent",
        "group",
        "promo",
        "facts",
        "campaign",
        "target",
        "segment",
        "coupon",
        "sticky",
        "drain_pool",
        "mode",
        "robot",
        "grants",
        "send_at",
        "date",
        "configured_at",
        "created_at",
        "copy",
    } <= kinds
    assert len(PAIRS) >= 10


@pytest.mark.parametrize("block", [b for _, b in RULES], ids=lambda b: b.split()[0])
def test_every_rules_example_parses(block):
    if re.match(r"\s*[a-z_]+ (>=|==|<|>)", block) and "\n" not in block.strip():
        parse_predicate(block.strip())
    else:
        parse_rules(with_shop(block), "doc.rules")


@pytest.mark.parametrize("rules,yaml", PAIRS, ids=lambda b: b.split()[0][:12])
def test_rules_and_yaml_examples_are_the_same_model(rules, yaml):
    assert plain(parse_rules(with_shop(rules), "doc.rules")) == plain(
        parse_yaml(with_shop(yaml, True), "doc.yaml")
    )
