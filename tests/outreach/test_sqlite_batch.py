"""The SQLite ledger's batch step (issue 15): the C twin (_sqlite_batch) and the pure one
(sqlite_batch) record and find the same rows, and the lookup skip never hides a history
(O13: exactly once), whoever else writes the ledger; errors keep their codes (S907, S941)."""

import io
import json
import os
import pathlib
import random
import sqlite3
import tracemalloc

import pytest
from outreach_helpers import bench_planner_module

from rulec.errors import StoreError
from rulec.outreach.ledger import rows, sqlite_batch
from rulec.outreach.ledger.sqlite_ledger import TWIN, SqliteLedger
from rulec.outreach.planner import Planner

REQUIRED = os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1"
C = TWIN.extension
TWINS = [
    pytest.param(sqlite_batch, id="python"),
    pytest.param(
        C,
        id="cython",
        marks=pytest.mark.skipif(C is None and not REQUIRED, reason="the C twin is not built"),
    ),
]


def _ledger_file(tmp_path, name="l.db", shop="hx") -> str:
    """A fresh ledger file (schema, no consumer rows)."""
    path = str(tmp_path / name)
    SqliteLedger(path, shop).close()
    return path


def _table(path) -> list:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT consumer, sends FROM consumers ORDER BY consumer").fetchall()
    finally:
        con.close()


def test_the_file_ledger_uses_the_c_twin_when_built(tmp_path):
    """RULEC_REQUIRE_EXTENSIONS=1 (CI): the C batch step is built and a ledger file uses it
    unless RULEC_PURE=1; `:memory:` always uses the pure twin on the ledger's connection."""
    if REQUIRED:
        assert C is not None, TWIN.error
    pure = os.environ.get("RULEC_PURE") == "1" or C is None
    with SqliteLedger(tmp_path / "l.db", "hx") as led:
        assert type(led.batch_db()) is (sqlite_batch.BatchDb if pure else C.BatchDb)
        assert led.batch_db() is led.batch_db()  # one per ledger, for the run
    with SqliteLedger(":memory:", "hx") as led:
        batch = led.batch_db()
        assert type(batch) is sqlite_batch.BatchDb and batch.db is led.db


def test_the_batch_step_opens_the_file_the_ledger_opened(tmp_path, monkeypatch):
    """A relative path names the file of the cwd at open, even when the cwd changes before
    the first batch; "" (SQLite's private temporary file) shares the ledger's connection."""
    monkeypatch.chdir(tmp_path)
    led = SqliteLedger("rel.db", "hx")
    led.open_campaigns({"wk": ("started", None, 0)})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert led.decide_and_record(["a"], lambda h: [("wk", "a", "regular", 5)])
    led.close()
    assert _table(str(tmp_path / "rel.db")) == [("a", ";1,0,5")]
    assert not (tmp_path / "elsewhere" / "rel.db").exists()
    with SqliteLedger("", "hx") as led:
        led.open_campaigns({"wk": ("started", None, 0)})
        assert led.decide_and_record(["a"], lambda h: [("wk", "a", "regular", 5)])
        assert led.batch_db().db is led.db and led.sends() == [("wk", "a", "regular", 5)]


@pytest.mark.parametrize("seed", range(4))
def test_both_twins_find_and_record_the_same_rows(tmp_path, seed):
    """Random batches (some rolled back) on one file per twin: the same history each time
    and the same table at the end; in-batch duplicates are looked up once."""
    if C is None:
        pytest.skip("the C twin is not built")
    rnd = random.Random(seed)
    names = ["a", "顾客", "x" * 300, "q'uote", "e\u2028", "c1", "c2", "c10", "😀"]
    paths = [_ledger_file(tmp_path, "pure.db"), _ledger_file(tmp_path, "c.db")]
    dbs = [sqlite_batch.BatchDb(paths[0], 5.0), C.BatchDb(paths[1], 5.0)]
    for _ in range(30):
        ask = [rnd.choice(names) for _ in range(rnd.randrange(0, 8))]
        new = [(c, ";%d,0,%d" % (rnd.randrange(9), rnd.randrange(99))) for c in set(ask)]
        keep = rnd.random() < 0.7
        seen = []
        for db in dbs:
            db.begin()
            seen.append(db.history(ask))
            db.upsert(new)
            db.commit() if keep else db.rollback()
        assert seen[0] == seen[1]
        assert [c for c, _t in seen[0]] == [c for c in dict.fromkeys(ask) if c in dict(seen[0])]
    for db in dbs:
        db.close()
        db.close()  # a second close does nothing
    assert _table(paths[0]) == _table(paths[1]) != []


