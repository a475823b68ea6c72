"""The SQLite ledger: one file, WAL, one BEGIN IMMEDIATE transaction per batch (O13)."""
from __future__ import annotations

import datetime as dt
import functools
import os
import sqlite3

from rulec.errors import Diagnostic, StoreError
from rulec.runtime.ledger.base import CHANNEL_CODE, CHANNELS, FINISHED, STARTED, Ledger

SCHEMA_VERSION = "1"
IN_CHUNK = 500  # host parameters per `IN (...)` lookup
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL, reason TEXT,
  send_at INTEGER, opened_at TEXT NOT NULL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS sends (
  consumer TEXT NOT NULL, campaign INTEGER NOT NULL REFERENCES campaigns(id),
  channel INTEGER NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (consumer, campaign)) WITHOUT ROWID;
"""


def _fail(code, message):
    return StoreError([Diagnostic(code, message)])


def _guard(method):
    """Turn SQLite failures during a run (locked past the timeout, disk full…) into S907."""
    @functools.wraps(method)
    def run(self, *args, **kw):
        try:
            return method(self, *args, **kw)
        except sqlite3.Error as exc:
            raise _fail("S907", f"ledger {self.path}: {exc}") from None
    return run


def _rollback(db):
    if db.in_transaction:
        db.execute("ROLLBACK")


def _now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SqliteLedger(Ledger):
    """Ledger in one SQLite file (`:memory:` for tests). Refuses another shop's file (S904)."""

    def __init__(self, path: str, shop: str, timeout: float = 120.0):
        self.path, self.shop = str(path), shop
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise _fail("S901", f"ledger {self.path}: directory {parent} does not exist")
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-65536")
            self._init()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _fail("S907", f"ledger {self.path}: {exc} (another planner holds it)") \
                    from None
            raise _fail("S902", f"ledger {self.path} cannot be opened: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise _fail("S902", f"ledger {self.path} is not a rulec ledger or is damaged: {exc}") \
                from None
        self._ids, self._names = {}, {}
        self._load_ids()

    # -- setup ------------------------------------------------------------------------------
    def _init(self):
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise _fail("S902", f"ledger {self.path} is a SQLite file of something else "
                                    f"(tables {', '.join(sorted(tables)[:5])})")
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if not meta:
                db.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("shop", self.shop), ("schema", SCHEMA_VERSION),
                                ("created", _now())])
            elif meta.get("schema") != SCHEMA_VERSION:
                raise _fail("S903", f"ledger {self.path} has schema {meta.get('schema')!r}; "
                                    f"this rulec reads schema {SCHEMA_VERSION}")
            elif meta.get("shop") != self.shop:
                raise _fail("S904", f"ledger {self.path} belongs to shop {meta.get('shop')!r}, "
                                    f"not {self.shop!r}")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _load_ids(self):
        for cid, name in self.db.execute("SELECT id, name FROM campaigns"):
            self._ids[name], self._names[cid] = cid, name

    # -- campaigns --------------------------------------------------------------------------
    @_guard
    def campaign_states(self) -> dict:
        return {n: (s, r) for n, s, r in self.db.execute("SELECT name, status, reason FROM campaigns")}

    @_guard
    def open_campaigns(self, wanted: dict) -> dict:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            now = _now()
            db.executemany("INSERT OR IGNORE INTO campaigns (name, status, reason, send_at, opened_at)"
                           " VALUES (?, ?, ?, ?, ?)",
                           [(n, s, r, at, now) for n, (s, r, at) in wanted.items()])
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._load_ids()
        states = self.campaign_states()
        return {n: states[n] for n in wanted}

    @_guard
    def finish_campaigns(self, names) -> None:
        names = list(names)
        if not names:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("UPDATE campaigns SET status=?, finished_at=? WHERE name=? AND status=?",
                                [(FINISHED, _now(), n, STARTED) for n in names])
            self.db.execute("COMMIT")
        except BaseException:
            _rollback(self.db)
            raise

    # -- sends ------------------------------------------------------------------------------
    def _history(self, consumers) -> dict:
        hist = {}
        names, db = self._names, self.db
        uniq = list(dict.fromkeys(consumers))
        for i in range(0, len(uniq), IN_CHUNK):
            part = uniq[i:i + IN_CHUNK]
            q = ("SELECT consumer, campaign, channel, at FROM sends WHERE consumer IN (" +
                 ",".join("?" * len(part)) + ")")
            for consumer, cid, ch, at in db.execute(q, part):
                name = names.get(cid)
                if name is None:
                    self._load_ids()
                    name = self._names[cid]
                hist.setdefault(consumer, []).append((name, CHANNELS[ch], at))
        return hist

    @_guard
    def decide_and_record(self, consumers, decide, emit=None) -> list:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            records = decide(self._history(consumers))
            if records:
                ids = self._ids
                for r in records:
                    if r[0] not in ids:
                        raise _fail("S905", f"campaign {r[0]!r} was never opened in this ledger")
                db.executemany("INSERT INTO sends (consumer, campaign, channel, at) VALUES (?,?,?,?)",
                               [(c, ids[n], CHANNEL_CODE[ch], at) for n, c, ch, at in records])
            if emit is not None:
                emit()
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(db)
            raise _fail("S906", f"ledger {self.path}: a send was recorded twice ({exc})") from None
        except BaseException:
            _rollback(db)
            raise
        return records

    @_guard
    def sends(self, campaign=None) -> list:
        q = ("SELECT c.name, s.consumer, s.channel, s.at FROM sends s "
             "JOIN campaigns c ON c.id = s.campaign")
        rows = self.db.execute(q + " WHERE c.name = ?", (campaign,)) if campaign else self.db.execute(q)
        return [(n, c, CHANNELS[ch], at) for n, c, ch, at in rows]

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass
