"""Decision-table views (`rulec inspect --view`) and `rulec diff`: known changes give exactly the
expected structural changes, R5 regions and replay counts; `diff X X` reports nothing; the HTML
outputs open in headless Chromium without console errors."""

import json
import pathlib

import pytest
from support.browser import needs_browser, open_page

ROOT = pathlib.Path(__file__).resolve().parents[2]

OLD = """shop 新店
attribute is_new: bool
crowd 新客 = is_new == true
agent a1 level 3
agent a2 level 3
group 售前导购 { agents a1; crowd 新客; order no_active_order, unpaid }
group 售后服务 { agents a2; order paid_unshipped, shipped, completed, after_sale }
"""
# The fix for the capture of A1: the after-sales group binds the crowd too.
NEW = OLD.replace("group 售后服务 { agents a2;", "group 售后服务 { agents a2; crowd 新客;")


@pytest.fixture
def pair(tmp_path):
    old, new = tmp_path / "old.rules", tmp_path / "new.rules"
    old.write_text(OLD, encoding="utf-8")
    new.write_text(NEW, encoding="utf-8")
    return old, new


def _log(path, chats):
    with path.open("w", encoding="utf-8") as fh:
        for a in ("a1", "a2"):
            fh.write(
                json.dumps(
                    {
                        "type": "agent",
                        "time": "2026-01-01T09:00:00+08:00",
                        "agent": a,
                        "status": "online",
                    }
                )
                + "\n"
            )
        for i, c in enumerate(chats):
            fh.write(
                json.dumps(
                    dict(c, type="chat", buyer=f"u{i}", time=f"2026-01-01T10:{i:02d}:00+08:00"),
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


def test_diff_of_a_known_change(pair, tmp_path, cli):
    old, new = pair
    chats = (
        [{"attrs": {"is_new": True}, "order": "after_sale"}] * 3
        + [{"attrs": {"is_new": True}, "order": "unpaid"}] * 2
        + [{"order": "shipped"}] * 4
    )
    log = _log(tmp_path / "log.jsonl", chats)
    r = cli("diff", old, new, "--events", log, "--format", "json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert [(c["kind"], c["name"], c["change"]) for c in doc["structural"]] == [
        ("group", "售后服务", "changed")
    ]
    regions = {(tuple(x["old"]), tuple(x["new"])): x for x in doc["regions"]}
    assert set(regions) == {
        (("售前导购",), ("售前导购", "售后服务")),
        (("售前导购",), ("售后服务",)),
    }
    moved = regions[(("售前导购",), ("售后服务",))]
    assert moved["values"]["crowd"] == ["新客"]
    assert moved["values"]["order"] == ["paid_unshipped", "shipped", "completed", "after_sale"]
    import rulec

    for x in doc["regions"]:  # each witness routes as the region says, under both rule sets
        assert rulec.compile_file(old).match(x["witness"]) == x["old"]
        assert rulec.compile_file(new).match(x["witness"]) == x["new"]
    rp = doc["replay"]
    assert (rp["chats"], rp["differ"]) == (9, 3)  # the three after-sale chats of 新客 buyers
    groups = {g["group"]: g for g in rp["groups"]}
    assert (groups["售前导购"]["old"], groups["售前导购"]["new"]) == (5, 2)
    assert (groups["售后服务"]["old"], groups["售后服务"]["new"]) == (4, 7)
    assert {(m["old"], m["new"]): m["chats"] for m in rp["matrix"]}[("agent:a1", "agent:a2")] == 3


def test_diff_of_the_same_rules_is_empty(pair, tmp_path, cli):
    old, _ = pair
    log = _log(tmp_path / "log.jsonl", [{"order": "after_sale"}])
    r = cli("diff", old, old, "--events", log, "--fail-on-change", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["structural"] == [] and doc["regions"] == [] and doc["replay"]["differ"] == 0


def test_fail_on_change_gates_ci(pair, cli):
    old, new = pair
    assert cli("diff", old, new).code == 0
    r = cli("diff", old, new, "--fail-on-change")
    assert r.code == 1 and "R5 regions that change: 2" in r.out


def test_diff_of_a_changed_crowd_predicate(tmp_path, cli):
    old, new = tmp_path / "o.rules", tmp_path / "n.rules"
    old.write_text(OLD, encoding="utf-8")
    new.write_text(
        OLD.replace(
            "crowd 新客 = is_new == true", "crowd 新客 = is_new == true or is_new == false"
        ),
        encoding="utf-8",
    )
    doc = json.loads(cli("diff", old, new, "--format", "json").out)
    assert [(c["kind"], c["text"]) for c in doc["structural"]] == [
        ("crowd", "crowd 新客: is_new == true -> is_new == true or is_new == false")
    ]
    only_new = [x for x in doc["regions"] if x["values"]["crowd"] == ["新客 (new predicate only)"]]
    assert only_new and all(x["witness"]["attrs"] == {"is_new": False} for x in only_new)


def test_diff_of_outreach_sends(tmp_path, cli):
    src = ROOT / "rules" / "shop-double12.rules"
    text = src.read_text(encoding="utf-8")
    new = tmp_path / "new.rules"
    assert "campaign week49 batch {" in text
    new.write_text(
        text.replace("campaign week49 batch {", "campaign week49b batch {"), encoding="utf-8"
    )
    r = cli(
        "diff",
        src,
        new,
        "--audience",
        ROOT / "rules" / "demo" / "audience.jsonl",
        "--now",
        "2023-12-04T10:05:00+08:00",
        "--format",
        "json",
    )
    assert r.code == 0, r
    doc = json.loads(r.out)
    o = doc["outreach"]
    assert o["gained"] and {s["campaign"] for s in o["gained"]} == {"week49b"}
    assert {s["campaign"] for s in o["lost"]} == {"week49"}
    assert sorted(s["consumer"] for s in o["gained"]) == sorted(s["consumer"] for s in o["lost"])


def test_diff_usage_and_bad_inputs(pair, tmp_path, cli):
    old, new = pair
    assert cli("diff", old).code == 2
    assert cli("diff", old, new, "--audience", "a.jsonl").code == 2
    bad = tmp_path / "bad.rules"
    bad.write_text("shop x\ngroup {\n", encoding="utf-8")
    assert cli("diff", old, bad).code == 1
    log = tmp_path / "bad.jsonl"
    log.write_text("nope\n", encoding="utf-8")
    r = cli("diff", old, new, "--events", log)
    assert r.code == 1 and "E801" in r.err


def test_inspect_table_view_on_a_source_with_filters(pair, cli):
    old, _ = pair
    r = cli("inspect", old, "--view", "table")
    assert r.code == 0
    assert "新客 (is_new == true)" in r.out and "(2 of 2 groups" in r.out
    r = cli(
        "inspect",
        old,
        "--view",
        "table",
        "--format",
        "markdown",
        "--group",
        "售后",
        "--dimension",
        "order",
    )
    lines = r.out.splitlines()
    assert lines[0] == "| group | agents | order | mode | robot |"
    assert (
        lines[2]
        == "| 售后服务 | a2 | paid_unshipped; shipped; completed; after_sale | efficiency | off |"
    )
    assert len(lines) == 3


def test_inspect_graph_views(pair, cli):
    old, _ = pair
    dot = cli("inspect", old, "--view", "graph").out
    assert dot.startswith("digraph rulec {") and '"crowd:新客" -> "group:售前导购";' in dot
    mer = cli("inspect", old, "--view", "graph", "--format", "mermaid").out
    assert mer.startswith("flowchart LR") and "-->" in mer
    r = cli("inspect", old, "--view", "graph", "--format", "markdown")
    assert r.code == 2 and "--format dot|mermaid" in r.err
    assert cli("inspect", old, "--view", "table", "--group", "(").code == 2


def test_inspect_table_view_of_a_compiled_table(pair, tmp_path, cli):
    old, _ = pair
    tbl = tmp_path / "t.rtbl"
    assert cli("compile", old, "-o", tbl).code == 0
    assert cli("inspect", tbl, "--view", "table").out == cli("inspect", old, "--view", "table").out


@needs_browser
def test_html_views_open_in_chromium(pair, tmp_path, cli):
    old, new = pair
    log = _log(
        tmp_path / "log.jsonl",
        [{"attrs": {"is_new": True}, "order": "after_sale"}, {"order": "shipped"}],
    )
    pages = {
        "table.html": ("inspect", old, "--view", "table", "--format", "html"),
        "diff.html": ("diff", old, new, "--events", log, "--format", "html"),
    }
    for name, args in pages.items():
        path = tmp_path / name
        assert cli(*args, "-o", path).code == 0
        res = open_page(path)
        res.save(tmp_path / (name + ".png"))
        assert res.errors == [], (name, res.errors)
        assert res.ink() > 0.01, name
