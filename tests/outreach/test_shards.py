"""O12s: shards of one audience planned by separate runs; each shard is its own unit of O12."""

import json

import pytest
from outreach_helpers import NOW, RULES, consumer, expected, table

from rulec.errors import InputError, StoreError
from rulec.outreach.planner import Planner

N = 400
LATE = "2023-12-13T12:00:00+08:00"  # more than max_delay (24h) after wk (09:00 on the 12th)


def shard_lines(k: int, n: int = 2, total: int = N) -> list:
    """Shard k of n: consumers i with i % n == k - 1 (disjoint, together the audience)."""
    return [json.dumps(consumer(i)) for i in range(total) if i % n == k - 1]


def keys(sends) -> set:
    return {(s["campaign"], s["consumer"]) for s in sends}


def test_each_shard_gets_its_owed_sends(tmp_path):
    """The defect: the first shard to finish marked every campaign finished and the second
    shard's sends were never made. Now each shard completes its own part (O12s)."""
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        one = p.plan(shard_lines(1), NOW, shard="1/2")
        assert one.report["campaigns"]["wk"]["shards_finished"] == 1
        assert one.report["campaigns"]["wk"]["shards"] == 2 and one.report["shard"] == "1/2"
        again = p.plan(shard_lines(1), NOW, shard="1/2")  # shard 1 is done: nothing again
        assert again.sends == []
        two = p.plan(shard_lines(2), NOW, shard=(2, 2))
        assert two.report["campaigns"]["wk"]["shards_finished"] == 2
        assert keys(one.sends) | keys(two.sends) == expected(N)
        assert not keys(one.sends) & keys(two.sends)
        recorded = [(n, c) for n, c, _ch, _at in p.ledger.sends()]
    assert len(recorded) == len(set(recorded)) and set(recorded) == expected(N)


def test_a_ledger_refuses_another_shard_count(tmp_path):
    """O12s: a ledger that has seen N=2 for a campaign refuses N=3 and 1/1, before anything
    is recorded (S940), with the N to use in the message."""
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        p.plan(shard_lines(1), NOW, shard="1/2")
        before = sorted(p.ledger.sends())
        for shard in ("1/3", None, "2/1"):
            with pytest.raises((StoreError, InputError)) as exc:
                p.plan(shard_lines(2), NOW, shard=shard)
            assert exc.value.code in ("S940", "E880"), exc.value
            if exc.value.code == "S940":
                assert "--shard I/2" in str(exc.value)
        assert sorted(p.ledger.sends()) == before
        assert p.ledger.campaign_states((2, 2))["wk"].status is None  # shard 2 never opened


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1/0", "a/b", "1", "1/2/3", (1,), (True, 2)])
def test_bad_shard_is_input_error(tmp_path, bad):
    with Planner(table(), tmp_path / "l.db") as p:
        with pytest.raises(InputError) as exc:
            p.plan(shard_lines(1), NOW, shard=bad)
    assert exc.value.code == "E880"


def test_missed_is_judged_per_shard(tmp_path):
    """O12s: shard 1 plans in time; shard 2's first run comes more than max_delay late: wk is
    missed for shard 2 only, and shard 1's sends stand."""
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        one = p.plan(shard_lines(1), NOW, shard="1/2")
        two = p.plan(shard_lines(2), LATE, shard="2/2")
    assert two.report["campaigns"]["wk"]["status"] == "missed"
    owed2 = {k for k in expected(N) if int(k[1][1:]) % 2 == 1}
    assert {k for k in owed2 if k[0] == "wk"}  # shard 2 was owed wk sends...
    assert two.report["campaigns"]["nw"]["status"] == "missed"  # 09:30, also > 24h before
    assert keys(two.sends) == {k for k in owed2 if k[0] == "rc"}  # ...missed; rc still due
    assert {c for c, _ in keys(one.sends)} == {"wk", "nw", "rc"}


def test_an_interrupted_shard_is_completed_by_its_own_rerun(tmp_path):
    """O12s, O13: shard 2 stops on a bad line; shard 1 finishing does not finish shard 2; the
    re-run of shard 2 on the corrected file completes it."""
    db = tmp_path / "l.db"
    lines2 = shard_lines(2)
    broken = lines2[:50] + ["{not json"] + lines2[50:]
    with Planner(table(), db, batch_size=10) as p:
        first = []
        with pytest.raises(InputError):
            p.plan(broken, NOW, shard="2/2", on_send=first.append)
        one = p.plan(shard_lines(1), NOW, shard="1/2")
        assert one.report["campaigns"]["wk"]["shards_finished"] == 1
        rest = p.plan(lines2, NOW, shard="2/2")
        assert rest.report["campaigns"]["wk"]["status"] == "resumed"
    got = keys(first) | keys(one.sends) | keys(rest.sends)
    assert got == expected(N)
    assert not keys(first) & keys(rest.sends)


def test_cli_shard_flag(cli, tmp_path):
    shop = tmp_path / "shop.yaml"
    shop.write_text(json.dumps(RULES), encoding="utf-8")
    outs = []
    for k in (1, 2):
        aud = tmp_path / f"a{k}.jsonl"
        aud.write_text("".join(x + "\n" for x in shard_lines(k)), encoding="utf-8")
        args = ["plan", shop, "--audience", aud, "--ledger", tmp_path / "l.db", "--now", NOW]
        r = cli(*args, "--shard", f"{k}/2")
        assert r.code == 0, r
        outs += [json.loads(x) for x in r.out.splitlines()]
        wrong = cli(*args, "--shard", "1/3")
        assert wrong.code == 1 and "S940" in wrong.err and wrong.out == ""
    assert keys(outs) == expected(N)
    bad = cli(
        "plan",
        shop,
        "--audience",
        aud,
        "--ledger",
        tmp_path / "x.db",
        "--now",
        NOW,
        "--shard",
        "5/2",
    )
    assert bad.code == 1 and "E880" in bad.err


def test_schema_2_ledger_is_migrated(tmp_path):
    """A ledger written before shards (format version 2) opens as shard 1 of 1 of each
    campaign; its history is kept."""
    import sqlite3

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
          status TEXT NOT NULL, reason TEXT, send_at INTEGER, opened_at TEXT NOT NULL,
          finished_at TEXT);
        CREATE TABLE consumers (consumer TEXT PRIMARY KEY, sends TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO meta VALUES ('shop', 'hx'), ('schema', '2'), ('created', 'x');
        INSERT INTO campaigns VALUES (1, 'wk', 'started', NULL, 1702342800, 'x', NULL);
        INSERT INTO consumers VALUES ('c13', ';1,0,1702342800');
        """
    )
    con.commit()
    con.close()
    with Planner(table(), db) as p:
        assert p.ledger.campaign_states()["wk"] == (1, "started", None, 0)
        res = p.plan([json.dumps(consumer(i)) for i in range(20)], NOW)
    assert ("wk", "c13") not in keys(res.sends)
    assert res.report["campaigns"]["wk"]["status"] == "resumed"
