"""O14: a damaged SQLite ledger stops the run with a diagnostic naming the damage; a row that
cannot be read is never taken for "no history" (which would send the consumer again)."""

import json
import sqlite3

import pytest
from outreach_helpers import NOW, consumer, expected, table

from rulec.errors import StoreError
from rulec.outreach.ledger.sqlite_ledger import SqliteLedger
from rulec.outreach.planner import Planner

LINES = [json.dumps(consumer(i)) for i in range(60)]


@pytest.fixture
def ledger(tmp_path):
    """A ledger after one full run over LINES (c13 has sends: wk, nw, rc? see expected)."""
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        p.plan(LINES, NOW)
    return db


def _sql(db, *stmts):
    con = sqlite3.connect(db)
    for s in stmts:
        con.execute(s)
    con.commit()
    con.close()


def _rerun(db, lines=LINES):
    with Planner(table(), db) as p:
        return p.plan(lines, NOW)


def _sent(db):
    with SqliteLedger(db, "hx") as led:
        return sorted(led.sends())


ROW = "SELECT sends FROM consumers WHERE consumer='c15'"


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "",
        ";",
        ";99,0,1702342800",  # a campaign id the ledger never opened
        ";1,7,1702342800",  # channel out of range
        ";1,0,17023x2800",
        ";1,0",
        ";1,0,1,2",
        ";1,0,99999999999999999999",
        ";-1,0,1702342800",
    ],
)
def test_unreadable_history_row_stops_the_run(ledger, value):
    """The defect: a garbage row read as "no history" and c15 was sent again; unknown ids or
    bad fields gave KeyError/IndexError/ValueError tracebacks."""
    before = _rows(ledger, skip="c15")
    _sql(ledger, "UPDATE consumers SET sends = %s WHERE consumer = 'c15'" % _quote(value))
    # a fresh campaign state makes the re-run decide everyone again (as a resumed run would)
    _sql(ledger, "UPDATE shards SET status = 'started'")
    with pytest.raises(StoreError) as exc:
        _rerun(ledger)
    assert exc.value.code == "S941" and "'c15'" in str(exc.value)
    assert _rows(ledger, skip="c15") == before  # nothing new recorded for anyone


def _quote(v):
    return "'" + v.replace("'", "''") + "'"


def _rows(db, skip=None):
    """The raw consumer rows (the damaged one left out)."""
    con = sqlite3.connect(db)
    out = sorted(r for r in con.execute("SELECT consumer, sends FROM consumers") if r[0] != skip)
    con.close()
    return out


@pytest.mark.parametrize(
    "stmt,code,words",
    [
        ("DROP TABLE consumers", "S941", "`consumers` is missing"),
        ("DROP TABLE shards", "S941", "`shards` is missing"),
        ("DROP TABLE campaigns", "S941", "`campaigns` is missing"),
        ("DROP TABLE meta", "S903", "not a rulec ledger"),
        ("ALTER TABLE consumers ADD COLUMN x TEXT", "S941", "columns"),
        ("UPDATE meta SET value = '99' WHERE key = 'schema'", "S903", "'99'"),
        ("UPDATE meta SET value = 'other' WHERE key = 'shop'", "S902", "'other'"),
        ("UPDATE shards SET status = 'weird'", "S941", "state of campaign"),
        ("UPDATE campaigns SET shards = 'x'", "S941", "state of campaign"),
    ],
)
def test_damaged_schema_or_campaign_rows_are_refused(ledger, stmt, code, words):
    """The defect: a dropped table was re-created empty and the re-run re-sent everything
    (exit 0). Now the ledger's schema and version are verified on open."""
    before = _sent(ledger)
    try:
        _sql(ledger, stmt)
    except sqlite3.IntegrityError:
        pytest.skip("the constraint already refuses it")
    with pytest.raises(StoreError) as exc:
        _rerun(ledger)
    assert exc.value.code == code and words in str(exc.value), exc.value
    if "DROP" not in stmt and "ALTER" not in stmt and "meta" not in stmt:
        _sql(ledger, "UPDATE shards SET status = 'finished'")
    con = sqlite3.connect(ledger)
    if "consumers" in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}:
        assert con.execute("SELECT count(*) FROM consumers").fetchone()[0] == len(
            {c for _n, c, _ch, _at in before}
        )
    con.close()


def test_damaged_file_is_a_coded_error(ledger, cli, tmp_path):
    """Bytes overwritten in the middle of the file: S941/S903/S907, never a traceback."""
    data = bytearray(ledger.read_bytes())
    for k in range(4096, len(data), 1024):
        data[k : k + 16] = b"\xff" * 16
    ledger.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        p = ledger.parent / (ledger.name + suffix)
        if p.exists():
            p.unlink()
    try:
        _rerun(ledger)
    except StoreError as exc:
        assert exc.code in ("S941", "S903", "S907")
    else:
        assert _sent(ledger)  # an undamaged page set: the run went through


def test_ledger_path_is_a_directory(tmp_path):
    (tmp_path / "d.db").mkdir()
    with pytest.raises(StoreError) as exc:
        Planner(table(), tmp_path / "d.db")
    assert exc.value.code == "S941"


def _open_at_gate(db, gate, q):
    gate.wait()
    try:
        SqliteLedger(db, "hx").close()
        q.put(None)
    except StoreError as exc:
        q.put(str(exc))


def test_two_planners_create_one_fresh_ledger_at_once(tmp_path):
    """The defect: 20 of 60 pairs of processes failed with S907 "database is locked" while
    one switched the new file to WAL (the busy timeout does not cover it). Creation now
    waits for the other opener."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    failures = []
    for k in range(40):
        gate, q = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_gate, args=(str(tmp_path / f"f{k}.db"), gate, q))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        failures += [x for x in (q.get(timeout=60), q.get(timeout=60)) if x]
        for p in procs:
            p.join()
    assert failures == []


def test_rerun_after_damage_repaired_completes(ledger):
    """Control: with the row intact the re-run over a resumed campaign sends nothing twice."""
    _sql(ledger, "UPDATE shards SET status = 'started'")
    res = _rerun(ledger)
    assert res.sends == [] and {(n, c) for n, c, _ch, _at in _sent(ledger)} == expected(60)
