"""Decision logs: every decision and state event as one JSON line (docs/decision-log.md),
serialised and written by a background thread so the request path only enqueues."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rulec.table.format import Table

from rulec.errors import RulecError

VERSION = 1
MAX_QUEUE = 200_000  # records waiting for the writer; past it records are dropped and counted
BATCH = 512  # records per write() call at most
FLUSH = 0.05  # seconds between the writer's rounds

Doc = dict[str, Any]  # a decision, an input chat or an event (JSON objects)
# what the request path enqueues: (kind, decision id, epoch, shop, table, input, decision)
Item = tuple[str, str | None, float, str, str, Doc | None, Doc | None]
Decide = Callable[[Iterable[Doc]], Iterable[Doc]]  # events in, decisions out (in order)


def new_id() -> str:
    """A decision id: 32 hex digits, random (128 bits from the OS), unique across processes."""
    return os.urandom(16).hex()


def read_salt(path: str | PathLike[str]) -> bytes:
    """The salt for buyer masking (a file's bytes, stripped); OSError/ValueError when unusable."""
    with open(path, "rb") as fh:
        salt = fh.read(1 << 16).strip()
    if not salt:
        raise ValueError(f"salt file {path} is empty")
    return salt


class DecisionLog:
    """`DecisionLog(path_or_dash, salt=None, sample=1.0, source="serve")`.

    `decision(...)` and `event(...)` only enqueue; the writer thread masks, samples,
    serialises and appends whole lines with one os.write per batch (O_APPEND), so several
    processes may share one file without tearing lines. `close()` drains and stops."""

    def __init__(
        self,
        target: str | PathLike[str],
        salt: bytes | None = None,
        sample: float = 1.0,
        source: str = "serve",
    ) -> None:
        if not 0 < sample <= 1:
            raise ValueError(f"sample rate must be in (0, 1], got {sample}")
        self.salt = salt
        self.sample = float(sample)
        self.source = source
        self.dropped = 0  # records dropped because the writer fell MAX_QUEUE behind
        self.written = 0
        self.on_drop: Callable[[int], object] | None = None  # optional callback (metrics)
        if target == "-":
            self._fd, self._own = sys.stdout.fileno(), False
            sys.stdout.flush()
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._own = True
        self._q: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rulec-decision-log", daemon=True)
        self._thread.start()

    # -- request path: enqueue only -------------------------------------------------------
    def _put(self, item: Item) -> None:
        if self._q.qsize() >= MAX_QUEUE:
            self.dropped += 1
            if self.on_drop is not None:
                self.on_drop(1)
            return
        self._q.put(item)

    def keeps(self, buyer: object) -> bool:
        """Whether `buyer`'s records are logged (a caller can skip the trace if not)."""
        return kept(buyer, self.sample)

    def decision(
        self,
        shop: str,
        table: str,
        decision: Doc,
        chat: Doc | None = None,
        did: str | None = None,
    ) -> str:
        """Log one decision (its trace included when it has one); returns its id. `chat` is
        the input chat, None for a message-pool drain (the decision says which buyer)."""
        did = did or new_id()
        if self.keeps(decision.get("buyer")):
            self._put(("decision", did, time.time(), shop, table, chat, decision))
        return did

    def event(self, shop: str, table: str, event: Doc) -> None:
        """Log an agent / reply / conversion event (state changes replay needs); a reply is
        sampled with its buyer."""
        if self.keeps(event.get("buyer")):
            self._put(("event", None, time.time(), shop, table, event, None))

    # -- writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        # The writer wakes every FLUSH seconds rather than once per record: a thread woken
        # per record fights the event loop for the GIL on every request.
        stop = False
        while not stop:
            stop = self._stop.wait(FLUSH)
            while True:  # drain what is queued, BATCH records per write
                items: list[Item] = []
                try:
                    while len(items) < BATCH:
                        items.append(self._q.get_nowait())
                except queue.Empty:
                    pass
                if not items:
                    break
                lines = [line for line in map(self._line, items) if line is not None]
                if lines:
                    self._write("".join(lines).encode("utf-8"))
                    self.written += len(lines)

    def _write(self, data: bytes) -> None:
        try:
            while data:
                n = os.write(self._fd, data)
                data = data[n:]
        except OSError as exc:  # a full disk must not stop the service: count and go on
            self.dropped += 1
            sys.stderr.write(f"rulec: decision log write failed: {exc.strerror or exc}\n")

    def _line(self, item: Item) -> str | None:
        kind, did, at, shop, table, inp, decision = item
        rec: Doc = {"v": VERSION, "kind": kind}
        if did is not None:
            rec["id"] = did
        rec.update(at=_iso(at), source=self.source, shop=shop, table=table)
        if kind == "decision":
            rec["input"] = self._mask(inp)
            rec["decision"] = self._mask(decision)
        else:
            rec["event"] = self._mask(inp)
        try:
            return json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
        except (TypeError, ValueError) as exc:  # never silently: say which record was lost
            sys.stderr.write(f"rulec: decision log record not written: {exc}\n")
            return None

    def _mask(self, doc: Doc | None) -> Doc | None:
        """A copy of `doc` with its buyer id replaced by a salted hash (the original dict is
        shared with the response and must not change)."""
        if doc is None or self.salt is None or not isinstance(doc.get("buyer"), str):
            return doc
        doc = dict(doc)
        doc["buyer"] = mask_buyer(doc["buyer"], self.salt)
        return doc

    def close(self) -> None:
        """Write everything queued, then stop the writer."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        if self._own:
            os.close(self._fd)
            self._own = False


def open_log(
    path: str | PathLike[str],
    salt_file: str | PathLike[str] | None = None,
    sample: float = 1.0,
    source: str = "serve",
) -> DecisionLog:
    """A DecisionLog appending to `path` ("-": stdout), buyers masked with the salt in
    `salt_file`; RulecError H113 (salt file) or H114 (log file) when either is unusable."""
    salt = None
    if salt_file:
        try:
            salt = read_salt(salt_file)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise RulecError.of("H113", f"cannot use salt file {salt_file}: {why}") from None
    try:
        return DecisionLog(path, salt=salt, sample=sample, source=source)
    except OSError as exc:
        why = exc.strerror or exc
        raise RulecError.of("H114", f"cannot open decision log {path}: {why}") from None


def for_route(
    path: str | PathLike[str] | None, table: Table, events: Iterable[Doc], decide: Decide
) -> Iterator[Doc]:
    """`rulec route --decision-log PATH`: `decide(events)`'s decisions, logged (see logged)
    to PATH when it is given; the log is closed (everything written) when they are done."""
    if not path:
        yield from decide(events)
        return
    dlog = open_log(path, source="route")
    try:
        yield from logged(dlog, table.shop, table.header.get("source_hash", ""), events, decide)
    finally:
        dlog.close()


def kept(buyer: object, rate: float) -> bool:
    """Sampling (--sample RATE) is by buyer, with CRC-32 of the id: a kept buyer's records
    are all kept and every process keeps the same buyers. Records without a buyer are kept."""
    if rate >= 1 or not isinstance(buyer, str):
        return True
    return zlib.crc32(buyer.encode("utf-8")) < rate * 4294967296.0


def logged(
    dlog: DecisionLog | None, shop: str, table: str, events: Iterable[Doc], decide: Decide
) -> Iterator[Doc]:
    """Yield `decide(events)`'s decisions, logging each with its input and the events between
    them, in input order (`rulec route --decision-log`). `decide` takes an iterator of events
    and yields decisions in event order: one per chat, plus pool drains after the event that
    freed capacity. It may read ahead over chats (a run decided together) but yields an
    event's drains before it reads the next event, as rulec route does."""
    if dlog is None:
        yield from decide(events)
        return
    pending: collections.deque[Doc] = collections.deque()  # events read but not yet logged

    def reading() -> Iterator[Doc]:
        for ev in events:
            pending.append(ev)
            yield ev

    def events_before_chat() -> None:
        while pending and pending[0].get("type") != "chat":
            dlog.event(shop, table, pending.popleft())

    for d in decide(reading()):
        events_before_chat()
        if d.get("step") == "pool_drain":  # caused by an event, not a chat of the input
            dlog.decision(shop, table, d, None)
        else:
            dlog.decision(shop, table, d, pending.popleft() if pending else None)
        yield d
    events_before_chat()


def mask_buyer(buyer: str, salt: bytes) -> str:
    """`h:` + the first 32 hex digits of SHA-256(salt + buyer): stable for one salt, so one
    buyer's records still line up (replay of sticky contacts) without the id."""
    return "h:" + hashlib.sha256(salt + buyer.encode("utf-8")).hexdigest()[:32]


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="microseconds")
