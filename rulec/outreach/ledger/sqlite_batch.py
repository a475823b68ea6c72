"""The SQLite ledger's batch step (begin, history, upsert, commit) on a Python sqlite3 connection.

The pure twin of `_sqlite_batch` (the same class on SQLite's C API). The ledger runs each batch
as: begin() (BEGIN IMMEDIATE), history() of its consumers, upsert() of their new sends,
commit() - or rollback() on any failure.

The lookup skip. A fresh ledger's first run finds no history for anyone, yet asked SQLite
once per consumer. The skip leaves out the lookups that cannot find a row, and O13
(exactly once) rests on it, so here is why it never leaves out one that could:
1. The first begin() of a BatchDb holds the write lock (BEGIN IMMEDIATE). If the `consumers`
   table is empty then, this BatchDb "owns" it: it records `PRAGMA data_version`.
2. SQLite documents data_version as unchanged on a connection unless ANOTHER connection
   committed a change to the file since. So each later begin() (again under the write lock,
   so nobody can commit until our COMMIT) that reads the recorded value knows that every row
   in `consumers` was written by this connection's own upserts (the ledger writes that table
   through upsert() alone; on `:memory:` the connection is the ledger's, whose other writes
   touch campaigns and shards only). The first time it reads another value the skip is off
   for good (the filter is dropped; every consumer is looked up).
3. While the skip is on, upsert() sets a bit for each consumer before writing its row, at
   hash(consumer) & MASK (a str's hash is fixed within a process, and a BatchDb never leaves
   its process). history() looks up only the consumers whose bit is set: a consumer with a
   row has its bit set, so it is looked up; a clear bit proves there is no row. Different
   consumers sharing a bit, and bits left by a rolled-back batch, only cost a lookup.
The filter is FILTER_BITS bits (8 MB) however many consumers a run streams: memory stays
bounded, and with very large audiences the filter fills up and the skip simply saves less.

Errors are sqlite3's own (OperationalError, DatabaseError), as the ledger's `_guard` expects.
"""

from __future__ import annotations

import sqlite3

IN_CHUNK = 500  # host parameters per `IN (...)` lookup
FILTER_BITS = 1 << 26
MASK = FILTER_BITS - 1
UPSERT = (
    "INSERT INTO consumers (consumer, sends) VALUES (?, ?) ON CONFLICT (consumer) "
    "DO UPDATE SET sends = sends || excluded.sends"
)
EMPTY = "SELECT NOT EXISTS (SELECT 1 FROM consumers)"
UPSERT_ROWS = 64  # rows a statement of the C twin: one step for many (0.4x the CPU a row)


def upsert_sql(n: int) -> str:
    """UPSERT for `n` rows in one statement. SQLite applies ON CONFLICT row by row, in order,
    so a consumer twice in it ends as two single-row upserts would leave it."""
    values = ", ".join(["(?, ?)"] * n)
    return UPSERT.replace("VALUES (?, ?)", "VALUES " + values)


class BatchDb:
    """The batch step on the ledger file `path` (its own connection, `timeout` seconds busy
    wait), or on `db`, a connection the caller keeps (the ledger's own for `:memory:`)."""

    def __init__(self, path: str, timeout: float, db: sqlite3.Connection | None = None):
        self.own = db is None
        if db is None:
            db = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            try:
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA cache_size=-65536")
            except BaseException:
                db.close()
                raise
        self.db = db
        self.first = True  # the next begin() is this BatchDb's first
        self.version: int | None = None  # data_version while the skip is on
        self.bits: bytearray | None = None  # the filter while the skip is on

    @property
    def skipping(self) -> bool:
        """True while lookups of consumers this BatchDb never wrote are left out."""
        return self.bits is not None

    def begin(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        if self.first:
            self.first = False
            if db.execute(EMPTY).fetchone()[0]:
                self.version = self._data_version()
                self.bits = bytearray(FILTER_BITS >> 3)
        elif self.bits is not None and self._data_version() != self.version:
            self.bits = None  # another connection wrote: every lookup from now on

    def _data_version(self) -> int:
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def history(self, consumers: list) -> list:
        """[(consumer, stored sends)] of the consumers that have a row (each once)."""
        bits = self.bits
        if bits is not None:  # a clear bit: no row (inline: this runs for every consumer)
            consumers = [c for c in consumers if bits[(h := hash(c) & MASK) >> 3] >> (h & 7) & 1]
        found: dict[str, str] = {}
        uniq = list(dict.fromkeys(consumers))
        for i in range(0, len(uniq), IN_CHUNK):
            part = uniq[i : i + IN_CHUNK]
            q = "SELECT consumer, sends FROM consumers WHERE consumer IN (%s)" % ",".join(
                "?" * len(part)
            )
            found.update(self.db.execute(q, part))
        return [(c, found[c]) for c in uniq if c in found]  # in the order asked, as the C twin

    def upsert(self, rows: list) -> None:
        """Append each (consumer, packed sends) to the consumer's row (a new row if none)."""
        bits = self.bits
        if bits is not None:  # the bits first: whatever happens to the writes, a row has its bit
            for consumer, _text in rows:
                h = hash(consumer) & MASK
                bits[h >> 3] |= 1 << (h & 7)
        self.db.executemany(UPSERT, rows)

    def close(self) -> None:
        self.bits = None
        if self.own:
            self.db.close()
