"""The planner's two loops (issue 15): the Cython one (_plan.pyx) and its pure-Python twin
(plan_run.Run) give the same stdout, report (key order too), bad-line diagnostics and ledger
rows on audiences of every odd shape the audience checks meet (O1-O9, O13, O14, E8xx)."""

import io
import json
import random

import pytest
from outreach_helpers import bench_planner_module as _bench
from outreach_helpers import check_packed_rows, ledger_dump

from rulec.errors import InputError
from rulec.outreach import plan_run
from rulec.outreach.planner import Planner

pytestmark = pytest.mark.skipif(plan_run._plan is None, reason="the Cython loop is not built")

IDS = ["plain", "顾客", 'q"uote', "back\\slash", "ctl\x01", "sep\u2028", "x" * 1024]
BAD_IDS = ["", "x" * 1025, 5, None]
TIMES = [
    "2023-12-05T12:00:00+08:00",  # inside every window
    "2023-11-01T12:00:00+08:00",  # before them
    "2023-12-03T10:00:00.5+08:00",  # a time seen nowhere else
    "2023-12-12T23:59:00+08:00",  # after the send times
]


def _line(rnd: random.Random, i: int) -> str:
    """One audience line, mostly good, sometimes bad in one of the ways the checks know."""
    rec: dict = {"consumer": f"u{i % 37}-{rnd.choice(IDS)}"}
    if rnd.random() < 0.03:
        rec["consumer"] = rnd.choice(BAD_IDS)
    r = rnd.random()
    if r < 0.85:
        rec["attrs"] = {
            "spend": rnd.choice([0, 299, 300, 1000, 3001, 5000, "9", None]),
            "level": rnd.randrange(1, 6),
            "city": rnd.choice(["杭州", "上海", "北京"]),
        }
    elif r < 0.9:
        rec["attrs"] = None
    elif r < 0.92:
        rec["attrs"] = [1]
    r = rnd.random()
    if r < 0.3:
        rec["crowds"] = rnd.sample(["love_new", "vip", "mid", f"own{rnd.randrange(50)}"], 2)
    elif r < 0.32:
        rec["crowds"] = rnd.choice(["vip", [1], None])
    rec["exclusive"] = rnd.choice([True, True, False, None, "yes"]) if rnd.random() < 0.97 else 0
    if rec["exclusive"] == 0 and rec["exclusive"] is not False:
        del rec["exclusive"]
    if rnd.random() < 0.8:
        rec["interested"] = rnd.choice([True, False, True, None])
    if rnd.random() < 0.85:
        rec["cart_adds"] = [
            {"time": rnd.choice(TIMES), "item": rnd.choice(["a", "a", "b", "货品", 7])}
            for _ in range(rnd.choice([0, 1, 1, 2, 3]))
        ]
        if rnd.random() < 0.02:
            rec["cart_adds"] = rnd.choice([["x"], {"time": 1}, [{"time": "noon", "item": "a"}]])
    if rnd.random() < 0.85:
        rec["purchases"] = [rnd.choice(TIMES) for _ in range(rnd.choice([0, 0, 1, 2]))]
        if rnd.random() < 0.02:
            rec["purchases"] = rnd.choice(["2023-12-05", [5], ["yesterday"]])
    return json.dumps(rec, ensure_ascii=rnd.random() < 0.5)


def audience(seed: int, n: int) -> list:
    rnd = random.Random(seed)
    lines = [_line(rnd, i) for i in range(n)]
    for k in range(0, n, 97):  # blank lines, text that is not JSON, a NaN
        lines.insert(k, rnd.choice(["", "{nope", '{"consumer": "n", "attrs": {"spend": NaN}}']))
    return [x + "\n" for x in lines]


