"""`rulec fmt`: canonical output, --check, --to, -o, comments kept, errors as diagnostics."""

import shutil

import pytest
from lang_helpers import EXAMPLES, plain

from rulec.compiler.frontend_rules import parse_rules
from rulec.compiler.frontend_yaml import parse_yaml

MESSY = """\
# header comment
agent bob   level 2 # night shift
shop   demo
group G { agents bob ; product "a" ; mode efficiency; robot off }   # trailing on a block
crowd vip = (member_level >= 3)   and (total_spent > 1000)

# before the routing block
routing { robot_first on; sticky window 72h hold 24h
  # inside a block
}
# the end
"""

CANON = """\
shop demo

# before the routing block
# inside a block
routing {
  robot_first on
  sticky hold 24h window 72h
}

crowd vip = member_level >= 3 and total_spent > 1000

# header comment
agent bob level 2  # night shift

# trailing on a block
group G {
  agents bob
  product a
}

# the end
"""


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "messy.rules"
    path.write_text(MESSY, encoding="utf-8")
    return path


def test_fmt_prints_canonical_text_keeping_comments(cli, messy):
    r = cli("fmt", messy)
    assert r.code == 0 and r.err == ""
    assert all(
        c in r.out
        for c in (
            "# header comment",
            "# night shift",
            "# the end",
            "# inside a block",
            "# before the routing block",
        )
    )
    assert plain(parse_rules(r.out, "x")) == plain(parse_rules(MESSY, "y"))


def test_fmt_output_is_stable(cli, messy, tmp_path):
    once = cli("fmt", messy).out
    again = tmp_path / "again.rules"
    again.write_text(once, encoding="utf-8")
    assert cli("fmt", again).out == once
    assert cli("fmt", "--check", again).code == 0


def test_fmt_check_names_the_file_and_exits_1(cli, messy):
    r = cli("fmt", "--check", messy)
    assert r.code == 1 and r.out == "" and str(messy) in r.err and "canonical" in r.err


@pytest.mark.parametrize("name", ["article000.rules", "shop-double12.rules", "shop-double12.yaml"])
def test_examples_are_canonical(cli, name):
    assert cli("fmt", "--check", EXAMPLES / name).code == 0


def test_fmt_to_yaml_and_back(cli, tmp_path):
    src = EXAMPLES / "shop-double12.rules"
    y = tmp_path / "shop.yaml"
    assert cli("fmt", "--to", "yaml", src, "-o", y).code == 0
    assert plain(parse_yaml(y.read_text(encoding="utf-8"), "y")) == plain(
        parse_rules(src.read_text(encoding="utf-8"), "r")
    )
    back = cli("fmt", "--to", "rules", y)
    assert back.code == 0
    assert plain(parse_rules(back.out, "b")) == plain(parse_rules(src.read_text("utf-8"), "r"))


def test_yaml_source_is_formatted_as_yaml_by_default(cli, tmp_path):
    y = tmp_path / "s.yml"
    y.write_text("shop: s\nagents: {bob: {level: 3}}\n", encoding="utf-8")
    r = cli("fmt", y)
    assert r.code == 0 and r.out == "shop: s\nagents:\n  bob: {}\n"
    assert cli("fmt", "--check", y).code == 1


def test_output_file_is_written_in_place(cli, messy):
    assert cli("fmt", messy, "-o", messy).code == 0
    assert messy.read_text(encoding="utf-8") == CANON
    assert cli("fmt", "--check", messy).code == 0


