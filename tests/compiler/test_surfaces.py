"""The two surfaces (.rules and YAML) accept the same rules and refuse the same inputs with the
same diagnostics (issue 10): long names, long predicates, lone surrogates, huge numbers,
durations and times beyond the calendar."""

import pytest

from rulec.compiler.frontend_predicate import MAX_PREDICATE
from rulec.compiler.pipeline import compile_source

LONG = "g" * 1100
WIDE = "名" * 1500


def _rules(name, extra=""):
    return (
        f"shop s\ntimezone Asia/Shanghai\nattribute {name}: int\ncrowd {name} = {name} > 3\n"
        f"agent {name} level 3\nagent {WIDE}\ngroup {name} {{\n  agents {name}, {WIDE}\n"
        f"  crowd {name}\n}}\npromo {name} last_day 2026-12-12\n{extra}"
    )


def test_names_over_the_yaml_simple_key_limit_print_and_read_back(cli, tmp_path):
    src = tmp_path / "long.rules"
    src.write_text(_rules(LONG))
    assert cli("compile", src, "-o", tmp_path / "a.rtbl").code == 0
    r = cli("fmt", "--to", "yaml", src)
    assert r.code == 0, r
    assert f"  ? {LONG}\n  :" in r.out  # an explicit key: YAML's simple keys stop at 1,024
    yml = tmp_path / "long.yaml"
    yml.write_text(r.out)
    assert cli("compile", yml, "-o", tmp_path / "b.rtbl").code == 0
    assert cli("fmt", "--check", yml).code == 0
    back = cli("fmt", "--to", "rules", yml)
    assert back.code == 0 and f"group {LONG} {{" in back.out
    a = compile_source(src.read_text(), "x.rules").body
    b = compile_source(yml.read_text(), "x.yaml").body
    assert a == b


def test_fmt_to_yaml_of_rules_yaml_cannot_hold_names_the_real_error(cli, tmp_path):
    """Two `agent a1` lines: YAML cannot write them (unique keys); the error is the source's
    own (N204 at the second line), never a parse error in a file that does not exist."""
    src = tmp_path / "dup.rules"
    src.write_text("shop s\nagent a1\nagent a1\ngroup A {\n  agents a1\n}\n")
    r = cli("fmt", "--to", "yaml", src)
    assert r.code == 1 and f"{src}:3:7: error[N204]" in r.err
    assert "canonical" not in r.err


