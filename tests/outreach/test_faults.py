"""Fault injection on SQLite ledgers (O12s, O13, O14): SIGKILL loops of planners, sharded and
not, two per shard; random damage to ledger rows. `make soak` runs the long variants."""

import random
import sqlite3

import pytest
from fault_helpers import KillLoop, check_counts
from outreach_helpers import NOW, consumer, table

from rulec.errors import StoreError
from rulec.outreach.ledger.sqlite_ledger import SqliteLedger
from rulec.outreach.planner import Planner


def _reader(path):
    def read():
        with SqliteLedger(path, "hx") as led:
            return [(n, c) for n, c, _ch, _at in led.sends()]

    return read


@pytest.mark.parametrize("shards", [1, 2])
def test_sigkill_loop_sqlite(tmp_path, shards):
    ledger = tmp_path / "l.db"
    loop = KillLoop(tmp_path, 3000, ledger, _reader(ledger), shards=shards, batch=100, kills=3)
    check_counts(loop.run(), 100)


@pytest.mark.soak
@pytest.mark.parametrize("shards,seed", [(1, 11), (3, 12), (4, 13)])
def test_sigkill_loop_sqlite_soak(tmp_path, shards, seed):
    ledger = tmp_path / "l.db"
    loop = KillLoop(
        tmp_path, 40_000, ledger, _reader(ledger), shards=shards, batch=500, kills=12, seed=seed
    )
    check_counts(loop.run(), 500)


LINES = [consumer(i) for i in range(200)]


def _mutate(text: str, rnd: random.Random) -> str:
    """Damage that leaves a row unreadable: cut it, splice in bytes that are not the packing,
    or drop a separator."""
    how = rnd.randrange(4)
    k = rnd.randrange(len(text) + 1)
    if how == 0:
        return text[:k]
    if how == 1:
        return text[:k] + rnd.choice(["x", "\x00", "é", ";;", ",", "-", " ", "\ud800"]) + text[k:]
    if how == 2:
        return text.replace(",", "", 1)
    return "".join(rnd.choice("0123456789;,") for _ in range(rnd.randrange(1, 12)))


@pytest.mark.parametrize("seed", range(12))
def test_random_row_damage_never_sends_twice(tmp_path, seed):
    """A damaged history row either still reads as exactly its sends (then nothing is sent
    twice) or stops the run with S941 naming the consumer; never a traceback, never "no
    history"."""
    rnd = random.Random(seed)
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        first = {(s["campaign"], s["consumer"]) for s in p.plan(LINES, NOW).sends}
    con = sqlite3.connect(db)
    rows = con.execute("SELECT consumer, sends FROM consumers").fetchall()
    for consumer_, text in rnd.sample(rows, 3):
        bad = _mutate(text, rnd)
        try:
            con.execute("UPDATE consumers SET sends = ? WHERE consumer = ?", (bad, consumer_))
        except (sqlite3.Error, UnicodeEncodeError):
            continue
    con.execute("UPDATE shards SET status = 'started'")  # the re-run decides everyone again
    con.commit()
    con.close()
    try:
        with Planner(table(), db) as p:
            again = {(s["campaign"], s["consumer"]) for s in p.plan(LINES, NOW).sends}
    except StoreError as exc:
        assert exc.code == "S941" and "consumer" in str(exc)
    else:
        assert not again & first


def test_random_file_damage_is_a_coded_error(tmp_path):
    """Random bytes of the ledger file overwritten: the re-run is a coded error (S903, S907,
    S941) or, when the damage missed the pages read, a run that sends nothing twice."""
    rnd, outcomes = random.Random(5), []
    for k in range(8):
        db = tmp_path / f"l{k}.db"
        with Planner(table(), db) as p:
            first = {(s["campaign"], s["consumer"]) for s in p.plan(LINES, NOW).sends}
        con = sqlite3.connect(db)
        con.execute("UPDATE shards SET status = 'started'")  # the re-run decides everyone
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        data = bytearray(db.read_bytes())
        for _ in range(rnd.randrange(1, 20)):
            j = rnd.randrange(100, len(data))
            data[j] = rnd.randrange(256)
        db.write_bytes(bytes(data))
        try:
            with Planner(table(), db) as p:
                again = {(s["campaign"], s["consumer"]) for s in p.plan(LINES, NOW).sends}
        except StoreError as exc:
            assert exc.code in ("S903", "S907", "S941"), exc
            outcomes.append(exc.code)
        else:
            assert not again & first
            outcomes.append("ran")
    assert outcomes.count("ran") < len(outcomes)  # the damage was met at least once
