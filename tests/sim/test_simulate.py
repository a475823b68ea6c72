"""`rulec simulate` and `rulec replay` through the CLI: deterministic reports, intervals that
shrink with replications, the routing claims of article 001 (C2, C3, C5) on simulated days,
scenario diagnostics, replay of event and decision logs, and the HTML report in Chromium."""

import json

import jsonschema
import pytest
from support.browser import needs_browser, open_page

from rulec.sim.report import REPORT_SCHEMA


def shop(n_agents: int, mode: str) -> str:
    agents = [f"s{i}" for i in range(n_agents)]
    lines = ["shop 试衣间", "routing { busy_threshold 3 }"]
    lines += [f"agent {a} level 3" for a in agents]
    lines.append(
        f"group 售前 {{ agents {', '.join(agents)}; order no_active_order, unpaid; mode {mode} }}"
    )
    return "\n".join(lines) + "\n"


def scenario(n_agents: int, chats: int = 1500) -> str:
    rates = [0.05 + 0.5 * i / max(1, n_agents - 1) for i in range(n_agents)]
    agents = "".join(
        f'  s{i}: {{shift: ["08:00", "23:00"], conversion: {r:.3f}, reply: [50, 30]}}\n'
        for i, r in enumerate(rates)
    )
    return (
        f"date: 2026-11-11\nchats: {chats}\narrivals: {{10: 3, 15: 3, 21: 3}}\n"
        "mix: {order: {no_active_order: 1, unpaid: 1}}\nrounds: 2\nthink: 120\nagents:\n" + agents
    )


@pytest.fixture
def files(tmp_path):
    def make(n_agents, mode="efficiency", chats=1500):
        rules = tmp_path / f"shop{n_agents}.rules"
        rules.write_text(shop(n_agents, mode), encoding="utf-8")
        scen = tmp_path / f"day{n_agents}.yaml"
        scen.write_text(scenario(n_agents, chats), encoding="utf-8")
        return rules, scen

    return make


def _report(cli, tmp_path, *args, name="out"):
    out = tmp_path / name
    r = cli("simulate", *args, "--out", out)
    assert r.code == 0, r
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, REPORT_SCHEMA)
    return doc, out


def test_same_seed_gives_byte_identical_reports(files, tmp_path, cli):
    rules, scen = files(8, "conversion high", chats=600)
    _, a = _report(cli, tmp_path, rules, "--scenario", scen, "--seed", "3", name="a")
    _, b = _report(cli, tmp_path, rules, "--scenario", scen, "--seed", "3", name="b")
    assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes()
    _, c = _report(cli, tmp_path, rules, "--scenario", scen, "--seed", "4", name="c")
    assert (a / "report.json").read_bytes() != (c / "report.json").read_bytes()


def test_intervals_shrink_with_replications(files, tmp_path, cli):
    rules, scen = files(8, "efficiency", chats=300)
    few, _ = _report(cli, tmp_path, rules, "--scenario", scen, "--replications", "2", name="k2")
    many, _ = _report(cli, tmp_path, rules, "--scenario", scen, "--replications", "10", name="k10")
    for key in ("m3_expected_conversions", "m2_gini"):
        assert many["variants"][0][key]["half_width"] < few["variants"][0][key]["half_width"], key
        assert many["variants"][0][key]["n"] == 10


def test_c2_conversion_mode_rises_with_strength_on_eight_agents(files, tmp_path, cli):
    """Article 001 / C2: more expected conversions and more uneven load than efficiency, rising
    with strength; the same buyers in every variant (common random numbers)."""
    rules, scen = files(8)
    doc, _ = _report(
        cli,
        tmp_path,
        rules,
        "--scenario",
        scen,
        "--replications",
        "2",
        "--variant",
        "group 售前 mode conversion low",
        "--variant",
        "group 售前 mode conversion medium",
        "--variant",
        "group 售前 mode conversion high",
    )
    conv = [v["m3_expected_conversions"]["mean"] for v in doc["variants"]]
    gini = [v["m2_gini"]["mean"] for v in doc["variants"]]
    assert conv == sorted(conv) and conv[3] > conv[0] * 1.1, conv
    assert gini == sorted(gini) and gini[3] > gini[0], gini
    sessions = {v["m1_sessions"]["mean"] for v in doc["variants"]}
    assert len(sessions) == 1  # CRN: every variant saw the same sessions


def test_c5_five_agents_show_no_difference(files, tmp_path, cli):
    rules, scen = files(5)
    doc, _ = _report(
        cli, tmp_path, rules, "--scenario", scen, "--variant", "group 售前 mode conversion high"
    )
    a, b = doc["variants"]
    for key in ("m3_expected_conversions", "m2_gini", "m2_per_agent", "m1_reply_rate"):
        assert a[key] == b[key], key


