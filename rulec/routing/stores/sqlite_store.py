"""`sqlite:///path/file.db` store: durable state (survives a restart), one process per file.

By default every write is one committed transaction (WAL, synchronous=NORMAL: a committed
decision survives a process crash). URL options trade durability for speed:
`?sync=normal|off|full` (PRAGMA synchronous) and `?batch=N` (commit every N writes and on
close: a crash loses at most the last N-1 writes; a clean restart loses nothing). The
database is opened with an exclusive lock that is held while the store is open, so a second
process is refused (StoreError S904) instead of silently diverging; that lock is also what
lets this store serve reads from an in-process mirror of the agents and a cache of contacts,
without a query per decision. When the file holds few enough contacts (PRELOAD_CONTACTS)
they are all read at open, and a buyer the cache does not know has none: a new buyer costs
no query either. An assignment is one statement (an INSERT into a temporary view whose
trigger updates the agent's pending and the buyer's contact), so with batch=1 it is one
autocommitted transaction of one call.

A damaged file is refused, never half-read: on open, `PRAGMA quick_check` and the schema
(tables, columns, format version in `meta`) are verified (S920), every row read is checked
for its types and ranges (S921), and every SQLite failure of a read is a StoreError (S923;
writes: S905) rather than an sqlite3 exception.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Sequence
from typing import Any

from rulec.errors import StoreError
from rulec.routing.stores.base import OFFLINE, Contact, PooledChat, Snapshot, Store

Statement = tuple[str, Sequence[Any]]  # SQL and its parameters
_UNCACHED: Contact = (-1, 0.0)  # compared by identity: "the cache does not know the buyer"

SCHEMA_VERSION = "1"
MAX_CONTACT_CACHE = 1_000_000
PRELOAD_CONTACTS = 200_000  # read every contact at open when the file holds no more
# One assignment, one statement (atomic: a statement and its trigger are one transaction).
# TEMP objects live in this connection only: the file's schema is unchanged.
_ASSIGN_VIEW = """
CREATE TEMP VIEW IF NOT EXISTS assign (buyer, agent, time) AS SELECT NULL, NULL, NULL;
CREATE TEMP TRIGGER IF NOT EXISTS assign_one INSTEAD OF INSERT ON assign BEGIN
    UPDATE agents SET pending = pending + 1 WHERE id = NEW.agent;
    INSERT OR REPLACE INTO contacts VALUES (NEW.buyer, NEW.agent, NEW.time);
END;
"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, status INTEGER NOT NULL,
    pending INTEGER NOT NULL, conversion REAL);
