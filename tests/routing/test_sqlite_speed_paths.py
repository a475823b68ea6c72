"""The SQLite store's fast paths keep its meaning: an assignment is one autocommitted
statement (through a temporary view: the file's schema is unchanged) that survives a crash
of the process; contacts read at open answer new buyers without a query, and a store with
too many contacts to read, or a full cache, asks the file instead, with the same decisions."""

import sqlite3
import subprocess
import sys

import pytest
from routing_helpers import at, router, shop

from rulec.routing.stores import open_store
from rulec.routing.stores import sqlite_store as S

RULES = shop({"a1": {}, "a2": {}, "a3": {"level": 3}}, {"G": {"agents": ["a1", "a2", "a3"]}})
ONLINE = {"agents": {a: {"status": "online"} for a in ("a1", "a2", "a3")}}


def chats(n, buyers, start=0):
    return [{"buyer": f"u{(i * 7) % buyers}", "time": at(start + i)} for i in range(n)]


def test_new_buyers_cost_one_statement_each(tmp_path):
    r = router(RULES, ONLINE, store=f"sqlite:///{tmp_path / 'st.db'}")
    seen = []
    r.store._db.set_trace_callback(seen.append)
    for c in chats(5, 1000):
        r.route(c)
    # no SELECT for a new buyer, no BEGIN / COMMIT around the write: one statement each (the
    # trace shows it again for each statement of its trigger)
    assert all(s.startswith("INSERT INTO assign VALUES") for s in seen), seen
    assert len(set(seen)) == 5
    r.close()


def test_a_committed_decision_survives_a_crash(tmp_path):
    """Each write is committed when route() returns: kill the process without closing."""
    db = tmp_path / "st.db"
    code = (
        "import json, os, sys\n"
        "sys.path.insert(0, 'tests/routing')\n"
        "from routing_helpers import at, router, shop\n"
        f"r = router({RULES!r}, {ONLINE!r}, store='sqlite:///{db}')\n"
        "out = [r.route({'buyer': f'u{i}', 'time': at(i)}) for i in range(20)]\n"
        "print(json.dumps([d['target'] for d in out]), flush=True)\n"
        "os._exit(9)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 9, run.stderr
    store = open_store(f"sqlite:///{db}", "s")
    store.attach(["a1", "a2", "a3"])
    targets = __import__("json").loads(run.stdout)
    got = {b: f"agent:{a}" for b, a, _ in store.contacts()}
    assert got == {f"u{i}": t for i, t in enumerate(targets)}
    assert sum(store.snapshot("x")[2]) == 20
    store.close()


def test_the_file_schema_is_unchanged(tmp_path):
    db = tmp_path / "st.db"
    r = router(RULES, ONLINE, store=f"sqlite:///{db}")
    r.route({"buyer": "u1", "time": at(0)})
    r.close()
    raw = sqlite3.connect(db)
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert names == {"meta", "agents", "contacts", "pool", "sqlite_sequence"} | {
        n for n in names if n.startswith("sqlite_autoindex")
    }
    open_store(f"sqlite:///{db}", "s").close()  # and it still verifies (S920 otherwise)


def run_with_restart(url):
    """Route, close, reopen (contacts read again at open, or not), route returning buyers."""
    r = router(RULES, ONLINE, store=url)
    first = [r.route(c) for c in chats(60, 25)]
    r.close()
    r = router(RULES, None, store=url)
    second = [r.route(c) for c in chats(60, 40, start=100)]
    export = r.store.export()
    r.close()
    return first, second, export


@pytest.mark.parametrize("preload, cache", [(0, S.MAX_CONTACT_CACHE), (S.PRELOAD_CONTACTS, 4)])
def test_queries_and_preload_decide_alike(tmp_path, monkeypatch, preload, cache):
    want = run_with_restart(f"sqlite:///{tmp_path / 'a.db'}")
    assert {d["step"] for d in want[1]} >= {"sticky", "group"}
    monkeypatch.setattr(S, "PRELOAD_CONTACTS", preload)
    monkeypatch.setattr(S, "MAX_CONTACT_CACHE", cache)
    assert run_with_restart(f"sqlite:///{tmp_path / 'b.db'}") == want
    mem = router(RULES, ONLINE)
    assert [mem.route(c) for c in chats(60, 25)] == want[0]