@pytest.mark.parametrize("mod", TWINS)
def test_skip_is_on_for_an_empty_table_and_off_once_another_connection_writes(tmp_path, mod):
    path = _ledger_file(tmp_path)
    db = mod.BatchDb(path, 5.0)
    db.begin()
    assert db.skipping and db.history(["a", "b"]) == []
    db.upsert([("a", ";1,0,1")])
    db.commit()
    db.begin()
    assert db.skipping and db.history(["a", "b"]) == [("a", ";1,0,1")]
    db.rollback()
    other = sqlite3.connect(path)
    other.execute("INSERT INTO consumers VALUES ('b', ';2,0,2')")
    other.commit()
    other.close()
    for _ in range(2):  # off for the rest of the run
        db.begin()
        assert not db.skipping and db.history(["a", "b"]) == [("a", ";1,0,1"), ("b", ";2,0,2")]
        db.commit()
    db.close()


@pytest.mark.parametrize("mod", TWINS)
def test_a_row_written_by_a_failed_upsert_still_has_its_bit(tmp_path, mod):
    """The bits are set before the writes: a caller that commits after an upsert failed part
    way (the ledger rolls back; another user of BatchDb might not) still finds the rows."""
    db = mod.BatchDb(_ledger_file(tmp_path), 5.0)
    db.begin()
    with pytest.raises((TypeError, sqlite3.Error)):
        db.upsert([("a", ";1,0,1"), ("b", object())])
    db.commit()
    db.begin()
    assert db.skipping and db.history(["a", "b"]) == [("a", ";1,0,1")]
    db.rollback()
    db.close()


