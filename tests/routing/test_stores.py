"""State stores: memory and SQLite behind one interface; SQLite survives a restart, refuses
another shop's state and a second process."""

import subprocess
import sys

import pytest
from routing_helpers import at, router, shop, table_from_rules

from rulec.errors import StoreError
from rulec.routing.router import Router
from rulec.routing.stores import ONLINE, SUSPENDED, open_store

RULES = shop({"a1": {}, "a2": {}}, {"G": {"agents": ["a1", "a2"]}}, drain_pool=True)


def test_sqlite_state_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'st.db'}"
    r = router(RULES, {"agents": {"a1": {"status": "online", "conversion": 0.3}}}, store=url)
    d = r.route({"buyer": "u1", "time": at(0)})
    assert d["target"] == "agent:a1"
    r.feed({"type": "agent", "time": at(1), "agent": "a1", "status": "offline"})
    r.route({"buyer": "u2", "time": at(2), "product": "a"})  # nobody: queued (drain_pool)
    before = r.store.export()
    r.close()
    r2 = Router(table_from_rules(RULES), store=url)
    assert r2.store.export() == before
    assert before["agents"]["a1"] == {"status": "offline", "pending": 1, "conversion": 0.3}
    assert r2.store.pool_len() == 1
    # R2a across the restart: u1's contact a1 is remembered
    r2.feed({"type": "agent", "time": at(3), "agent": "a1", "status": "suspended"})
    r2.feed({"type": "agent", "time": at(4), "agent": "a2", "status": "online"})
    assert r2.route({"buyer": "u1", "time": at(5)})["step"] == "sticky"
    r2.close()


def test_sqlite_refuses_another_shops_state(tmp_path):
    url = f"sqlite:///{tmp_path / 'st.db'}"
    open_store(url, "shop-a").close()
    with pytest.raises(StoreError) as exc:
        open_store(url, "shop-b")
    assert exc.value.code == "S902"


def test_sqlite_refuses_a_second_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'st.db'}"
    store = open_store(url, "s")
    code = (
        "import sys\nfrom rulec.routing.stores import open_store\n"
        "from rulec.errors import StoreError\n"
        f"try:\n    open_store({url!r}, 's')\nexcept StoreError as e:\n"
        "    print(e.code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "S904", out.stderr
    store.close()


def test_sqlite_write_failure_is_a_store_error(tmp_path):
    """A write the database refuses (here: full, as on a full disk) is S905, not a traceback;
    the chat is not assigned."""
    r = router(
        RULES, {"agents": {"a1": {"status": "online"}}}, store=f"sqlite:///{tmp_path / 's.db'}"
    )
    db = r.store._db  # cap the file at its current size: the next growing write fails
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreError) as exc:
        for i in range(10_000):
            r.route({"buyer": f"buyer-{i:05d}-" + "x" * 200, "time": at(0)})
    assert exc.value.code == "S905" and "full" in str(exc.value)
    r.close()


def test_redis_support_missing_is_s906():
    """Without the redis/hiredis packages a redis:// store is refused with S906, not an
    ImportError."""
    code = (
        "import sys\nsys.modules['hiredis'] = None\nsys.modules['redis'] = None\n"
        "from rulec.routing.stores import open_store\nfrom rulec.errors import StoreError\n"
        "try:\n    open_store('redis://127.0.0.1:1/0', 's')\nexcept StoreError as e:\n"
        "    print(e.code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "S906", out.stderr


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path):
    p = tmp_path / "x.db"
    p.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError) as exc:
        open_store(f"sqlite:///{p}", "s")
    assert exc.value.code == "S903"


@pytest.mark.parametrize("url", ["mongo://x", "sqlite:", 42])
def test_bad_store_urls(url):
    with pytest.raises(StoreError) as exc:
        open_store(url, "s")
    assert exc.value.code == "S900"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_store_contract(kind, tmp_path):
    """The interface every store keeps: one read, atomic assign, reply floor, attach by id."""
    url = "memory:" if kind == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    st = open_store(url, "s")
    st.attach(["a", "b"])
    contact, status, pending, conv = st.snapshot("u1")
    assert (contact, status, pending, conv) == (None, [0, 0], [0, 0], [None, None])
    st.set_status(1, ONLINE)
    st.assign(1, "u1", 100.0)
    st.reply(0)
    st.set_conversion(0, 0.5)
    contact, status, pending, conv = st.snapshot("u1")
    assert contact == (1, 100.0) and status == [0, ONLINE] and pending == [0, 1]
    assert conv == [0.5, None]
    st.put_agent(0, SUSPENDED, 3, None, clear_conversion=True)
    st.attach(["b", "c", "a"])  # a new table order: state follows the ids
    contact, status, pending, conv = st.snapshot("u1")
    assert contact == (0, 100.0)
    assert status == [ONLINE, 0, SUSPENDED] and pending == [1, 0, 3] and conv == [None] * 3
    st.pool_push("u9", 5.0, '{"buyer": "u9"}')
    st.pool_push("u8", 6.0, '{"buyer": "u8"}')
    assert st.pool_len() == 2 and st.pool_pop()[0] == "u9" and st.pool_pop()[0] == "u8"
    assert st.pool_pop() is None
    st.close()


@pytest.mark.parametrize("opts", ["?batch=16", "?sync=off", "?sync=full&batch=3"])
def test_sqlite_options_keep_state_across_close(tmp_path, opts):
    url = f"sqlite:///{tmp_path / 'st.db'}{opts}"
    r = router(RULES, {"agents": {"a1": {"status": "online"}}}, store=url)
    for i in range(10):
        r.route({"buyer": f"u{i}", "time": at(i)})
    r.close()
    again = open_store(url, "s")
    again.attach(["a1", "a2"])
    assert again.snapshot("u9")[0] == (0, pytest.approx(r.store.snapshot("u9")[0][1]))
    assert again.snapshot("u9")[2] == [10, 0]
    again.close()


@pytest.mark.parametrize("opts", ["?sync=fast", "?batch=0", "?batch=x", "?wal=1"])
def test_sqlite_bad_options(tmp_path, opts):
    with pytest.raises(StoreError) as exc:
        open_store(f"sqlite:///{tmp_path / 'st.db'}{opts}", "s")
    assert exc.value.code == "S900"