CREATE TABLE IF NOT EXISTS contacts (buyer TEXT PRIMARY KEY, agent TEXT NOT NULL,
    time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pool (seq INTEGER PRIMARY KEY AUTOINCREMENT, buyer TEXT NOT NULL,
    time REAL NOT NULL, chat TEXT NOT NULL);
"""


_COLUMNS = {
    "meta": ["key", "value"],
    "agents": ["id", "status", "pending", "conversion"],
    "contacts": ["buyer", "agent", "time"],
    "pool": ["seq", "buyer", "time", "chat"],
}
MAX_PENDING = 1 << 31


def _number(v: Any) -> bool:
    return v.__class__ in (int, float) and math.isfinite(v)


class SqliteStore(Store):
    """Agent state mirrored in lists (written through), contacts cached per buyer."""

    def __init__(self, shop: str, path: str, sync: str = "normal", batch: int = 1) -> None:
        super().__init__(shop)
        self.path = path
        self.url = f"sqlite:///{path}" if path.startswith("/") else f"sqlite:{path}"
        if sync not in ("normal", "off", "full"):
            raise StoreError.of("S900", f"store option sync={sync!r}: use normal, off or full")
        if not 1 <= batch <= 100_000:
            raise StoreError.of("S900", f"store option batch={batch}: use 1..100000")
        self.sync, self.batch, self._uncommitted = sync, batch, 0
        self._broken: str | None = None
        self._db: sqlite3.Connection | None = None
        self._contacts: dict[str, Contact | None] = {}  # None: the buyer has no contact
        self._complete = False  # every contact of the file is in _contacts
        try:
            self._open()
        except StoreError:
            self._abandon()
            raise
        except sqlite3.Error as exc:
            self._abandon()
            msg = str(exc)
            if "locked" in msg:
                raise StoreError.of(
                    "S904", f"state store {path} is in use by another process"
                ) from None
            raise StoreError.of(
                "S903", f"state store {path} is not a usable SQLite database: {msg}"
            ) from None

    def _open(self) -> None:
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise StoreError.of(
                "S901", f"state store {self.path}: directory {parent} does not exist"
            )
        db = self._db = sqlite3.connect(
            self.path, timeout=0.5, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.sync.upper()}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables & set(_COLUMNS):  # a store already: verify it as it is, never re-create
            self._verify(db)
        db.executescript(_SCHEMA)  # the first write takes the lock; exclusive mode keeps it
        db.executescript(_ASSIGN_VIEW)
        db.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if not meta:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("shop", self.shop), ("schema", SCHEMA_VERSION)],
                )
            elif meta.get("shop") != self.shop:
                raise StoreError.of(
                    "S902",
                    f"state store {self.path} holds the state of shop "
                    f"{meta.get('shop')!r}, not {self.shop!r}",
                )
            elif meta.get("schema") != SCHEMA_VERSION:
                raise StoreError.of(
                    "S903",
                    f"state store {self.path} has schema version "
                    f"{meta.get('schema')!r} (this runtime: {SCHEMA_VERSION})",
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _verify(self, db: sqlite3.Connection) -> None:
        """S920 unless the file passes SQLite's own check and holds this store's tables (a
        dropped table is damage to report, not a table to create again empty)."""
        problems = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise StoreError.of(
                "S920", f"state store {self.path} is damaged: {'; '.join(map(str, problems))}"
            )
        for table, columns in _COLUMNS.items():
            got = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            if got != columns:
                raise StoreError.of(
                    "S920",
                    f"state store {self.path}: table {table} has columns {got}, not {columns}",
                )

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a read; S923 when SQLite fails (a damaged page found mid-run)."""
        db = self._db
        assert db is not None, "a closed store"
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError.of("S923", f"state store {self.path}: read failed: {exc}") from None

    def _damaged(self, what: str, row: object) -> StoreError:
        return StoreError.of("S921", f"state store {self.path}: {what} is damaged: {row!r:.200}")

    # -- writes -------------------------------------------------------------------------
    def _write(self, statements: list[Statement]) -> None:
        """Apply `statements` atomically: as a transaction of their own (batch = 1), or inside
        the open batch transaction (batch > 1). A failed write inside a batch rolls the whole
        batch back; the mirror no longer matches the file, so the store refuses further use."""
        if self._broken:
            raise StoreError.of("S905", self._broken)
        db = self._db
        assert db is not None, "a closed store"
        try:
            if self.batch == 1 and len(statements) == 1:  # autocommit: its own transaction
                db.execute(*statements[0])
                return
            if not db.in_transaction:
                db.execute("BEGIN")
            for sql, params in statements:
                db.execute(sql, params)
            self._uncommitted += 1
            if self._uncommitted >= self.batch:
                db.execute("COMMIT")
                self._uncommitted = 0
        except (sqlite3.Error, OverflowError, UnicodeEncodeError) as exc:
            try:
                if db.in_transaction:
                    db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the write's own error is the one to report
            msg = f"state store {self.path}: write failed: {exc}"
            if self._uncommitted:
                self._broken = msg + " (the uncommitted batch was lost; reopen the store)"
            self._uncommitted = 0
            raise StoreError.of("S905", msg) from None

    def flush(self) -> None:
        """Commit the writes of an open batch."""
        try:
            if self._db is not None and self._db.in_transaction:
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError.of("S905", f"state store {self.path}: commit failed: {exc}") from None
        self._uncommitted = 0

    def _attached(self) -> None:
        ids = self.agent_ids
        self._write(
            [("INSERT OR IGNORE INTO agents VALUES (?, ?, 0, NULL)", (a, OFFLINE)) for a in ids]
        )
        rows: dict[str, tuple[int, int, float | None]] = {}
        for r in self._query("SELECT id, status, pending, conversion FROM agents"):
            aid, st, p, c = r
            if (
                aid.__class__ is not str
                or st not in (0, 1, 2)
                or st.__class__ is not int
                or p.__class__ is not int
                or not 0 <= p <= MAX_PENDING
                or not (c is None or _number(c) and 0 <= c <= 1)
            ):
                raise self._damaged("agent row", r)
            rows[aid] = (st, p, c)
        self.status = [rows[a][0] for a in ids]
        self.pending = [rows[a][1] for a in ids]
        self.conversion = [rows[a][2] for a in ids]
        self._contacts.clear()
        self._complete = False
        if self._query("SELECT COUNT(*) FROM contacts")[0][0] <= PRELOAD_CONTACTS:
            index = self.agent_index
            for buyer, aid, t in self._contact_rows():
                i = index.get(aid)
                self._contacts[buyer] = None if i is None else (i, t)
            self._complete = True

    def _remember(self, buyer: str, contact: Contact | None) -> None:
        """Cache a buyer's contact (None: none); a full cache starts again, incomplete."""
        if len(self._contacts) >= MAX_CONTACT_CACHE:
            self._contacts.clear()
            self._complete = False
        self._contacts[buyer] = contact

    def snapshot(self, buyer: str) -> Snapshot:
        c = self._contacts.get(buyer, _UNCACHED)
        if c is _UNCACHED:
            if self._complete:  # every contact is cached: this buyer has none
                return None, self.status, self.pending, self.conversion
            rows = self._query("SELECT agent, time FROM contacts WHERE buyer = ?", (buyer,))
            row = rows[0] if rows else None
            if row is not None and (row[0].__class__ is not str or not _number(row[1])):
                raise self._damaged(f"the contact row of buyer {buyer!r}", row)
            i = self.agent_index.get(row[0]) if row else None
            c = None if i is None or row is None else (i, row[1])
            self._remember(buyer, c)
        return c, self.status, self.pending, self.conversion

    def assign(self, agent: int, buyer: str, time: float) -> None:
        self._write([("INSERT INTO assign VALUES (?, ?, ?)", (buyer, self.agent_ids[agent], time))])
        self.pending[agent] += 1
        self._remember(buyer, (agent, time))

    def set_status(self, agent: int, status: int) -> None:
        self._write(
            [("UPDATE agents SET status = ? WHERE id = ?", (status, self.agent_ids[agent]))]
        )
        self.status[agent] = status

    def set_conversion(self, agent: int, rate: float | None) -> None:
        self._write(
            [("UPDATE agents SET conversion = ? WHERE id = ?", (rate, self.agent_ids[agent]))]
        )
        self.conversion[agent] = rate

    def reply(self, agent: int) -> None:
        self._write(
            [
                (
                    "UPDATE agents SET pending = MAX(pending - 1, 0) WHERE id = ?",
                    (self.agent_ids[agent],),
                )
            ]
        )
        self.pending[agent] = max(self.pending[agent] - 1, 0)

    def put_agent(
        self, agent: int, status: int | None = None, pending: int | None = None,
        conversion: float | None = None, clear_conversion: bool = False,
    ) -> None:  # fmt: skip
        aid = self.agent_ids[agent]
        new = (
            self.status[agent] if status is None else status,
            self.pending[agent] if pending is None else pending,
            conversion if conversion is not None or clear_conversion else self.conversion[agent],
        )
        self._write(
            [
                (
                    "UPDATE agents SET status = ?, pending = ?, conversion = ? WHERE id = ?",
                    (*new, aid),
                )
            ]
        )
        self.status[agent], self.pending[agent], self.conversion[agent] = new

    def put_contact(self, buyer: str, agent: int, time: float) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO contacts VALUES (?, ?, ?)",
                    (buyer, self.agent_ids[agent], time),
                )
            ]
        )
        self._remember(buyer, (agent, time))

    def pool_push(self, buyer: str, time: float, chat_json: str) -> None:
        self._write(
            [("INSERT INTO pool (buyer, time, chat) VALUES (?, ?, ?)", (buyer, time, chat_json))]
        )

    def pool_pop(self) -> PooledChat | None:
        rows = self._query("SELECT seq, buyer, time, chat FROM pool ORDER BY seq LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        if row[1].__class__ is not str or not _number(row[2]) or row[3].__class__ is not str:
            raise self._damaged("a message-pool row", row)
        self._write([("DELETE FROM pool WHERE seq = ?", (row[0],))])
        return row[1], row[2], row[3]

    def pool_len(self) -> int:
        n: int = self._query("SELECT COUNT(*) FROM pool")[0][0]
        return n

    def contacts(self) -> list[tuple[str, str, float]]:
        index = self.agent_index
        return [r for r in self._contact_rows() if r[1] in index]

    def _contact_rows(self) -> list[tuple[str, str, float]]:
        """Every contact row (buyer, agent id, time), checked (S921), by buyer."""
        rows = self._query("SELECT buyer, agent, time FROM contacts ORDER BY buyer")
        for r in rows:
            if r[0].__class__ is not str or r[1].__class__ is not str or not _number(r[2]):
                raise self._damaged("a contact row", r)
        return rows

    def _abandon(self) -> None:
        """Close a store that failed to open, keeping the error that made it fail."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
            self._db = None
