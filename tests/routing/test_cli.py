"""`rulec route` / `rulec explain` from the outside: bad inputs are clear errors (E8xx) that
name the line, never tracebacks; --keep-going skips them; explain reads like prose."""

import json

import pytest

RULES = {
    "shop": "s",
    "agents": {"bob": {"level": 2}, "小美": {"level": 5}},
    "groups": {
        "售前A": {"agents": ["小美", "bob"], "product": ["a"]},
        "售后": {"agents": ["bob"], "product": ["b"], "order": ["after_sale"]},
    },
}
GOOD = [
    {"type": "agent", "time": "2026-11-23T09:00:00+08:00", "agent": "小美", "status": "online"},
    {"type": "chat", "time": "2026-11-23T09:01:00+08:00", "buyer": "u1", "product": "a"},
]


@pytest.fixture
def files(tmp_path):
    rules = tmp_path / "shop.yaml"
    rules.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")

    def write(name, lines):
        p = tmp_path / name
        p.write_text(
            "".join(
                (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n"
                for x in lines
            ),
            encoding="utf-8",
        )
        return p

    return rules, write


def test_route_prints_json_lines_with_unescaped_names(cli, files):
    rules, write = files
    res = cli("route", rules, "--events", write("e.jsonl", GOOD), "--seed", "3")
    assert res.code == 0, res
    d = json.loads(res.out)
    assert d["target"] == "agent:小美" and d["group"] == "售前A" and "小美" in res.out


@pytest.mark.parametrize(
    "line, code, words",
    [
        ("{not json", "E801", "not JSON"),
        ('["a"]', "E801", "JSON object"),
        ({"type": "typing", "time": "2026-11-23T09:02:00+08:00"}, "E802", "unknown event type"),
        (
            {
                "type": "agent",
                "time": "2026-11-23T09:02:00+08:00",
                "agent": "bobb",
                "status": "online",
            },
            "E803",
            "did you mean `bob`",
        ),
        ({"type": "chat", "buyer": "u2"}, "E804", "lacks `time`"),
        ({"type": "chat", "time": "2026-11-23T09:02:00", "buyer": "u2"}, "E804", "offset"),
        ({"type": "chat", "time": "yesterday", "buyer": "u2"}, "E804", "bad time"),
        ({"type": "chat", "time": "2026-11-23T08:00:00+08:00", "buyer": "u2"}, "E805", "earlier"),
        ({"type": "chat", "time": "2026-11-23T09:02:00+08:00"}, "E806", "lacks `buyer`"),
        (
            {"type": "chat", "time": "2026-11-23T09:02:00+08:00", "buyer": "u2", "order": "paid"},
            "E806",
            "unknown order state",
        ),
        (
            {
                "type": "agent",
                "time": "2026-11-23T09:02:00+08:00",
                "agent": "bob",
                "status": "away",
            },
            "E807",
            "bad status",
        ),
        (
            {
                "type": "conversion",
                "time": "2026-11-23T09:02:00+08:00",
                "agent": "bob",
                "rate": -0.1,
            },
            "E808",
            "0..1",
        ),
        (
            {"type": "chat", "time": "2026-11-23T09:02:00+08:00", "buyer": "u2", "prodcut": "a"},
            "E809",
            "did you mean `product`",
        ),
    ],
)
def test_bad_event_lines(cli, files, line, code, words):
    rules, write = files
    events = write("e.jsonl", GOOD + [line])
    res = cli("route", rules, "--events", events)
    assert res.code == 1 and res.out == "", res
    assert f"{events}:3:1: error[{code}]: line 3:" in res.err and words in res.err, res.err
    assert "Traceback" not in res.err
    kept = cli("route", rules, "--events", events, "--keep-going")
    assert kept.code == 1 and len(kept.out.splitlines()) == 1 and code in kept.err


def test_keep_going_routes_the_rest(cli, files):
    rules, write = files
    events = write(
        "e.jsonl", [GOOD[0], "oops", GOOD[1], {"type": "chat"}, {**GOOD[1], "buyer": "u2"}]
    )
    res = cli("route", rules, "--events", events, "--keep-going")
    assert [json.loads(x)["buyer"] for x in res.out.splitlines()] == ["u1", "u2"]
    assert res.code == 1 and ":2:1:" in res.err and ":4:1:" in res.err


@pytest.mark.parametrize(
    "state, words",
    [
        ({"agents": {"bobb": {"status": "online"}}}, "unknown agent 'bobb'"),
        ({"agents": {"bob": {"pending": -1}}}, "agents.bob.pending"),
        ({"agents": {"bob": {"conversion": 2}}}, "agents.bob.conversion"),
        ({"agents": {"bob": {"status": "busy"}}}, "bad status"),
        ({"contacts": {"u1": {"agent": "bob", "time": "2026-11-23T09:00:00"}}}, "contacts.u1.time"),
        ({"contacts": {"u1": {"agent": "bob"}}}, "contacts.u1"),
        ({"agent": {}}, "unknown key"),
        ([1], "JSON object"),
    ],
)
def test_bad_state(cli, files, tmp_path, state, words):
    rules, write = files
    st = tmp_path / "state.json"
    st.write_text(json.dumps(state), encoding="utf-8")
    for extra in ([], ["--keep-going"]):
        res = cli("route", rules, "--events", write("e.jsonl", GOOD), "--state", st, *extra)
        assert res.code == 1 and res.out == "" and words in res.err, res.err


def test_missing_files_store_errors_and_usage(cli, files, tmp_path):
    rules, write = files
    events = write("e.jsonl", GOOD)
    res = cli("route", rules, "--events", tmp_path / "nope.jsonl")
    assert res.code == 1 and "E800" in res.err
    res = cli("route", rules, "--events", events, "--store", "ftp://x")
    assert res.code == 1 and "S900" in res.err
    res = cli("route", rules, "--events", events, "--store", f"sqlite:///{tmp_path}/no/dir/x.db")
    assert res.code == 1 and "S901" in res.err
    assert cli("route", rules).code == 2
    assert cli("route", rules, "--events", events, "--seed", "x").code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"shop": "s", "agents": {"a": {"level": 9}}}), encoding="utf-8")
    res = cli("route", bad, "--events", events)
    assert res.code == 1 and res.out == ""