@pytest.mark.parametrize("mod", TWINS)
def test_a_table_with_rows_never_skips(tmp_path, mod):
    path = _ledger_file(tmp_path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO consumers VALUES ('old', ';1,0,1')")
    con.commit()
    con.close()
    db = mod.BatchDb(path, 5.0)
    db.begin()
    assert not db.skipping and db.history(["old", "new"]) == [("old", ";1,0,1")]
    db.rollback()
    db.close()


@pytest.mark.parametrize("mod", TWINS)
def test_the_filter_memory_does_not_grow_with_the_audience(tmp_path, mod):
    """A fixed-size bit filter, never a set of the consumers written (10^8-line audiences)."""
    db = mod.BatchDb(_ledger_file(tmp_path), 5.0)
    db.begin()
    batches = [[(f"u{i:07d}-{k}", ";1,0,1") for i in range(20_000)] for k in range(5)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for batch in batches:
            db.upsert(batch)
            db.history([c for c, _t in batch[:100]])
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert db.skipping
    assert grown < 1_000_000, grown  # 100,000 consumers in a set would take ~10 MB
    db.commit()
    db.close()


@pytest.mark.parametrize("mod", TWINS)
def test_errors_are_sqlite3s_own(tmp_path, mod):
    """The ledger's _guard maps OperationalError to S907 and DatabaseError to S941."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 300)
    with pytest.raises(sqlite3.DatabaseError) as exc:
        mod.BatchDb(str(junk), 0.05).begin()
    assert type(exc.value) is sqlite3.DatabaseError and "not a database" in str(exc.value)
    path = _ledger_file(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    db = mod.BatchDb(path, 0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.begin()
    holder.execute("ROLLBACK")
    holder.close()
    db.rollback()  # outside a transaction: nothing to do
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.begin()


def _damage_consumers(path, rowcount=3000):
    """Rows enough for a multi-page `consumers` table, then its root page overwritten."""
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO consumers VALUES (?, ?)", [(f"c{i}", ";1,0,1") for i in range(rowcount)]
    )
    con.commit()
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'consumers'").fetchone()
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(path, "r+b") as fh:
        fh.seek((root[0] - 1) * size)
        fh.write(b"\xa5" * size)


def test_locked_and_damaged_ledgers_keep_their_codes(tmp_path):
    """Through the live twin (the C one on a built tree): locked past the timeout S907, a
    damaged `consumers` table S941 - coded errors, not tracebacks."""
    path = _ledger_file(tmp_path)
    led = SqliteLedger(path, "hx", timeout=0.05)
    led.open_campaigns({"wk": ("started", None, 0)})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError) as exc:
        led.decide_and_record(["a"], lambda h: [("wk", "a", "regular", 5)])
    holder.execute("ROLLBACK")
    holder.close()
    assert exc.value.code == "S907" and "locked" in str(exc.value)
    assert led.decide_and_record(["a"], lambda h: [("wk", "a", "regular", 5)])
    led.close()
    path = _ledger_file(tmp_path, "d.db")
    _damage_consumers(path)
    led = SqliteLedger(path, "hx")
    with pytest.raises(StoreError) as exc:
        led.decide_and_record(["c5"], lambda h: [])
    led.close()
    assert exc.value.code == "S941" and "malformed" in str(exc.value)
    assert led._batch is None  # closed with the ledger


# -- the skip seen through the planner: the bench shop, batches of 2000 lines -------------

BATCH = 2000


def _audience(tmp_path) -> list:
    """6,000 consumers; lines 4000-4099 repeat lines 0-99 (batch 3 meets batch 1's)."""
    bp = bench_planner_module()
    path = pathlib.Path(tmp_path) / "a.jsonl"
    bp.write_audience(path, 6000, seed=11)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4000:4100] = lines[0:100]
    return lines


def _plan(path, lines, on_progress=None):
    """One planning run: (printed JSON Lines, report, the ledger's BatchDb still skipping)."""
    bp = bench_planner_module()
    out = io.StringIO()
    led = SqliteLedger(path, "bench")
    with Planner(bp.table(), led, BATCH) as p:
        report = p.plan(lines, bp.NOW, activities=bp.ACTIVITIES, out=out, on_progress=on_progress)
        skipping = led.batch_db().skipping
    return out.getvalue(), report.report, skipping


def _seeded(tmp_path, name) -> str:
    """A ledger holding one row of a consumer not in the audience: the skip never starts."""
    path = _ledger_file(tmp_path, name, "bench")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO consumers VALUES ('not-in-audience', ';1,0,0')")
    con.commit()
    con.close()
    return path


def test_a_consumer_written_in_batch_1_is_found_in_batch_3(tmp_path):
    """O13: batch 3's repeats get already_sent / capped exactly as on a ledger that never
    skips a lookup (a lost history would send them again)."""
    lines = _audience(tmp_path)
    fresh = _plan(str(tmp_path / "fresh.db"), lines)
    never = _plan(_seeded(tmp_path, "seeded.db"), lines)
    assert fresh[2] is True and never[2] is False
    assert fresh[:2] == never[:2]
    assert fresh[1]["skips"]["already_sent"] >= 50


def test_another_writer_between_batches_turns_the_skip_off(tmp_path):
    """A row written by a second connection after batch 1, for a consumer first met in
    batch 3: its line there is decided against that row (nothing it holds is sent again)."""
    lines = _audience(tmp_path)
    plain, _r, _s = _plan(str(tmp_path / "plain.db"), lines)
    sent: dict = {}
    for send in map(json.loads, plain.splitlines()):
        sent.setdefault(send["consumer"], set()).add(send["campaign"])
    ids = [json.loads(x)["consumer"] for x in lines]
    late = next(c for c in ids[4100:] if ids.count(c) == 1 and len(sent.get(c, ())) >= 2)
    path = str(tmp_path / "l.db")
    states = []

    def write_between(_done, _size, consumers):
        if consumers != BATCH:
            return
        con = sqlite3.connect(path)
        camps = dict(con.execute("SELECT name, id FROM campaigns"))
        text = "".join(rows.token(camps[n], "regular", 0) for n in sorted(sent[late]))
        con.execute("INSERT INTO consumers VALUES (?, ?)", (late, text))
        con.commit()
        con.close()
        states.append(text)

    out, report, skipping = _plan(path, lines, write_between)
    assert len(states) == 1 and skipping is False
    mine = [s for s in map(json.loads, out.splitlines()) if s["consumer"] == late]
    assert not {s["campaign"] for s in mine} & sent[late]
    assert dict(_table(path))[late].startswith(states[0])


def test_in_chunk_lookups_cover_large_batches(tmp_path):
    """More consumers than one `IN (...)` takes (the pure twin's chunks): all found."""
    path = _ledger_file(tmp_path)
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO consumers VALUES (?, ';1,0,1')", [(f"c{i}",) for i in range(1200)])
    con.commit()
    con.close()
    db = sqlite_batch.BatchDb(path, 5.0)
    db.begin()
    assert len(db.history([f"c{i}" for i in range(1300)])) == 1200
    db.rollback()
    db.close()


@pytest.mark.parametrize("mod", TWINS)
def test_many_rows_in_one_upsert_with_a_consumer_three_times(tmp_path, mod):
    """The C twin writes UPSERT_ROWS rows a statement: 200 rows with one consumer three times
    (twice inside one statement, once in another) end as row-by-row upserts leave them."""
    rows = [(f"c{i:03d}", f";1,0,{i}") for i in range(200)]
    for i in (5, 40, 130):
        rows[i] = ("dup", f";{i},1,{i}")
    db = mod.BatchDb(_ledger_file(tmp_path), 5.0)
    db.begin()
    db.upsert(rows)
    db.commit()
    db.begin()
    got = dict(db.history([c for c, _t in rows]))
    db.rollback()
    db.close()
    assert got["dup"] == ";5,1,5;40,1,40;130,1,130"
    assert len(got) == 198 and got["c199"] == ";1,0,199" and got["c000"] == ";1,0,0"