def plan_text(tmp_path, impl, lines, keep_going=True, batch=40) -> str:
    """Two runs on one ledger (the second three hours later, so history decides), as text:
    stdout, each report in its own key order, the bad lines, the ledger."""
    bp = _bench()
    path = tmp_path / f"a-{impl}.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    ledger = tmp_path / f"l-{impl}.db"
    texts = []
    with Planner(bp.table(), str(ledger), batch_size=batch, impl=impl) as p:
        for now in (bp.NOW, "2023-12-12T23:00:00+08:00"):
            out = io.StringIO()
            try:
                r = p.plan(str(path), now, activities=bp.ACTIVITIES, out=out, keep_going=keep_going)
            except InputError as exc:
                texts += [out.getvalue(), "raised " + str(exc)]
                continue
            texts += [out.getvalue(), json.dumps(r.report, ensure_ascii=False)]
            texts += [f"{d.code} {d.span.line if d.span else ''} {d.message}" for d in r.bad]
    texts.append(json.dumps(ledger_dump(ledger), ensure_ascii=False))
    return "\n".join(texts)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_twins_agree_on_odd_audiences(tmp_path, seed):
    lines = audience(seed, 1500)
    pure = plan_text(tmp_path, "python", lines)
    assert pure.count('"campaign"') > 300 and "E806" in pure and "E804" in pure
    assert "E886" in pure and "E801" in pure and "E884" in pure
    assert plan_text(tmp_path, "cython", lines) == pure


@pytest.mark.parametrize("seed", [4, 5])
def test_twins_stop_at_the_same_bad_line(tmp_path, seed):
    """Without keep_going the batches before the first bad line are printed and recorded,
    then its error is raised: the same bytes, the same error, either loop."""
    good = tmp_path / "good.jsonl"
    _bench().write_audience(good, 300, seed=seed)  # good lines first, then the odd ones
    lines = good.read_text(encoding="utf-8").splitlines(keepends=True) + audience(seed, 400)
    pure = plan_text(tmp_path, "python", lines, keep_going=False)
    assert "raised " in pure and pure.count('"campaign"') > 10
    assert plan_text(tmp_path, "cython", lines, keep_going=False) == pure


def test_a_batch_of_one_consumer_many_times(tmp_path):
    """The same consumer over and over in one batch: no clean outcome, history of the batch."""
    rec = {"consumer": "same", "attrs": {"spend": 5000, "level": 5, "city": "杭州"}}
    rec.update(exclusive=True, interested=True, cart_adds=[], purchases=[])
    lines = [json.dumps(rec) + "\n"] * 30
    pure = plan_text(tmp_path, "python", lines, batch=2000)
    assert plan_text(tmp_path, "cython", lines, batch=2000) == pure


def test_sends_as_dicts_stay_with_the_pure_loop(tmp_path):
    """Collected sends and on_send callbacks: the pure loop (the Cython one only prints)."""
    bp = _bench()
    lines = audience(6, 200)
    (tmp_path / "a.jsonl").write_text("".join(lines), encoding="utf-8")
    got = {}
    for impl in ("python", "cython"):
        with Planner(bp.table(), str(tmp_path / f"{impl}.db"), impl=impl) as p:
            r = p.plan(str(tmp_path / "a.jsonl"), bp.NOW, activities=bp.ACTIVITIES, keep_going=True)
        got[impl] = r.sends
    assert got["python"] and got["cython"] == got["python"]


def test_unknown_implementation_is_refused(tmp_path):
    with pytest.raises(ValueError, match="fortran"):
        Planner(_bench().table(), str(tmp_path / "l.db"), impl="fortran")
    assert plan_run.loop() == plan_run.implementation


def test_live_loop_is_cython_unless_pure():
    import os

    pure = os.environ.get("RULEC_PURE") == "1"
    assert plan_run.implementation == ("python" if pure else "cython")


def test_packed_rows_are_checked_and_recorded(tmp_path):
    """O13 on Packed rows on SQLite (outreach_helpers.check_packed_rows)."""
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

    check_packed_rows(SqliteLedger(tmp_path / "l.db", "hx"))
