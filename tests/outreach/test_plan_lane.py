"""The Cython loop's fast lane (issue 15): chunks whose lines are all of the common shape are
scanned in C (_scan.pxd), their crowds looked up through the matcher's C entry and their
new consumers printed as UTF-8; the sends, report, bad lines and ledger are the pure loop's,
byte for byte, for text and binary `out` (O1-O9, O11, O13, E886)."""

import io
import json
import random

import pytest
from outreach_helpers import bench_planner_module as _bench
from outreach_helpers import ledger_dump

import rulec
from rulec.errors import InputError
from rulec.outreach import plan_run
from rulec.outreach.planner import Planner

pytestmark = pytest.mark.skipif(plan_run._plan is None, reason="the Cython loop is not built")
# the lane reads crowds through the Cython matcher's C entry: with the pure matcher live
# (RULEC_PURE=1) every chunk takes the full checks, and the bytes must still be the same
LIVE = rulec.implementation == "cython"


def lanes(n: int) -> int:
    """The chunks the lane takes when it can (n), else 0."""
    return n if LIVE else 0


TIMES = [
    "2023-12-05T12:00:00+08:00",  # inside every window
    "2023-11-01T12:00:00+08:00",  # before them
    "2023-12-03T10:00:00.5+08:00",  # a time seen nowhere else
    "2023-12-12T23:59:00+08:00",  # after the send times
]
SPENDS = [0, 299, 300, 300.0, 1000, 2999.5, 3001, 5000, 1e3, -0.0, "9", None, True]


def common_line(rnd: random.Random, i: int) -> str:
    """A line of the common shape (every field optional but `consumer`, any key order), its
    non-ASCII written as it is or escaped (json.dumps' ensure_ascii either way: the scanner
    takes escapes in attribute values, crowd labels and cart items)."""
    rec: dict = {"consumer": f"u{i:05d}"}
    if rnd.random() < 0.9:
        attrs = {"spend": rnd.choice(SPENDS), "level": rnd.randrange(0, 7)}
        attrs["city"] = rnd.choice(["杭州", "上海", "北京", "Paris", "", "Zürich", 'Q"x'])
        if rnd.random() < 0.2:
            attrs["other"] = rnd.choice([1, "x", False, None])  # read by no crowd
        if rnd.random() < 0.1:
            del attrs["level"]
        rec["attrs"] = attrs
    if rnd.random() < 0.3:
        rec["crowds"] = rnd.sample(["love_new", "vip", "mid", f"own{rnd.randrange(5)}", "新客"], 2)
    rec["exclusive"] = ex = rnd.random() < 0.6  # an exclusive consumer carries every field
    if ex or rnd.random() < 0.8:
        rec["interested"] = rnd.random() < 0.5
    if ex or rnd.random() < 0.9:
        rec["cart_adds"] = [
            {"time": rnd.choice(TIMES), "item": rnd.choice(["a", "b", "货品", "sku-1", "s\\1"])}
            for _ in range(rnd.choice([0, 1, 1, 2, 3, 4]))
        ]
    if ex or rnd.random() < 0.9:
        rec["purchases"] = [rnd.choice(TIMES) for _ in range(rnd.choice([0, 0, 1, 2]))]
    keys = list(rec)
    rnd.shuffle(keys)
    text = json.dumps({k: rec[k] for k in keys}, ensure_ascii=rnd.random() < 0.5)
    return text.replace(", ", rnd.choice([", ", ",", " ,\t"])) + "\n"


def lines_of(seed: int, n: int) -> list:
    rnd = random.Random(seed)
    return [common_line(rnd, i) for i in range(n)]