def test_errors_are_diagnostics_exit_1(cli, tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text("shop s\ngroup g { agents a b }\n", encoding="utf-8")
    r = cli("fmt", bad)
    assert r.code == 1 and r.out == "" and f"{bad}:2:20: error[P100]" in r.err
    r = cli("fmt", "--format", "json", bad)
    assert r.code == 1 and '"code": "P100"' in r.out


def test_usage_errors_exit_2(cli, messy):
    assert cli("fmt").code == 2
    assert cli("fmt", messy, "--to", "xml").code == 2
    r = cli("fmt", "--check", "--to", "yaml", messy)
    assert r.code == 2 and "--to" in r.err


def test_missing_binary_and_unwritable_files_exit_1(cli, tmp_path, messy):
    r = cli("fmt", tmp_path / "nope.rules")
    assert r.code == 1 and "cannot read" in r.err
    binary = tmp_path / "b.rules"
    binary.write_bytes(b"shop \x00\xff")
    assert cli("fmt", binary).code == 1
    r = cli("fmt", messy, "-o", tmp_path / "no" / "such" / "dir.rules")
    assert r.code == 1 and "cannot write" in r.err


def test_fmt_does_not_change_an_example(cli, tmp_path):
    copy = tmp_path / "a.rules"
    shutil.copy(EXAMPLES / "article000.rules", copy)
    assert cli("fmt", copy).out == copy.read_text(encoding="utf-8")


def test_a_header_comment_stays_on_top(cli, tmp_path):
    path = tmp_path / "h.rules"
    path.write_text(
        "# Shop rules, owner: ops\n# second line\n\nagent a  # x\nshop s\n", encoding="utf-8"
    )
    r = cli("fmt", path)
    assert r.out == "# Shop rules, owner: ops\n# second line\n\nshop s\n\nagent a  # x\n"


def test_fmt_refuses_output_that_would_change_the_rules(cli, messy, monkeypatch):
    """A safety net: a printer bug must never rewrite an operator's file into other rules."""
    from rulec.compiler import printer_rules

    real = printer_rules.sections

    def broken(shop):  # prints every agent at level 1
        return [
            [(k, [ln.replace("level 2", "level 1") for ln in lines]) for k, lines in sec]
            for sec in real(shop)
        ]

    monkeypatch.setattr(printer_rules, "sections", broken)
    before = messy.read_text(encoding="utf-8")
    r = cli("fmt", messy, "-o", messy)
    assert r.code == 1 and "internal error" in r.err and str(messy) in r.err
    assert messy.read_text(encoding="utf-8") == before


YAML_WITH_COMMENTS = """\
# Header of the file

shop: demo   # trailing
crowds:
  # before vip
  vip: "a > 1"   # vip trailing
  local: 'city in ["x # not a comment"]'
agents:
  bob: {level: 2}  # night
campaigns:
  # first campaign
  - name: c1
    kind: batch
    send_at: "2023-01-01T00:00:00+08:00"
    copy: |
      line one # not a comment either
    targets: [{crowd: vip}]
# end
"""

YAML_CANON = """\
# Header of the file

shop: demo  # trailing
crowds:
  # before vip
  vip: "a > 1"  # vip trailing
  local: 'city in ["x # not a comment"]'
agents:
  bob: {level: 2}  # night
campaigns:
  # first campaign
  - name: c1
    kind: batch
    send_at: "2023-01-01T00:00:00+08:00"
    copy: "line one # not a comment either\\n"
    targets:
      - {crowd: vip}
# end
"""


def test_yaml_comments_are_kept_beside_their_items(cli, tmp_path):
    src = tmp_path / "c.yaml"
    src.write_text(YAML_WITH_COMMENTS, encoding="utf-8")
    r = cli("fmt", src)
    assert r.code == 0 and r.out == YAML_CANON
    assert plain(parse_yaml(r.out, "a")) == plain(parse_yaml(YAML_WITH_COMMENTS, "b"))
    again = tmp_path / "again.yaml"
    again.write_text(r.out, encoding="utf-8")
    assert cli("fmt", "--check", again).code == 0


def test_changing_surface_drops_comments(cli, tmp_path):
    src = tmp_path / "c.yaml"
    src.write_text(YAML_WITH_COMMENTS, encoding="utf-8")
    r = cli("fmt", "--to", "rules", src)
    assert r.code == 0
    assert not any(ln.lstrip().startswith("#") or "  #" in ln for ln in r.out.splitlines())
