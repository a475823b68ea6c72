"""`rulec schema`: the JSON Schema of the YAML form accepts every example and refuses bad shapes."""

import io
import json
import pathlib
import re

import jsonschema
import pytest
import yaml

from rulec.cli.main import main
from rulec.compiler import frontend_yaml as fy
from rulec.compiler.pipeline import compile_source

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "compiler" / "cases"
CONTRACT = ROOT.parent / "shared" / "spec" / "contract.md"
EXAMPLES = sorted(
    p
    for p in (ROOT / "rules").glob("*.y*ml")
    if not p.stem.endswith("_test")  # tests only
) + [CASES / "ok_contract_example.yaml"]
# Codes of files that are bad in shape (a key, a type or an enum value a schema can see);
# the other bad files are bad in meaning (names, types of predicates, times) or in ways JSON
# cannot show (duplicate keys, aliases), and the schema must accept them.
SHAPE_CODES = {"P105", "P106", "P108", "V401", "V402"}
BAD = sorted(p for p in CASES.glob("*.yaml") if not p.name.startswith(("ok_", "P100_yaml")))


class Yaml12ish(yaml.SafeLoader):
    """PyYAML without timestamps: dates stay strings, as in YAML 1.2 (yaml-language-server)."""


Yaml12ish.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture(scope="module")
def validator():
    out, err = io.StringIO(), io.StringIO()
    assert main(["schema"], out, err) == 0, err.getvalue()
    schema = json.loads(out.getvalue())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, text):
    return [e.message for e in validator.iter_errors(yaml.load(text, Loader=Yaml12ish))]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_schema_accepts_every_yaml_example(validator, path):
    assert _errors(validator, path.read_text(encoding="utf-8")) == []


@pytest.mark.skipif(not CONTRACT.exists(), reason="shared/spec is not checked out beside the repo")
def test_schema_accepts_the_contracts_yaml_examples(validator):
    blocks = re.findall(r"```yaml\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        assert _errors(validator, block) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_schema_refuses_exactly_the_files_bad_in_shape(validator, path):
    text = path.read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=Yaml12ish)
    codes = {d.code for d in compile_source(text, "t.yaml").diagnostics}
    errors = list(validator.iter_errors(doc))
    if codes & SHAPE_CODES:
        assert errors, f"{path.name} ({codes}) should be refused"
    else:
        assert not errors, [e.message for e in errors]


def test_yaml_printed_by_fmt_from_the_rules_example_is_valid(validator):
    out, err = io.StringIO(), io.StringIO()
    assert main(["fmt", str(ROOT / "rules" / "shop-double12.rules"), "--to", "yaml"], out, err) == 0
    assert _errors(validator, out.getvalue()) == []


def test_every_frontend_key_is_in_the_schema_with_a_description(validator):
    schema = validator.schema
    props = schema["properties"]
    assert set(props) == set(fy.TOP_KEYS)
    groups = schema["$defs"]["group"]["properties"]
    campaigns = schema["$defs"]["campaign"]["properties"]
    assert set(groups) == set(fy.GROUP_KEYS) and set(campaigns) == set(fy.CAMPAIGN_KEYS)
    assert set(props["routing"]["properties"]) == set(fy.ROUTING_KEYS)
    for table in (props, groups, campaigns, props["routing"]["properties"]):
        for key, sub in table.items():
            assert sub["description"].strip(), key


def test_enum_values_come_from_the_checker(validator):
    from rulec.common import vocab

    order = validator.schema["$defs"]["group"]["properties"]["order"]["items"]
    assert order["enum"] == list(vocab.ORDER_STATES)
    assert _errors(validator, "shop: s\ngroups: {g: {order: [unpayed]}}\n")
    assert _errors(validator, "shop: s\nrouting: {sticky: {hold: '24'}}\n")
    assert not _errors(validator, "shop: s\nrouting: {sticky: {hold: 1d12h}}\n")


def test_schema_writes_to_a_file(tmp_path):
    target = tmp_path / "rules.schema.json"
    assert main(["schema", "-o", str(target)], io.StringIO(), io.StringIO()) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["required"] == ["shop"]
    err = io.StringIO()
    assert main(["schema", "-o", str(tmp_path / "no" / "such.json")], io.StringIO(), err) == 1
    assert "cannot write" in err.getvalue()
