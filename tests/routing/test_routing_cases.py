"""Data-driven routing scenarios (R1–R10, E1–E4, C1–C5) run in-process through `rulec route`.

Each tests/routing/cases/*.json (and the shared conformance scenarios) has the format of
/work/shared/conformance/run: rules, optional state and seed, events, one expectation per
decision line."""

import io
import json
import pathlib

import pytest

from rulec.cli.main import main

HERE = pathlib.Path(__file__).parent
SHARED = HERE.parent.parent.parent / "shared" / "conformance" / "routing"
CASES = sorted((HERE / "cases").glob("*.json")) + sorted(SHARED.glob("*.json"))


def check(decision, want):
    problems = []
    for key, value in want.items():
        if key.endswith("_in"):
            if decision.get(key[:-3]) not in value:
                problems.append(f"{key[:-3]}={decision.get(key[:-3])!r} not in {value!r}")
        elif decision.get(key) != value:
            problems.append(f"{key}={decision.get(key)!r}, want {value!r}")
    return problems


def run_scenario(sc, tmp_path, extra=()):
    rules = tmp_path / "shop.yaml"
    rules.write_text(json.dumps(sc["rules"], ensure_ascii=False), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in sc["events"]), encoding="utf-8"
    )
    args = ["route", str(rules), "--events", str(events), *extra]
    if "state" in sc:
        state = tmp_path / "state.json"
        state.write_text(json.dumps(sc["state"], ensure_ascii=False), encoding="utf-8")
        args += ["--state", str(state)]
    if "seed" in sc:
        args += ["--seed", str(sc["seed"])]
    out, err = io.StringIO(), io.StringIO()
    code = main(args, out, err)
    assert code == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_scenario(path, tmp_path):
    sc = json.loads(path.read_text(encoding="utf-8"))
    decisions = run_scenario(sc, tmp_path)
    assert len(decisions) == len(sc["expect"])
    problems = [
        f"#{i + 1}: {p}"
        for i, (d, w) in enumerate(zip(decisions, sc["expect"]))
        for p in check(d, w)
    ]
    assert not problems, (sc["name"], problems)
    for d in decisions:  # R10: the CLI always prints the trace
        assert (
            isinstance(d["trace"], list)
            and d["trace"]
            and all(isinstance(t, str) for t in d["trace"])
        )


@pytest.mark.parametrize(
    "path", [p for p in CASES if p.stem.startswith(("r2", "r8", "r6"))], ids=lambda p: p.stem
)
def test_scenario_sqlite_store(path, tmp_path):
    """The same decisions with the SQLite store (E1 across stores)."""
    sc = json.loads(path.read_text(encoding="utf-8"))
    mem = run_scenario(sc, tmp_path)
    db = tmp_path / "state.db"
    sql = run_scenario(sc, tmp_path, ["--store", f"sqlite:///{db}"])
    assert mem == sql
