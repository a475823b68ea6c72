"""Capture analysis (A1, A2) and `rulec diff` give exactly the outputs recorded before their
speed-ups (issue 12's benchmarks): the warnings' kinds, groups, deciding dimensions, takers and
witness chats, and the diff's regions, witnesses and replay, on small copies of the benchmark
workloads. A change that moves any of them fails here; when a change is meant to (a new
witness rule, another workload), rewrite the file with RULEC_REGOLDEN=1 and review its diff.
"""

from __future__ import annotations

import json
import os
import pathlib

import attrs
import pytest

from benchmarks.bench_analysis import _changed, _table
from benchmarks.workload import make_body, make_chats
from rulec.analysis import diff_report
from rulec.analysis.capture import analyze

GOLDEN = pathlib.Path(__file__).parent / "golden" / "analysis.json"
CAPTURE_SHOPS = {  # name -> make_body arguments
    "bench-100": dict(n_groups=100, n_crowds=20, skewed_groups=False, crowd_share=0.35),
    "skewed-60": dict(n_groups=60, n_crowds=12, skewed_groups=True, crowd_share=0.5, seed=7),
}


def _capture(args) -> list:
    return [attrs.asdict(f) for f in analyze(_table(make_body(**args)))]


def _diff(tmp_path, n_groups=150, n_chats=1500) -> dict:
    """The benchmark's diff (benchmarks/bench_analysis.diff) at a small size."""
    body = make_body(n_groups=n_groups, n_crowds=15, skewed_groups=False, crowd_share=0.05)
    log = tmp_path / "log.jsonl"
    with open(log, "w", encoding="utf-8") as fh:
        for a in body["agents"]:
            ev = {"type": "agent", "time": "2026-01-01T08:00:00+08:00", "agent": a["id"]}
            fh.write(json.dumps({**ev, "status": "online"}) + "\n")
        for i, c in enumerate(make_chats(n=n_chats, n_products=1000)):
            t = f"2026-01-01T{9 + i * 12 // n_chats:02d}:00:00+08:00"
            fh.write(json.dumps({**c, "type": "chat", "buyer": f"b{i}", "time": t}) + "\n")
    doc = diff_report.build(_table(body), _table(_changed(body, 8)), events=str(log))
    return json.loads(json.dumps(doc, ensure_ascii=False, default=str))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = {f"capture {name}": _capture(args) for name, args in CAPTURE_SHOPS.items()}
    out["diff 150 groups, 1500 chats"] = _diff(tmp_path_factory.mktemp("diff"))
    out = json.loads(json.dumps(out, ensure_ascii=False, default=str))
    if os.environ.get("RULEC_REGOLDEN") == "1":
        GOLDEN.write_text(_lines(out), encoding="utf-8")
    return out


def _lines(value, depth=0) -> str:
    """JSON with one finding, region or field per line (a reviewable diff when rewritten)."""
    if depth < 3 and isinstance(value, dict):
        body = ",\n".join(f"{json.dumps(k)}: {_lines(v, depth + 1)}" for k, v in value.items())
        return "{\n" + body + "\n}" + ("\n" if depth == 0 else "")
    if depth < 3 and isinstance(value, list) and value:
        return "[\n" + ",\n".join(_lines(v, 3) for v in value) + "\n]"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@pytest.mark.parametrize(
    "key", [f"capture {n}" for n in CAPTURE_SHOPS] + ["diff 150 groups, 1500 chats"]
)
def test_same_outputs_as_recorded(outputs, key):
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))[key]
    got = outputs[key]
    if key.startswith("capture"):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == w
        assert any(f["kind"] == "capture" for f in got)  # the shop has captures to compare
    else:
        for part in ("structural", "regions_total", "regions", "replay"):
            assert got[part] == want[part], part
        assert got["regions_total"] and got["replay"]["differ"]  # a change to compare