def _long_predicate() -> str:
    p = " or ".join(f"x == {i}" for i in range(MAX_PREDICATE // 8))
    assert len(p) > MAX_PREDICATE
    return p


def test_one_predicate_length_limit_in_both_surfaces():
    p = _long_predicate()
    rules = compile_source(f"shop s\nattribute x: int\ncrowd c = {p}\n", "s.rules")
    yaml = compile_source(f'shop: s\nattributes: {{x: int}}\ncrowds:\n  c: "{p}"\n', "s.yaml")
    for r, col in ((rules, 11), (yaml, 7)):
        (d,) = r.errors
        assert (
            d.code == "P104" and d.message == f"predicate is longer than {MAX_PREDICATE} characters"
        )
        assert (d.span.line, d.span.col) == (3 if r is rules else 4, col)
    ok = " or ".join(f"x == {i}" for i in range(MAX_PREDICATE // 14))
    assert len(ok) < MAX_PREDICATE
    assert compile_source(f"shop s\nattribute x: int\ncrowd c = {ok}\n", "s.rules").ok
    assert compile_source(f'shop: s\nattributes: {{x: int}}\ncrowds:\n  c: "{ok}"\n', "s.yaml").ok


@pytest.mark.parametrize(
    "source,file,where",
    [
        ('shop "a\\ud800b"\n', "s.rules", (1, 8)),
        ('shop s\nattribute c: string\ncrowd v = c == "x\\udc00"\n', "s.rules", (3, 18)),
        ("shop: s\nattributes: {c: string}\ncrowds:\n  v: 'c == \"\\ud800\"'\n", "s.yaml", (4, 13)),
        (
            '{"shop": "s", "attributes": {"c": "string"}, "crowds": {"v": "c == \\"\\\\ud800\\""}}',
            "s.json",
            None,
        ),
    ],
    ids=["rules-name", "rules-predicate", "yaml-predicate", "json-predicate"],
)
def test_lone_surrogate_escapes_are_positioned_p107(cli, tmp_path, source, file, where):
    r = compile_source(source, file)
    (d,) = r.errors
    assert d.code == "P107" and "lone UTF-16 surrogate" in d.message
    if where:
        assert (d.span.line, d.span.col) == where
    path = tmp_path / file
    path.write_text(source)
    for cmd in (("check", path), ("compile", path, "-o", tmp_path / "t.rtbl")):
        out = cli(*cmd)
        assert out.code == 1 and "[P107]" in out.err and "Traceback" not in out.err


def test_json_escapes_lone_or_paired():
    """json.loads takes a lone "\\ud800"; the JSON fast path leaves such files to the YAML
    reader (which refuses it); a proper pair is one character."""
    base = '{"shop": "%s", "agents": {"a1": {}}, "groups": {"A": {"agents": ["a1"]}}}'
    r = compile_source(base % "a\\ud800", "s.json")
    assert [d.code for d in r.errors] == ["P100"] and r.errors[0].span.col == 14
    r = compile_source(base % "a\\ud83d\\ude00", "s.json")
    assert r.ok and r.body["shop"] == "a\U0001f600"
    r = compile_source('shop "a\\ud83d\\ude00"\nagent a1\ngroup A {\n  agents a1\n}\n', "s.rules")
    assert r.ok and r.body["shop"] == "a\U0001f600"


@pytest.mark.parametrize(
    "source,file,code,where",
    [
        (
            "shop s\nrouting {\n  sticky hold %sh window 72h\n}\n" % ("9" * 5000),
            "s.rules",
            "V410",
            (3, 15),
        ),
        (
            "shop: s\nrouting: {sticky: {hold: %sh, window: 72h}}\n" % ("9" * 5000),
            "s.yaml",
            "V410",
            (2, 26),
        ),
        ("shop s\noutreach {\n  max_delay 3651d\n}\n", "s.rules", "V410", (3, 13)),
        ("shop: s\nrouting: {busy_threshold: %s}\n" % ("9" * 5000), "s.yaml", "P107", (2, 27)),
        ("shop s\nrouting {\n  busy_threshold %s\n}\n" % ("9" * 5000), "s.rules", "P107", (3, 18)),
        ("shop s\nagent a1 level %s\n" % ("9" * 30), "s.rules", "P107", (2, 16)),
    ],
    ids=[
        "rules-5000-digit-duration",
        "yaml-5000-digit-duration",
        "rules-long-delay",
        "yaml-5000-digit-int",
        "rules-5000-digit-int",
        "rules-big-level",
    ],
)
def test_numbers_out_of_range_are_positioned(source, file, code, where):
    r = compile_source(source, file)
    assert [d.code for d in r.errors] == [code], r.errors
    assert (r.errors[0].span.line, r.errors[0].span.col) == where


def test_times_beyond_the_calendar_are_refused_at_compile(cli, tmp_path):
    """`send_at 9999-12-31T23:59:59-12:00` used to compile, then crash every plan;
    `last_day 0001-01-01` crashed check."""
    src = tmp_path / "t.rules"
    src.write_text(
        "shop s\nagent a1\ngroup A {\n  agents a1\n}\npromo p last_day 0001-01-01\n"
        "campaign c2 recall {\n  promo p\n}\n"
        'campaign c1 batch {\n  send_at 9999-12-31T23:59:59-12:00\n  target vip { copy "x" }\n}\n'
    )
    for cmd in (("check", src), ("compile", src, "-o", tmp_path / "t.rtbl")):
        r = cli(*cmd)
        assert r.code == 1 and "Traceback" not in r.err
        assert f"{src}:6:18: error[V410]" in r.err and f"{src}:11:11: error[V410]" in r.err
    assert not (tmp_path / "t.rtbl").exists()
