"""The SQLite ledger: one file, WAL, one BEGIN IMMEDIATE transaction per batch (O13).

Each consumer has one row holding every send it received (";campaign id,channel,at" per
send, in decision order: the same packing as the Redis ledger): the batch's history is one
indexed lookup per consumer and recording is one upsert per consumer, not one per send. The
key (campaign, consumer) is checked against that row inside the same transaction."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import sqlite3

from rulec.errors import Diagnostic, StoreError
from rulec.outreach.ledger.base import CHANNEL_CODE, CHANNELS, FINISHED, STARTED, Ledger

SCHEMA_VERSION = "2"
IN_CHUNK = 500  # host parameters per `IN (...)` lookup
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL, reason TEXT,
  send_at INTEGER, opened_at TEXT NOT NULL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS consumers (consumer TEXT PRIMARY KEY, sends TEXT NOT NULL)
  WITHOUT ROWID;
"""
_TOKEN_KEY = operator.itemgetter(0, 2, 3)  # a record's (campaign, channel, at)
_PAIR = operator.itemgetter(0, 1)  # (campaign, consumer)
_CONSUMER = operator.itemgetter(1)
UPSERT = (
    "INSERT INTO consumers (consumer, sends) VALUES (?, ?) ON CONFLICT (consumer) "
    "DO UPDATE SET sends = sends || excluded.sends"
)


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
            self.db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-65536")
            self._init()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _fail(
                    "S907", f"ledger {self.path}: {exc} (another planner holds it)"
                ) from None
            raise _fail("S902", f"ledger {self.path} cannot be opened: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise _fail(
                "S902", f"ledger {self.path} is not a rulec ledger or is damaged: {exc}"
            ) from None
        self._ids, self._names = {}, {}
        self._load_ids()

    # -- setup ------------------------------------------------------------------------------
    def _init(self):
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise _fail(
                    "S902",
                    f"ledger {self.path} is a SQLite file of something else "
                    f"(tables {', '.join(sorted(tables)[:5])})",
                )
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if not meta:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("shop", self.shop), ("schema", SCHEMA_VERSION), ("created", _now())],
                )
            elif meta.get("schema") != SCHEMA_VERSION:
                raise _fail(
                    "S903",
                    f"ledger {self.path} has schema {meta.get('schema')!r}; "
                    f"this rulec reads schema {SCHEMA_VERSION}",
                )
            elif meta.get("shop") != self.shop:
                raise _fail(
                    "S904",
                    f"ledger {self.path} belongs to shop {meta.get('shop')!r}, not {self.shop!r}",
                )
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
        return {
            n: (s, r) for n, s, r in self.db.execute("SELECT name, status, reason FROM campaigns")
        }

    @_guard
    def open_campaigns(self, wanted: dict) -> dict:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            now = _now()
            db.executemany(
                "INSERT OR IGNORE INTO campaigns (name, status, reason, send_at, opened_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(n, s, r, at, now) for n, (s, r, at) in wanted.items()],
            )
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
            self.db.executemany(
                "UPDATE campaigns SET status=?, finished_at=? WHERE name=? AND status=?",
                [(FINISHED, _now(), n, STARTED) for n in names],
            )
            self.db.execute("COMMIT")
        except BaseException:
            _rollback(self.db)
            raise

    # -- sends ------------------------------------------------------------------------------
    def _unpack(self, text) -> list:
        """ ";id,channel,at;..." -> [(campaign name, channel, at)]."""
        out, names = [], self._names
        for part in text.split(";")[1:]:
            cid, ch, at = part.split(",")
            cid = int(cid)
            if cid not in names:
                self._load_ids()
            out.append((names[cid], CHANNELS[int(ch)], int(at)))
        return out

    def _history(self, consumers) -> dict:
        hist, db = {}, self.db
        uniq = list(dict.fromkeys(consumers))
        for i in range(0, len(uniq), IN_CHUNK):
            part = uniq[i : i + IN_CHUNK]
            q = (
                "SELECT consumer, sends FROM consumers WHERE consumer IN ("
                + ",".join("?" * len(part))
                + ")"
            )
            for consumer, text in db.execute(q, part):
                hist[consumer] = self._unpack(text)
        return hist

    @_guard
    def decide_and_record(self, consumers, decide, emit=None) -> list:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            history = self._history(consumers)
            records = decide(history)
            if records:
                db.executemany(UPSERT, self._rows(records, history))
            if emit is not None:
                emit()
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return records

    def _rows(self, records, history) -> list:
        """Upsert rows, one per consumer; refuses a (campaign, consumer) already recorded."""
        ids, toks = self._ids, {}
        for k in dict.fromkeys(map(_TOKEN_KEY, records)):  # (campaign, channel, at), in order
            if k[0] not in ids:
                raise _fail("S905", f"campaign {k[0]!r} was never opened in this ledger")
            toks[k] = f";{ids[k[0]]},{CHANNEL_CODE[k[1]]},{int(k[2])}"
        seen = set(map(_PAIR, records))
        clash = len(seen) != len(records) or any(
            (h[0], consumer) in seen for consumer, hs in history.items() for h in hs
        )
        if clash:
            raise _fail(
                "S906", f"ledger {self.path}: a (campaign, consumer) send was decided twice"
            )
        packed = {}
        get = packed.get
        for consumer, tok in zip(
            map(_CONSUMER, records), map(toks.__getitem__, map(_TOKEN_KEY, records))
        ):
            prev = get(consumer)
            packed[consumer] = tok if prev is None else prev + tok
        return list(packed.items())

    @_guard
    def sends(self, campaign=None) -> list:
        out = []
        for consumer, text in self.db.execute("SELECT consumer, sends FROM consumers"):
            out.extend(
                (n, consumer, ch, at)
                for n, ch, at in self._unpack(text)
                if campaign is None or n == campaign
            )
        return out

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass
