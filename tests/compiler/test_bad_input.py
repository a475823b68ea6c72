"""Bad input of every kind gives exit 1 and a positioned diagnostic, never a traceback (issue 2),
whichever YAML loader PyYAML offers: libyaml's (C) or its pure-Python one (issue 9: each
stops deep nesting its own way; rulec's own bound, P104, comes first under both)."""

import json

import pytest
import yaml

from rulec.compiler import frontend_yaml


@pytest.fixture(autouse=True, params=["libyaml", "pure"])
def yaml_loader(request, monkeypatch):
    """Every test here once on each YAML loader."""
    if request.param == "pure":
        monkeypatch.setattr(frontend_yaml, "LOADER", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML is built without libyaml here")
    else:
        monkeypatch.setattr(frontend_yaml, "LOADER", yaml.CSafeLoader)
    return request.param


@pytest.mark.parametrize(
    "name,content,code",
    [
        ("empty.yaml", b"", "P101"),
        ("blank.rules", b"  \n\n", "P101"),
        ("binary.yaml", b"\x7fELF\x02\x01\x01\x00\x00\x00", "P102"),
        ("latin1.yaml", "shop: caf\u00e9\n".encode("latin-1"), "P102"),
        ("deep.yaml", b"shop: t\nagents: " + b"[" * 5000 + b"]" * 5000 + b"\n", "P104"),
        ("deepmap.yaml", b"shop: t\nfacts: " + b"{a: " * 100 + b"1" + b"}" * 100 + b"\n", "P104"),
        ("deep_not.yaml", b"shop: t\ncrowds:\n  x: '" + b"not " * 500 + b"a == 1'\n", "P104"),
        (
            "deep_parens.yaml",
            b"shop: t\ncrowds:\n  x: '" + b"(a == 1 and " * 200 + b"b == 1" + b")" * 200 + b"'\n",
            "P104",
        ),
        ("list_top.yaml", b"- 1\n- 2\n", "P105"),
        ("scalar_top.json", b"42", "P105"),
    ],
)
def test_bad_source(tmp_path, cli, name, content, code):
    path = tmp_path / name
    path.write_bytes(content)
    r = cli("check", path)
    assert r.code == 1, r
    assert f"error[{code}]" in r.err
    assert f"{path}:" in r.err
    assert "Traceback" not in r.err


def test_missing_file(tmp_path, cli):
    r = cli("compile", tmp_path / "nope.yaml", "-o", tmp_path / "t.rtbl")
    assert r.code == 1 and "P110" in r.err and "cannot read" in r.err


def test_huge_source_is_refused(tmp_path, cli):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"shop: t\n" + b"#" * (17 * 1024 * 1024))
    r = cli("check", path)
    assert r.code == 1 and "P104" in r.err


def test_several_errors_in_one_run(tmp_path, cli):
    path = tmp_path / "many.yaml"
    path.write_text(
        "shop: t\nagents: {a1: {level: 9}}\ngroups:\n  G: {agents: [a1, zz], order: [unpayed]}\n",
        encoding="utf-8",
    )
    r = cli("check", path)
    assert r.code == 1
    for code in ("V400", "N200", "V401"):
        assert f"error[{code}]" in r.err
    assert "3 errors" in r.err


def test_json_format(tmp_path, cli):
    path = tmp_path / "bad.yaml"
    path.write_text("shop: t\nagents: {a1: {level: 0}}\ngroups: {G: {agents: [a1]}}\n")
    r = cli("check", path, "--format", "json")
    assert r.code == 1
    [d] = json.loads(r.out)
    assert d == {
        "file": str(path),
        "line": 2,
        "col": 22,
        "severity": "error",
        "code": "V400",
        "message": "agent a1: level 0 is out of range 1..5",
        "hints": [],
    }


def test_caret_under_the_error(tmp_path, cli):
    path = tmp_path / "c.yaml"
    path.write_text("shop: t\nrouting: {when_nobody_online: robott}\n")
    r = cli("check", path)
    lines = r.err.splitlines()
    assert lines[0] == f"{path}:2:31: error[V401]: unknown when_nobody_online target `robott`"
    assert lines[1] == "  routing: {when_nobody_online: robott}"
    assert lines[2] == "  " + " " * 30 + "^" * 6


def test_usage_errors_exit_2(cli, tmp_path):
    assert cli("compile").code == 2
    assert cli("frobnicate").code == 2
    assert "did you mean" in cli("compil", "x").err
    p = tmp_path / "ok.yaml"
    p.write_text("shop: t\n")
    assert cli("check", p, "--now", "yesterday").code == 2


def test_warnings_do_not_change_exit_status(tmp_path, cli):
    p = tmp_path / "w.yaml"
    p.write_text("shop: t\nagents: {a1: {}, lone: {}}\ngroups: {G: {agents: [a1]}}\n")
    r = cli("compile", p, "-o", tmp_path / "w.rtbl")
    assert r.code == 0 and "warning[W501]" in r.err
    assert (tmp_path / "w.rtbl").exists()


def test_errors_write_no_table(tmp_path, cli):
    p = tmp_path / "e.yaml"
    p.write_text("shop: t\nagents: {a1: {level: 6}}\n")
    r = cli("compile", p, "-o", tmp_path / "e.rtbl")
    assert r.code == 1 and not (tmp_path / "e.rtbl").exists()


def test_billion_laughs_is_refused_quickly(tmp_path, cli):
    lines = ["shop: t", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 8) + "]" for i in range(1, 12)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    r = cli("check", path)
    assert r.code == 1 and "P109" in r.err


def test_json_fast_path_gives_the_same_table_and_positions(tmp_path, cli):
    """A clean .json source takes the fast path; the table is the same as through YAML, and a
    source with a problem still gets positioned diagnostics."""
    import json as _json

    src = {
        "shop": "t",
        "attributes": {"x": "int"},
        "crowds": {"big": "x > 3"},
        "agents": {"a1": {"level": 2}},
        "groups": {"G": {"agents": ["a1"], "crowd": ["big"]}},
    }
    (tmp_path / "s.json").write_text(_json.dumps(src))
    (tmp_path / "s.yaml").write_text(_json.dumps(src))
    assert cli("compile", tmp_path / "s.json", "-o", tmp_path / "a.rtbl").code == 0
    assert cli("compile", tmp_path / "s.yaml", "-o", tmp_path / "b.rtbl").code == 0
    a, b = (tmp_path / "a.rtbl").read_bytes(), (tmp_path / "b.rtbl").read_bytes()
    assert a[81:] == b[81:]  # same body; the source hash differs only if the bytes do
    src["groups"]["G"]["order"] = ["unpayed"]
    (tmp_path / "bad.json").write_text(_json.dumps(src, indent=1))
    r = cli("check", tmp_path / "bad.json")
    assert r.code == 1 and f"{tmp_path / 'bad.json'}:" in r.err and "did you mean `unpaid`" in r.err
    assert ":0:" not in r.err
