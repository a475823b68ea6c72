"""Every conformance scenario's rules, written in the .rules language by the printer, compile
to the same table body as the YAML (JSON) original: one model, two surfaces (contract)."""

import json
import pathlib

import pytest

from rulec.compiler.frontend_yaml import parse_yaml
from rulec.compiler.pipeline import compile_source
from rulec.compiler.printer_rules import print_rules

CONFORMANCE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "conformance"
SCENARIOS = sorted(CONFORMANCE.glob("*/*.json"))


@pytest.mark.skipif(not SCENARIOS, reason="no conformance scenarios next to the repository")
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scenario_rules_compile_the_same_in_both_surfaces(path):
    rules = json.loads(path.read_text(encoding="utf-8"))["rules"]
    source = json.dumps(rules, ensure_ascii=False)
    from_yaml = compile_source(source, "s.json")
    text = print_rules(parse_yaml(source, "s.json"))
    from_rules = compile_source(text, "s.rules")
    assert [d.code for d in from_rules.diagnostics] == [d.code for d in from_yaml.diagnostics]
    assert from_rules.body == from_yaml.body
    if "cel-rejected" not in str(path):
        assert from_rules.ok and from_rules.body is not None


CONTRACT_MD = CONFORMANCE.parent / "spec" / "contract.md"


@pytest.mark.skipif(not CONTRACT_MD.exists(), reason="no contract next to the repository")
def test_contract_yaml_example_is_the_rules_example():
    """The contract's YAML example and its .rules rendering (test_lang_parse.CONTRACT)."""
    import re

    from lang_helpers import plain
    from test_lang_parse import CONTRACT

    from rulec.compiler.frontend_rules import parse_rules

    text = CONTRACT_MD.read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    assert plain(parse_yaml(example, "contract.yaml")) == plain(parse_rules(CONTRACT, "c.rules"))
    assert compile_source(example, "contract.yaml").ok
    assert compile_source(CONTRACT, "contract.rules").ok