def test_route_a_compiled_table_and_a_sqlite_store(cli, files, tmp_path):
    rules, write = files
    table = tmp_path / "shop.bin"
    assert cli("compile", rules, "-o", table).code == 0
    db = tmp_path / "st.db"
    events = write("e.jsonl", GOOD)
    first = cli("route", table, "--events", events, "--store", f"sqlite:///{db}")
    assert first.code == 0, first
    again = cli(
        "route",
        table,
        "--events",
        write(
            "e2.jsonl",
            [{"type": "chat", "time": "2026-11-23T10:00:00+08:00", "buyer": "u1", "product": "b"}],
        ),
        "--store",
        f"sqlite:///{db}",
    )
    assert json.loads(again.out)["step"] == "sticky"  # the contact survived the process
    other = tmp_path / "other.yaml"
    other.write_text(json.dumps({**RULES, "shop": "t"}), encoding="utf-8")
    res = cli("route", other, "--events", events, "--store", f"sqlite:///{db}")
    assert res.code == 1 and "S902" in res.err


def test_explain_says_which_rule_and_why_others_lost(cli, files, tmp_path):
    rules, write = files
    ev = tmp_path / "ev.json"
    ev.write_text(
        json.dumps(
            {
                "type": "chat",
                "time": "2026-11-23T09:01:00+08:00",
                "buyer": "u1",
                "product": "b",
                "order": "after_sale",
            }
        ),
        encoding="utf-8",
    )
    st = tmp_path / "st.json"
    st.write_text(json.dumps({"agents": {"bob": {"status": "online"}}}), encoding="utf-8")
    res = cli("explain", rules, "--event", ev, "--state", st)
    assert res.code == 0, res
    assert res.out.startswith("u1 at 2026-11-23T09:01:00+08:00 → agent:bob")
    assert "step: group, group: 售后" in res.out
    assert "product = b: matched by 售后" in res.out
    assert "售前A lost: it binds product [a]" in res.out
    ev.write_text(
        json.dumps({"type": "reply", "time": "2026-11-23T09:01:00+08:00", "agent": "bob"})
    )
    res = cli("explain", rules, "--event", ev)
    assert res.code == 1 and "needs a chat event" in res.err
    ev.write_text("{")
    assert cli("explain", rules, "--event", ev).code == 1


def test_bad_state_codes(cli, files, tmp_path):
    """State-file errors have their own codes (E830–E833), apart from activity lines'."""
    rules, write = files
    st = tmp_path / "state.json"
    for state, code in [
        ([1], "E830"),
        ({"agents": {"bobb": {}}}, "E831"),
        ({"agents": {"bob": {"pending": -1}}}, "E832"),
        ({"contacts": {"u": {"agent": "bob", "time": "x"}}}, "E833"),
    ]:
        st.write_text(json.dumps(state), encoding="utf-8")
        res = cli("route", rules, "--events", write("e.jsonl", GOOD), "--state", st)
        assert res.code == 1 and f"error[{code}]" in res.err, res.err
