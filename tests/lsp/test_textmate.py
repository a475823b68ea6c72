"""The TextMate grammar (editors/vscode) tokenizes the examples in rules/ as VS Code would:
vscode-textmate + vscode-oniguruma from npm (pinned in tests/lsp/textmate/package.json)."""

import functools
import json
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent / "textmate"
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "rules.tmLanguage.json"
EXAMPLES = sorted((ROOT / "rules").glob("*.rules"))
ENGINE = ROOT / ".venv" / "textmate"  # where `make textmate` installs the engine

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not installed: the TextMate engine (vscode-textmate) runs on node",
)


def install_engine() -> pathlib.Path:
    """The engine's node_modules, installed from npm once (again when the pins change)."""
    wanted = (HERE / "package.json").read_text(encoding="utf-8")
    have = ENGINE / "package.json"
    if not (ENGINE / "node_modules" / "vscode-textmate").is_dir() or (
        not have.exists() or have.read_text(encoding="utf-8") != wanted
    ):
        ENGINE.mkdir(parents=True, exist_ok=True)
        have.write_text(wanted, encoding="utf-8")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"],
            cwd=ENGINE,
            check=True,
            timeout=600,
            capture_output=True,
        )
    return ENGINE / "node_modules"


@functools.cache
def tokens() -> dict:
    """{example name: [[(text, scopes)] per line]}."""
    modules = install_engine()
    run = subprocess.run(
        ["node", str(HERE / "tokenize.js"), str(GRAMMAR), *map(str, EXAMPLES)],
        env={"NODE_PATH": str(modules), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        timeout=120,
        check=True,
    )
    out = json.loads(run.stdout)
    return {
        pathlib.Path(f).name: [[(t["text"], t["scopes"]) for t in line] for line in lines]
        for f, lines in out.items()
    }


def scopes_on(name: str, line_text: str) -> dict:
    """{token text: innermost scope} of the first line of `name` that is `line_text`."""
    lines = (ROOT / "rules" / name).read_text(encoding="utf-8").split("\n")
    n = lines.index(line_text)
    out = {}
    for text, scopes in tokens()[name][n]:
        if text.strip():
            out.setdefault(text.strip(), scopes[-1].removesuffix(".rules"))
    return out


def test_the_grammar_is_for_rules_files():
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.rules" and grammar["fileTypes"] == ["rules"]


def test_statements_names_and_numbers():
    line = scopes_on("shop-double12.rules", "agent 小美 level 5")
    assert line == {
        "agent": "keyword.control.statement",
        "小美": "entity.name.function.agent",
        "level": "keyword.other",
        "5": "constant.numeric",
    }
    assert scopes_on("shop-double12.rules", "shop 山野茶铺")["山野茶铺"] == "entity.name.namespace"
    group = scopes_on("shop-double12.rules", "group 售前组 {")
    assert group["group"] == "keyword.control.statement"
    assert group["售前组"] == "entity.name.function.group"


def test_predicates():
    line = scopes_on(
        "shop-double12.rules", "crowd 高价值会员 = member_level >= 3 and total_spent > 2000"
    )
    assert line["crowd"] == "keyword.control.statement"
    assert line["高价值会员"] == "entity.name.type"
    assert line["member_level"] == "variable.other.attribute"
    assert line[">="] == "keyword.operator.comparison"
    assert line["3"] == "constant.numeric"
    assert line["and"] == "keyword.operator.logical"
    intent = scopes_on(
        "shop-double12.rules", 'intent 退款 = message contains_any ["退款", "退货", "仅退款"]'
    )
    assert intent["contains_any"] == "keyword.operator.word"
    assert intent["退货"] == "string.quoted.double"


def test_block_items_values_and_strings():
    assert scopes_on("shop-double12.rules", "  order no_active_order, unpaid") == {
        "order": "keyword.other.item",
        "no_active_order": "constant.language.order-state",
        ",": "punctuation.separator",
        "unpaid": "constant.language.order-state",
    }
    sticky = scopes_on("shop-double12.rules", "  sticky hold 24h window 72h")
    assert sticky["sticky"] == "keyword.other.item" and sticky["24h"] == "constant.numeric.duration"
    target = scopes_on("shop-double12.rules", '  target 爱上新 { copy "新茶上架：2023 秋白茶饼" }')
    assert target["target"] == "keyword.other.item"
    assert target["爱上新"] == "variable.other.name"
    assert target["新茶上架：2023 秋白茶饼"] == "string.quoted.double"
    send = scopes_on("shop-double12.rules", "  send_at 2023-12-04T10:00:00+08:00")
    assert send["2023-12-04T10:00:00+08:00"] == "constant.numeric.datetime"
    product = scopes_on("article000.rules", "  product a")
    assert product == {"product": "keyword.other.item", "a": "variable.other.name"}


def test_comments():
    first = tokens()["shop-double12.rules"][0]
    assert [s[-1] for _, s in first] == ["comment.line.number-sign.rules"]
    text = (ROOT / "rules" / "article000.rules").read_text(encoding="utf-8").split("\n")
    for n, line in enumerate(text):
        if line.lstrip().startswith("#"):
            assert tokens()["article000.rules"][n][-1][1][-1] == "comment.line.number-sign.rules"


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_every_word_of_every_example_gets_a_scope(name):
    for n, line in enumerate(tokens()[name], 1):
        for text, scopes in line:
            if any(ch.isalnum() for ch in text):
                assert len(scopes) > 1, f"{name}:{n}: {text!r} has no scope"


def test_the_vscode_extension_names_its_parts():
    folder = ROOT / "editors" / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".rules"] and grammar["language"] == language["id"]
    assert (folder / grammar["path"]).resolve() == GRAMMAR
    assert (folder / language["configuration"]).is_file()
    json.loads((folder / language["configuration"]).read_text(encoding="utf-8"))
    assert (folder / manifest["main"]).is_file()
    assert manifest["contributes"]["configuration"]["properties"]["rulec.command"]["default"] == [
        "rulec",
        "lsp",
    ]
    run = subprocess.run(
        ["node", "--check", str(folder / manifest["main"])], capture_output=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
