"""The SQLite ledger: one file, WAL, one BEGIN IMMEDIATE transaction per batch (O13).

Each consumer has one row holding every send it received (";campaign id,channel,at" per
send, in decision order: the same packing as the Redis ledger): the batch's history is one
indexed lookup per consumer and recording is one upsert per consumer, not one per send. The
key (campaign, consumer) is checked against that row inside the same transaction.
Campaign states are kept per shard (O12s); the shard count N is recorded per campaign.

Opening checks the file before anything is read or written (O14): a fresh file gets the
schema; an existing one must carry this shop, a known format version and every table and
column (a dropped table is damage, never recreated). A row that cannot be read stops the run
with S941 naming it; it is never taken for "no history"."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import sqlite3
import time
import uuid
from typing import Any

from rulec.common.twin import load_twin
from rulec.errors import StoreError
from rulec.outreach.ledger import rows, sqlite_batch
from rulec.outreach.ledger.base import FINISHED, STARTED, WHOLE, Ledger, Packed

# the batch step (begin, history, upsert, commit) in C on the ledger file, or its pure twin
TWIN = load_twin(
    "rulec.outreach.ledger._sqlite_batch", "rulec.outreach.ledger.sqlite_batch", "ledger batch step"
)
SCHEMA_VERSION = "3"
TABLES = {  # table -> its CREATE statement; the columns are checked on open
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "campaigns": "CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "shards INTEGER NOT NULL, send_at INTEGER, opened_at TEXT NOT NULL)",
    "shards": "CREATE TABLE shards (campaign INTEGER NOT NULL, shard INTEGER NOT NULL, "
    "status TEXT NOT NULL, reason TEXT, opened_at TEXT NOT NULL, finished_at TEXT, "
    "PRIMARY KEY (campaign, shard)) WITHOUT ROWID",
    "consumers": "CREATE TABLE consumers (consumer TEXT PRIMARY KEY, sends TEXT NOT NULL) "
    "WITHOUT ROWID",
}
COLUMNS = {
    "meta": ["key", "value"],
    "campaigns": ["id", "name", "shards", "send_at", "opened_at"],
    "shards": ["campaign", "shard", "status", "reason", "opened_at", "finished_at"],
    "consumers": ["consumer", "sends"],
}
# schema 2 (one state per campaign) -> 3 (states per shard): every campaign is shard 1 of 1
MIGRATE_2 = [
    "CREATE TABLE shards (campaign INTEGER NOT NULL, shard INTEGER NOT NULL, "
    "status TEXT NOT NULL, reason TEXT, opened_at TEXT NOT NULL, finished_at TEXT, "
    "PRIMARY KEY (campaign, shard)) WITHOUT ROWID",
    "INSERT INTO shards SELECT id, 1, status, reason, opened_at, finished_at FROM campaigns",
    "ALTER TABLE campaigns RENAME TO campaigns_2",
    TABLES["campaigns"],
    "INSERT INTO campaigns SELECT id, name, 1, send_at, opened_at FROM campaigns_2",
    "DROP TABLE campaigns_2",
    "UPDATE meta SET value = '3' WHERE key = 'schema'",
]
_TOKEN_KEY = operator.itemgetter(0, 2, 3)  # a record's (campaign, channel, at)
_PAIR = operator.itemgetter(0, 1)  # (campaign, consumer)
_CONSUMER = operator.itemgetter(1)
STATES = (
    "SELECT c.id, c.name, c.shards, s.status, s.reason, "
    "(SELECT count(*) FROM shards f WHERE f.campaign = c.id AND f.status = 'finished') "
    "FROM campaigns c LEFT JOIN shards s ON s.campaign = c.id AND s.shard = ?"
)


def _busy(exc) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _guard(method):
    """SQLite failures during a run: locked past the timeout, disk full or I/O (S907), a
    damaged file (S941)."""

    @functools.wraps(method)
    def run(self, *args, **kw):
        try:
            return method(self, *args, **kw)
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if type(exc) is sqlite3.OperationalError and "malformed" not in text:
                raise StoreError.of("S907", f"ledger {self.path}: {exc}") from None
            raise StoreError.of("S941", f"ledger {self.path} is damaged: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreError.of("S907", f"ledger {self.path}: {exc}") from None

    return run


def _rollback(db):
    if db.in_transaction:
        db.execute("ROLLBACK")


def _now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SqliteLedger(Ledger):
    """Ledger in one SQLite file (`:memory:` for tests). Refuses another shop's file (S902)."""

    def __init__(self, path, shop: str, timeout: float = 120.0):
        if not isinstance(path, (str, os.PathLike)):
            raise StoreError.of(
                "S945", f"ledger must be a path or URL string, not {type(path).__name__}"
            )
        self.path, self.shop, self.timeout = os.fspath(path), shop, timeout
        # the batch step's connection opens later: the file as named now, whatever the cwd then
        self._file = os.path.abspath(self.path)
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise StoreError.of(
                    "S901", f"ledger {self.path}: directory {parent} does not exist"
                )
            if os.path.exists(self.path) and not os.path.isfile(self.path):
                raise StoreError.of("S941", f"ledger {self.path} is not a regular file")
        self._ids: dict[str, int] = {}  # campaign name -> id
        self._names: dict[int, str] = {}
        self._batch: Any = None  # the BatchDb (either twin), opened by the first batch
        try:
            self.db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._retry_busy(self._setup)
        except StoreError:
            self._close_quietly()
            raise
        except sqlite3.OperationalError as exc:
            self._close_quietly()
            if _busy(exc):
                raise StoreError.of(
                    "S907", f"ledger {self.path}: {exc} (another planner holds it)"
                ) from None
            raise StoreError.of("S903", f"ledger {self.path} cannot be opened: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StoreError.of(
                "S903", f"ledger {self.path} is not a rulec ledger or is damaged: {exc}"
            ) from None

    def _close_quietly(self):
        batch, self._batch = getattr(self, "_batch", None), None
        if batch is not None:
            try:
                batch.close()
            except sqlite3.Error:
                pass
        db = getattr(self, "db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    # -- setup ------------------------------------------------------------------------------
    def _retry_busy(self, step):
        """Run `step`, retrying while another process holds a lock SQLite does not wait for
        itself (switching a fresh file to WAL): two planners creating one ledger at once."""
        deadline, pause = time.monotonic() + self.timeout, 0.005
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def _setup(self):
        db = self.db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-65536")
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                for sql in TABLES.values():
                    db.execute(sql)
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("format", "rulec-ledger"),
                        ("shop", self.shop),
                        ("schema", SCHEMA_VERSION),
                        ("created", _now()),
                        ("id", uuid.uuid4().hex),
                    ],
                )
            else:
                self._verify(tables)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._load_ids()

    def _verify(self, tables):
        """O14: this shop's ledger, a known format version, every table and column there."""
        db = self.db
        if "meta" not in tables:
            raise StoreError.of(
                "S903",
                f"ledger {self.path} is not a rulec ledger (a SQLite file with tables "
                f"{', '.join(sorted(tables)[:5])}) or lost its `meta` table",
            )
        meta = dict(db.execute("SELECT key, value FROM meta"))
        schema = meta.get("schema")
        if schema not in ("2", SCHEMA_VERSION):
            raise StoreError.of(
                "S903",
                f"ledger {self.path} has format version {schema!r}; this rulec reads "
                f"versions 2 and {SCHEMA_VERSION}",
            )
        if meta.get("shop") != self.shop:
            raise StoreError.of(
                "S902",
                f"ledger {self.path} belongs to shop {meta.get('shop')!r}, not {self.shop!r}",
            )
        if schema == "2" and {"campaigns", "consumers"} <= tables and "shards" not in tables:
            for sql in MIGRATE_2:
                db.execute(sql)
            tables = tables | {"shards"}
        for table, cols in COLUMNS.items():
            if table not in tables:
                raise StoreError.of(
                    "S941",
                    f"ledger {self.path} is damaged: table `{table}` is missing (a re-created "
                    "empty table would send everything again)",
                )
            have = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            if have != cols:
                raise StoreError.of(
                    "S941",
                    f"ledger {self.path} is damaged: table `{table}` has columns "
                    f"{', '.join(have)}; expected {', '.join(cols)}",
                )

    def _load_ids(self):
        for cid, name in self.db.execute("SELECT id, name FROM campaigns"):
            if type(cid) is not int or type(name) is not str:
                raise StoreError.of(
                    "S941", f"ledger {self.path} is damaged: campaign row {cid!r} is unreadable"
                )
            self._ids[name], self._names[cid] = cid, name

    # -- campaigns --------------------------------------------------------------------------
    @_guard
    def campaign_states(self, shard=WHOLE) -> dict:
        out = {}
        for cid, name, n, status, reason, done in self.db.execute(STATES, (shard[0],)):
            out[name] = rows.campaign_state(self.path, name, n, status, reason, done)
            # campaigns another planner opened since this ledger was opened: their ids too
            self._ids[name], self._names[cid] = cid, name
        return out

    @_guard
    def open_campaigns(self, wanted: dict, shard=WHOLE) -> dict:
        db, (i, n) = self.db, shard
        db.execute("BEGIN IMMEDIATE")
        try:
            now = _now()
            if wanted:
                known = dict(
                    db.execute(
                        "SELECT name, shards FROM campaigns WHERE name IN (%s)"
                        % ",".join("?" * len(wanted)),
                        list(wanted),
                    )
                )
                rows.check_shards(self.path, known, n)
            db.executemany(
                "INSERT OR IGNORE INTO campaigns (name, shards, send_at, opened_at) "
                "VALUES (?, ?, ?, ?)",
                [(name, n, at, now) for name, (_s, _r, at) in wanted.items()],
            )
            db.executemany(
                "INSERT OR IGNORE INTO shards (campaign, shard, status, reason, opened_at) "
                "SELECT id, ?, ?, ?, ? FROM campaigns WHERE name = ?",
                [(i, s, r, now, name) for name, (s, r, _at) in wanted.items()],
            )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._load_ids()
        states = self.campaign_states(shard)
        return {name: states[name] for name in wanted}

    @_guard
    def finish_campaigns(self, names, shard=WHOLE) -> None:
        names = list(names)
        if not names:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "UPDATE shards SET status=?, finished_at=? WHERE shard=? AND status=? AND "
                "campaign = (SELECT id FROM campaigns WHERE name=?)",
                [(FINISHED, _now(), shard[0], STARTED, n) for n in names],
            )
            self.db.execute("COMMIT")
        except BaseException:
            _rollback(self.db)
            raise

    # -- sends ------------------------------------------------------------------------------
    def _unpack(self, consumer, text) -> list:
        """ ";id,channel,at;..." -> [(campaign name, channel, at)]; S941 when unreadable."""
        return rows.read(text, self._names, self._load_ids, self.path, consumer)

    def batch_db(self):
        """The BatchDb of this ledger's batches, opened on first use: the C twin on a file
        (its own connection), the pure twin on the ledger's connection for `:memory:` (a
        second connection would see another database; so for "", SQLite's private temporary
        file)."""
        if self._batch is None:
            if self.path in (":memory:", ""):
                self._batch = sqlite_batch.BatchDb(self.path, self.timeout, self.db)
            else:
                self._batch = TWIN.module().BatchDb(self._file, self.timeout)
        return self._batch

    def _history(self, batch, consumers) -> dict:
        return {c: self._unpack(c, text) for c, text in batch.history(list(consumers))}

    @_guard
    def decide_and_record(self, consumers, decide, emit=None) -> list:
        batch = self.batch_db()
        try:
            batch.begin()  # inside: a failure after BEGIN (reading data_version) rolls back
            history = self._history(batch, consumers)
            records = decide(history)
            if type(records) is Packed:
                self._check_packed(records.rows, history)
                batch.upsert(records.rows)
            elif records:
                batch.upsert(self._rows(records, history))
            if emit is not None:
                emit()
            batch.commit()
        except BaseException:
            batch.rollback()
            raise
        return records

    packs = True

    def packed_send(self, campaign, channel, at) -> str:
        return rows.campaign_token(self._ids, campaign, channel, at)

    def _check_packed(self, packed, history) -> None:
        """Packed rows hold distinct campaigns a consumer (their maker's check, O13); a send
        its history already holds is refused here as for records (S960)."""
        if not history:
            return
        texts = dict(packed)
        for consumer, old in history.items():
            text = texts.get(consumer)
            if text and {h[0] for h in old} & {n for n, _ch, _at in self._unpack(consumer, text)}:
                raise self._twice()

    def _twice(self) -> StoreError:
        return StoreError.of(
            "S960", f"ledger {self.path}: a (campaign, consumer) send was decided twice"
        )

    def _rows(self, records, history) -> list:
        """Upsert rows, one per consumer; refuses a (campaign, consumer) already recorded."""
        toks = {}
        for k in dict.fromkeys(map(_TOKEN_KEY, records)):  # (campaign, channel, at), in order
            toks[k] = self.packed_send(*k)
        seen = set(map(_PAIR, records))
        clash = len(seen) != len(records) or any(
            (h[0], consumer) in seen for consumer, hs in history.items() for h in hs
        )
        if clash:
            raise self._twice()
        packed: dict[str, str] = {}
        get = packed.get
        for consumer, tok in zip(
            map(_CONSUMER, records), map(toks.__getitem__, map(_TOKEN_KEY, records))
        ):
            prev = get(consumer)
            packed[consumer] = tok if prev is None else prev + tok
        return list(packed.items())

    @_guard
    def sends(self, campaign=None) -> list:
        out: list[tuple[str, str, str, str]] = []
        for consumer, text in self.db.execute("SELECT consumer, sends FROM consumers"):
            out.extend(
                (n, consumer, ch, at)
                for n, ch, at in self._unpack(consumer, text)
                if campaign is None or n == campaign
            )
        return out

    def close(self) -> None:
        self._close_quietly()