def run_plans(tmp_path, impl, lines, binary=False, batch=50, nows=None):
    """Runs on one ledger (the first when only the morning campaigns are due, the second at
    the bench's moment: history decides), as text: each run's stdout and report, then the
    ledger; and the number of chunks the lane took."""
    bp = _bench()
    path = tmp_path / f"a-{impl}-{binary}.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    ledger = tmp_path / f"l-{impl}-{binary}.db"
    texts, lane = [], 0
    with Planner(bp.table(), str(ledger), batch_size=batch, impl=impl) as p:
        for now in nows or ("2023-12-12T09:30:00+08:00", bp.NOW):
            out = io.BytesIO() if binary else io.StringIO()
            kernels = []
            stream = plan_run.Run.stream

            def spy(run, src, progress, stream=stream):
                try:
                    return stream(run, src, progress)
                finally:
                    kernels.append(run.kernel)

            plan_run.Run.stream = spy
            try:
                r = p.plan(str(path), now, activities=bp.ACTIVITIES, out=out, keep_going=True)
            except InputError as exc:
                r = None
                texts.append("raised " + str(exc))
            finally:
                plan_run.Run.stream = stream
            data = out.getvalue()
            texts.append(data.decode("utf-8") if binary else data)
            if r is not None:
                texts.append(json.dumps(r.report, ensure_ascii=False))
            lane += sum(k.lane_chunks for k in kernels if k is not None)
    texts.append(json.dumps(ledger_dump(ledger), ensure_ascii=False))
    return "\n".join(texts), lane


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_lane_prints_and_records_what_the_pure_loop_does(tmp_path, seed, binary):
    lines = lines_of(seed, 1200)
    pure, lane0 = run_plans(tmp_path, "python", lines, binary)
    assert lane0 == 0 and pure.count('"campaign"') > 1000
    got, lane = run_plans(tmp_path, "cython", lines, binary)
    assert got == pure
    assert lane == lanes(2 * 1200 // 50)  # every chunk of both runs went through the lane


def test_text_and_binary_out_carry_the_same_bytes(tmp_path):
    lines = lines_of(3, 300)
    text, _ = run_plans(tmp_path, "cython", lines, binary=False)
    assert run_plans(tmp_path / "..", "cython", lines, binary=True)[0] == text


def test_an_odd_line_sends_its_chunk_through_the_full_checks(tmp_path):
    """One line with an escape (not the common shape) in the second chunk: that chunk takes
    the full checks, the others the lane; one bad line (E806) is skipped by both loops."""
    lines = lines_of(4, 200)
    lines[70] = json.dumps({"consumer": 'q"uote', "exclusive": False}) + "\n"
    lines[150] = json.dumps({"consumer": "", "exclusive": False}) + "\n"
    pure, _ = run_plans(tmp_path, "python", lines)
    assert "E806" not in pure  # keep_going: skipped, counted in the report
    got, lane = run_plans(tmp_path, "cython", lines)
    assert got == pure and lane == lanes(2 * (4 - 2))


def test_missing_promo_field_is_the_full_checks_error(tmp_path):
    """E886: an exclusive consumer without `purchases` while recall is due; the lane hands
    the chunk over and the full checks name the field, as the pure loop does."""
    lines = lines_of(5, 120)
    lines[60] = json.dumps({"consumer": "u-x", "exclusive": True, "cart_adds": []}) + "\n"
    pure, _ = run_plans(tmp_path, "python", lines)
    got, lane = run_plans(tmp_path, "cython", lines)
    # the morning run reads no promo field (none is due): the lane takes its 3 chunks
    assert got == pure and lane == lanes(3 + (3 - 1))
    assert '"bad_lines": 0' in pure and '"bad_lines": 1' in pure


def test_repeated_consumers_and_history_take_the_decisions_path(tmp_path):
    """A consumer twice in a batch (no clean outcome) and a second run whose consumers all
    have history: the lane's batches are decided by _decide, as the pure loop decides them."""
    lines = lines_of(6, 150)
    lines += lines[:40]  # the same consumers again, in the last batch
    pure, _ = run_plans(tmp_path, "python", lines, batch=60)
    got, lane = run_plans(tmp_path, "cython", lines, batch=60)
    assert got == pure and lane == lanes(2 * 4)
    assert "already_sent" in pure


def test_one_batch_of_many_lines(tmp_path):
    lines = lines_of(7, 2500)
    pure, _ = run_plans(tmp_path, "python", lines, batch=2000, nows=[_bench().NOW])
    got, lane = run_plans(tmp_path, "cython", lines, batch=2000, nows=[_bench().NOW])
    assert got == pure and lane == lanes(2)


def test_outside_labels_keep_the_lane_bounded(tmp_path):
    """A shop of promo privileges only (no targeted campaign keeps crowd combinations) and an
    outside label of its own on every line: the lane's views stay bounded (20,000), and the
    sends are the pure loop's."""
    bp = _bench()
    shop = dict(bp.SHOP, campaigns=[c for c in bp.SHOP["campaigns"] if "promo" in c])
    res = rulec.compile_source(json.dumps(shop, ensure_ascii=False), file="promo.yaml")
    assert not res.errors
    rnd = random.Random(8)
    lines = []
    for i in range(24_000):
        rec = json.loads(common_line(rnd, i))
        rec["crowds"] = [f"own{i}"]
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    path = tmp_path / "a.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    outs, kernels = {}, []
    stream = plan_run.Run.stream

    def spy(run, src, progress):
        try:
            return stream(run, src, progress)
        finally:
            kernels.append(run.kernel)

    for impl in ("python", "cython"):
        out = io.BytesIO()
        plan_run.Run.stream = spy
        try:
            with Planner(res.table, str(tmp_path / f"{impl}.db"), impl=impl) as p:
                p.plan(str(path), bp.NOW, activities=bp.ACTIVITIES, out=out)
        finally:
            plan_run.Run.stream = stream
        outs[impl] = out.getvalue()
    assert outs["cython"] == outs["python"] and outs["python"].count(b"\n") > 5000
    lane = kernels[-1]
    assert lane.lane_chunks == lanes(12) and lane.lane_views <= 20_001
