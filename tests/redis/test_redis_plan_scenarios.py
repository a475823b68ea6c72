"""Every outreach plan scenario (tests/outreach/cases, O1–O13, runs sharing a ledger) prints
the same sends and reports with `--ledger redis://…` as with a SQLite ledger."""

import json
import pathlib

import pytest

pytestmark = pytest.mark.redis

CASES = [
    p
    for p in sorted(
        (pathlib.Path(__file__).resolve().parent.parent / "outreach" / "cases").glob("*.json")
    )
    if "runs" in json.loads(p.read_text(encoding="utf-8"))
]


def _jsonl(path, rows):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


def _runs(sc, tmp_path, cli, ledger, tag):
    rules = tmp_path / "shop.yaml"
    rules.write_text(json.dumps(sc["rules"], ensure_ascii=False), encoding="utf-8")
    outs = []
    for k, run in enumerate(sc["runs"], 1):
        aud = tmp_path / f"aud{k}.jsonl"
        _jsonl(aud, run["audience"])
        report = tmp_path / f"{tag}{k}.json"
        args = [
            "plan",
            rules,
            "--audience",
            aud,
            "--ledger",
            ledger,
            "--now",
            run["now"],
            "--report",
            report,
            "--batch",
            "3",
        ]
        if "activities" in sc:
            acts = tmp_path / "acts.jsonl"
            _jsonl(acts, sc["activities"])
            args += ["--activities", acts]
        r = cli(*args)
        assert r.code == 0, (k, r)
        outs.append((r.out, json.loads(report.read_text(encoding="utf-8"))))
    return outs


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan_scenario_redis_ledger(path, tmp_path, cli, redis_url):
    sc = json.loads(path.read_text(encoding="utf-8"))
    sqlite = _runs(sc, tmp_path, cli, tmp_path / "ledger.db", "s")
    redis = _runs(sc, tmp_path, cli, redis_url, "r")
    assert redis == sqlite