def test_c3_busy_agents_are_protected_in_conversion_mode(files):
    """C3: no assignment to a busy agent (pending > busy_threshold) while a non-busy agent of
    the group is available, checked on every decision of a busy simulated day."""
    import rulec
    from rulec.sim import engine
    from rulec.sim import scenario as sc

    rules, scen_path = files(8, "conversion high", chats=4000)
    table = rulec.compile_file(rules)
    scen = sc.load(scen_path, [a["id"] for a in table.body["agents"]])
    log = engine.simulate(table, scen, seed=1)
    open_ = dict.fromkeys(scen.agents, 0)
    busy_picks = checked = 0
    for r in log:
        if r["type"] == "route" and r["target"].startswith("agent:"):
            a = r["target"][6:]
            if r["step"] == "group":
                checked += 1
                if open_[a] > 3 and any(v <= 3 for v in open_.values()):
                    busy_picks += 1
            open_[a] += 1
        elif r["type"] == "close":
            open_[r["agent"]] -= 1
    assert checked > 1000 and busy_picks == 0
    assert max(open_.values()) == 0


def test_scenario_errors_are_coded_and_positioned(files, tmp_path, cli):
    rules, scen = files(8)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        scen.read_text(encoding="utf-8").replace("rounds: 2", "roundz: 2"), encoding="utf-8"
    )
    r = cli("simulate", rules, "--scenario", bad, "--out", tmp_path / "x")
    assert (
        r.code == 1
        and "error[M102]" in r.err
        and "did you mean `rounds`" in r.err
        and ":5:1:" in r.err
    )
    bad.write_text(scen.read_text(encoding="utf-8").replace("s0:", "s99:"), encoding="utf-8")
    r = cli("simulate", rules, "--scenario", bad, "--out", tmp_path / "x")
    assert r.code == 1 and "agent 's99' is not in the rules" in r.err
    bad.write_text(
        'date: 2026-11-11\nchats: 10\nagents: {s0: {shift: ["25:00", "26:00"]}}\n', encoding="utf-8"
    )
    r = cli("simulate", rules, "--scenario", bad, "--out", tmp_path / "x")
    assert r.code == 1 and "HH:MM" in r.err
    bad.write_text("date: [\n", encoding="utf-8")
    assert "error[M101]" in cli("simulate", rules, "--scenario", bad, "--out", tmp_path / "x").err
    r = cli(
        "simulate",
        rules,
        "--scenario",
        scen,
        "--variant",
        "group 售後 mode conversion high",
        "--out",
        tmp_path / "x",
    )
    assert r.code == 1 and "M103" in r.err and "did you mean `售前`" in r.err
    assert cli("simulate", rules, "--out", tmp_path / "x").code == 2
    assert json.loads(cli("simulate", "--schema", "scenario").out)["required"] == ["date", "chats"]


def _events(path, rows):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_replay_of_events_and_of_a_decision_log(files, tmp_path, cli):
    rules, _ = files(8)
    t = lambda mm, ss=0: f"2026-11-11T10:{mm:02d}:{ss:02d}+08:00"
    rows = [{"type": "agent", "time": t(0), "agent": f"s{i}", "status": "online"} for i in range(8)]
    rows += [
        {"type": "conversion", "time": t(0), "agent": "s7", "rate": 0.5},
        {"type": "chat", "time": t(1), "buyer": "u1", "order": "unpaid"},
        {"type": "message", "time": t(1, 10), "buyer": "u1"},
        {"type": "chat", "time": t(2), "buyer": "u2", "order": "unpaid"},
        {"type": "message", "time": t(2, 10), "buyer": "u2"},
    ]
    log = _events(tmp_path / "day.jsonl", rows)
    out = tmp_path / "r1"
    r = cli("replay", rules, "--events", log, "--out", out)
    assert r.code == 0, r
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    v = doc["variants"][0]
    assert v["m1_sessions"]["mean"] == 2 and v["m1_reply_rate"]["mean"] == 0.0  # nobody replied
    assert sum(v["m2_per_agent"].values()) == 2
    bad = _events(tmp_path / "bad.jsonl", [rows[0], {"type": "message", "time": t(0)}])
    r = cli("replay", rules, "--events", bad, "--out", tmp_path / "r2")
    assert r.code == 1 and ":2:1:" in r.err


@needs_browser
def test_html_report_renders_every_plot(files, tmp_path, cli):
    rules, scen = files(8, chats=400)
    _, out = _report(
        cli, tmp_path, rules, "--scenario", scen, "--variant", "group 售前 mode conversion high"
    )
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 5 and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    res = open_page(out / "report.html", height=2600)
    res.save(tmp_path / "report.png")
    assert res.errors == [] and res.ink() > 0.02


def test_unreadable_scenario_foreign_variant_and_unwritable_report_are_coded(files, tmp_path, cli):
    rules, scen = files(2, chats=20)
    r = cli("simulate", rules, "--scenario", tmp_path / "none.yaml", "--out", tmp_path / "x")
    assert r.code == 1 and "error[M100]: cannot read scenario" in r.err, r
    other = tmp_path / "other.rules"
    other.write_text(shop(2, "efficiency").replace("shop 试衣间", "shop 别家"), encoding="utf-8")
    r = cli("simulate", rules, "--scenario", scen, "--variant", other, "--out", tmp_path / "x")
    assert r.code == 1 and "error[M104]" in r.err and "'别家' is not '试衣间'" in r.err, r
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    r = cli("simulate", rules, "--scenario", scen, "--out", blocker / "report")
    assert r.code == 1 and "error[M105]: cannot write the report to" in r.err, r
