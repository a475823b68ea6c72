"""`sqlite:///path/file.db` store: durable state (survives a restart), one process per file.

By default every write is one committed transaction (WAL, synchronous=NORMAL: a committed
decision survives a process crash). URL options trade durability for speed:
`?sync=normal|off|full` (PRAGMA synchronous) and `?batch=N` (commit every N writes and on
close: a crash loses at most the last N-1 writes; a clean restart loses nothing). The database is opened with an exclusive lock that is held
while the store is open, so a second process is refused (StoreError S904) instead of
silently diverging; that lock is also what lets this store serve reads from an in-process
mirror of the agents and a cache of contacts, without a query per decision.
"""

from __future__ import annotations

import os
import sqlite3

from rulec.errors import Diagnostic, StoreError
from rulec.routing.stores.base import OFFLINE, Store

SCHEMA_VERSION = "1"
MAX_CONTACT_CACHE = 1_000_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, status INTEGER NOT NULL,
    pending INTEGER NOT NULL, conversion REAL);
CREATE TABLE IF NOT EXISTS contacts (buyer TEXT PRIMARY KEY, agent TEXT NOT NULL,
    time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pool (seq INTEGER PRIMARY KEY AUTOINCREMENT, buyer TEXT NOT NULL,
    time REAL NOT NULL, chat TEXT NOT NULL);
"""


def _error(code, message):
    return StoreError([Diagnostic(code, message)])


class SqliteStore(Store):
    """Agent state mirrored in lists (written through), contacts cached per buyer."""

    def __init__(self, shop: str, path: str, sync: str = "normal", batch: int = 1):
        super().__init__(shop)
        self.path = path
        self.url = f"sqlite:///{path}" if path.startswith("/") else f"sqlite:{path}"
        if sync not in ("normal", "off", "full"):
            raise _error("S900", f"store option sync={sync!r}: use normal, off or full")
        if not 1 <= batch <= 100_000:
            raise _error("S900", f"store option batch={batch}: use 1..100000")
        self.sync, self.batch, self._uncommitted = sync, batch, 0
        self._broken = None
        self._db = None
        self._contacts: dict = {}
        try:
            self._open()
        except sqlite3.Error as exc:
            self.close()
            msg = str(exc)
            if "locked" in msg:
                raise _error("S904", f"state store {path} is in use by another process") from None
            raise _error(
                "S903", f"state store {path} is not a usable SQLite database: {msg}"
            ) from None

    def _open(self):
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise _error("S901", f"state store {self.path}: directory {parent} does not exist")
        db = self._db = sqlite3.connect(
            self.path, timeout=0.5, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.sync.upper()}")
        db.executescript(_SCHEMA)  # the first write takes the lock; exclusive mode keeps it
        db.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if not meta:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("shop", self.shop), ("schema", SCHEMA_VERSION)],
                )
            elif meta.get("shop") != self.shop:
                raise _error(
                    "S902",
                    f"state store {self.path} holds the state of shop "
                    f"{meta.get('shop')!r}, not {self.shop!r}",
                )
            elif meta.get("schema") != SCHEMA_VERSION:
                raise _error(
                    "S903",
                    f"state store {self.path} has schema version "
                    f"{meta.get('schema')!r} (this runtime: {SCHEMA_VERSION})",
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- writes -------------------------------------------------------------------------
    def _write(self, statements):
        """Apply `statements` atomically: as a transaction of their own (batch = 1), or inside
        the open batch transaction (batch > 1). A failed write inside a batch rolls the whole
        batch back; the mirror no longer matches the file, so the store refuses further use."""
        if self._broken:
            raise _error("S905", self._broken)
        db = self._db
        try:
            if not db.in_transaction:
                db.execute("BEGIN")
            for sql, params in statements:
                db.execute(sql, params)
            self._uncommitted += 1
            if self._uncommitted >= self.batch:
                db.execute("COMMIT")
                self._uncommitted = 0
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            msg = f"state store {self.path}: write failed: {exc}"
            if self._uncommitted:
                self._broken = msg + " (the uncommitted batch was lost; reopen the store)"
            self._uncommitted = 0
            raise _error("S905", msg) from None

    def flush(self):
        """Commit the writes of an open batch."""
        if self._db is not None and self._db.in_transaction:
            self._db.execute("COMMIT")
        self._uncommitted = 0

    def _attached(self):
        ids = self.agent_ids
        self._write(
            [("INSERT OR IGNORE INTO agents VALUES (?, ?, 0, NULL)", (a, OFFLINE)) for a in ids]
        )
        rows = {
            r[0]: r[1:]
            for r in self._db.execute("SELECT id, status, pending, conversion FROM agents")
        }
        self.status = [rows[a][0] for a in ids]
        self.pending = [rows[a][1] for a in ids]
        self.conversion = [rows[a][2] for a in ids]
        self._contacts.clear()

    def snapshot(self, buyer):
        c = self._contacts.get(buyer, False)
        if c is False:
            row = self._db.execute(
                "SELECT agent, time FROM contacts WHERE buyer = ?", (buyer,)
            ).fetchone()
            i = self.agent_index.get(row[0]) if row else None
            c = None if i is None else (i, row[1])
            if len(self._contacts) >= MAX_CONTACT_CACHE:
                self._contacts.clear()
            self._contacts[buyer] = c
        return c, self.status, self.pending, self.conversion

    def assign(self, agent, buyer, time):
        aid = self.agent_ids[agent]
        self._write(
            [
                ("UPDATE agents SET pending = pending + 1 WHERE id = ?", (aid,)),
                ("INSERT OR REPLACE INTO contacts VALUES (?, ?, ?)", (buyer, aid, time)),
            ]
        )
        self.pending[agent] += 1
        self._contacts[buyer] = (agent, time)

    def set_status(self, agent, status):
        self._write(
            [("UPDATE agents SET status = ? WHERE id = ?", (status, self.agent_ids[agent]))]
        )
        self.status[agent] = status

    def set_conversion(self, agent, rate):
        self._write(
            [("UPDATE agents SET conversion = ? WHERE id = ?", (rate, self.agent_ids[agent]))]
        )
        self.conversion[agent] = rate

    def reply(self, agent):
        self._write(
            [
                (
                    "UPDATE agents SET pending = MAX(pending - 1, 0) WHERE id = ?",
                    (self.agent_ids[agent],),
                )
            ]
        )
        self.pending[agent] = max(self.pending[agent] - 1, 0)

    def put_agent(self, agent, status=None, pending=None, conversion=None, clear_conversion=False):
        aid = self.agent_ids[agent]
        new = [
            self.status[agent] if status is None else status,
            self.pending[agent] if pending is None else pending,
            conversion if conversion is not None or clear_conversion else self.conversion[agent],
        ]
        self._write(
            [
                (
                    "UPDATE agents SET status = ?, pending = ?, conversion = ? WHERE id = ?",
                    (*new, aid),
                )
            ]
        )
        self.status[agent], self.pending[agent], self.conversion[agent] = new

    def put_contact(self, buyer, agent, time):
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO contacts VALUES (?, ?, ?)",
                    (buyer, self.agent_ids[agent], time),
                )
            ]
        )
        self._contacts[buyer] = (agent, time)

    def pool_push(self, buyer, time, chat_json):
        self._write(
            [("INSERT INTO pool (buyer, time, chat) VALUES (?, ?, ?)", (buyer, time, chat_json))]
        )

    def pool_pop(self):
        row = self._db.execute(
            "SELECT seq, buyer, time, chat FROM pool ORDER BY seq LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        self._write([("DELETE FROM pool WHERE seq = ?", (row[0],))])
        return row[1], row[2], row[3]

    def pool_len(self):
        return self._db.execute("SELECT COUNT(*) FROM pool").fetchone()[0]

    def contacts(self):
        index = self.agent_index
        return [
            r
            for r in self._db.execute("SELECT buyer, agent, time FROM contacts ORDER BY buyer")
            if r[1] in index
        ]

    def close(self):
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
            self._db = None
