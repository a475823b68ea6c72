"""The ledger interface (O12, O13): campaign states, per-consumer history and batch-atomic decide-and-record."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import NamedTuple

CHANNELS = ("regular", "green", "exempt")
CHANNEL_CODE = {c: i for i, c in enumerate(CHANNELS)}

# Campaign states kept by a ledger.
STARTED = "started"  # a run began deciding it (an interrupted run leaves it here)
FINISHED = "finished"  # a run went through its whole audience: done for good (O12)
MISSED = "missed"  # first planned more than max_delay after its send time (O12)
SKIPPED = "skipped"  # not sendable when due (not eligible, late configuration, no activity)
STATUSES = (STARTED, FINISHED, MISSED, SKIPPED)

WHOLE = (1, 1)  # a run without --shard plans shard 1 of 1 (O12s)


class CampaignState(NamedTuple):
    """A campaign as one shard sees it (O12s): `shards` is the N the ledger recorded for it,
    `status`/`reason` this shard's state (status None: this shard has not opened it yet) and
    `finished` how many of the N shards have finished it (whole when finished == shards)."""

    shards: int
    status: str | None
    reason: str | None
    finished: int


# A record of one send: (campaign name, consumer, channel, scheduled time as epoch seconds).
# History handed to `decide`: {consumer: [(campaign name, channel, at), ...]}.
Decide = Callable[[dict], list]


class Packed(NamedTuple):
    """What `decide` may return instead of records, from a ledger that `packs`: the batch's
    sends packed per consumer, `rows` [(consumer, text)] with each consumer once and `text`
    its sends' `packed_send()` texts in decision order (distinct campaigns: the planner's O13 check), and
    `sends` their number. It spares a tuple per send and the ledger's packing loop."""

    rows: list
    sends: int


class Ledger(abc.ABC):
    """What the planner needs from a ledger. Implementations: sqlite (default), redis.

    Exactly-once (O13) rests on `decide_and_record`: for one batch of consumers it must read
    their history, call `decide(history)`, call `emit()` and make the returned records durable
    as ONE atomic step with respect to every other planner on the same ledger. `decide` is pure
    given the history (an implementation that retries may call it again); `emit` prints the
    batch and runs before the records become durable, so a crash can only print a batch
    again, never lose one. The key (campaign, consumer) is unique."""

    shop: str
    packs = False  # True: `packed_send()` works and `decide` may return Packed rows

    def packed_send(self, campaign: str, channel: str, at) -> str:
        """The packed form of one send (";id,channel,at"), for Packed rows; S962 when the
        campaign was never opened in this ledger."""
        raise NotImplementedError(f"{type(self).__name__} takes records, not packed rows")

    @abc.abstractmethod
    def campaign_states(self, shard: tuple = WHOLE) -> dict:
        """{campaign name: CampaignState} for every campaign this ledger has seen, with the
        state of shard `shard` = (I, N)."""

    @abc.abstractmethod
    def open_campaigns(self, wanted: dict, shard: tuple = WHOLE) -> dict:
        """Atomically give each campaign in `wanted` ({name: (status, reason, send_at)}) that
        status for shard (I, N) if that shard has none yet, recording N with a new campaign;
        returns {name: CampaignState} as now recorded (another planner may have been first).
        A campaign recorded with another N: S940 and nothing is opened (O12s)."""

    @abc.abstractmethod
    def finish_campaigns(self, names: Iterable[str], shard: tuple = WHOLE) -> None:
        """Mark `started` campaigns `finished` for shard (I, N) (its run went through its
        whole audience)."""

    @abc.abstractmethod
    def decide_and_record(
        self, consumers: list, decide: Decide, emit: Callable[[], None] | None = None
    ) -> list:
        """One atomic batch: history of `consumers`, `decide`, `emit`, record. Returns what
        `decide` returned: the records written (a list of (campaign, consumer, channel, at)),
        or Packed rows."""

    @abc.abstractmethod
    def sends(self, campaign: str | None = None) -> list:
        """Every recorded send (of one campaign), as (campaign, consumer, channel, at)."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
