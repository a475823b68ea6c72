"""Data-driven outreach scenarios (O1–O13): tests/outreach/cases/*.json, the shared plan format.

A plan scenario's runs share one ledger; every expected send must appear with the given fields
(lists compare as sets) and no other. A check scenario runs `rulec check [--now]`."""

import json
import pathlib

import pytest

CASES = sorted((pathlib.Path(__file__).parent / "cases").glob("*.json"))


def _norm(v):
    return sorted(v) if isinstance(v, list) else v


def _jsonl(path, rows):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path, tmp_path, cli):
    sc = json.loads(path.read_text(encoding="utf-8"))
    rules = tmp_path / "shop.yaml"
    rules.write_text(json.dumps(sc["rules"], ensure_ascii=False), encoding="utf-8")
    if "runs" not in sc:
        args = ["check", rules] + (["--now", sc["now"]] if "now" in sc else [])
        r = cli(*args)
        text = r.out + r.err
        assert r.code == sc["expect_exit"], r
        assert "Traceback" not in text
        for s in sc.get("stderr_has", []):
            assert s in text, (s, text)
        return
    ledger = tmp_path / "ledger.db"
    for k, run in enumerate(sc["runs"], 1):
        aud = tmp_path / f"aud{k}.jsonl"
        _jsonl(aud, run["audience"])
        args = ["plan", rules, "--audience", aud, "--ledger", ledger, "--now", run["now"]]
        if "activities" in sc:
            acts = tmp_path / "acts.jsonl"
            _jsonl(acts, sc["activities"])
            args += ["--activities", acts]
        r = cli(*args)
        assert r.code == 0, (k, r)
        sends = [json.loads(line) for line in r.out.splitlines()]
        got = {(s["campaign"], s["consumer"]): s for s in sends}
        assert len(got) == len(sends), f"run {k}: duplicate sends"
        want = {(e["campaign"], e["consumer"]): e for e in run["expect"]}
        assert sorted(got) == sorted(want), f"run {k}"
        for key, exp in want.items():
            for field, value in exp.items():
                assert _norm(got[key][field]) == _norm(value), (k, key, field)
        for s in sends:  # contract: every send carries every field
            assert list(s) == [
                "campaign",
                "consumer",
                "channel",
                "at",
                "copy",
                "coupon",
                "items",
                "activities",
            ]
