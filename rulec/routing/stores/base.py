"""The router's state store interface: every backend the same calls, capabilities declared.

State per shop (semantics.md, "Routing"): each agent's status, pending count and conversion
rate; each buyer's last human contact; and, when `drain_pool` is on, the message-pool queue.

The router works with agent *indices* (positions in the table's `agents` list, bound once
with `attach`); a store persists agent *ids*, so a table that reorders or drops agents
still reads the right state. A decision is a small transaction (OPA's storage transactions
are the model): the router takes a snapshot, decides on it, and commits; it never asks
which backend it has. The calls (what a Redis store does in one round trip each):

- `snapshot(buyer)` -> (contact, status, pending, conversion): what a decision needs. The
  buyer's last contact as (agent index, epoch seconds) or None, and three lists indexed by
  agent index holding every agent's status code, pending count and conversion rate (None
  when unknown). The lists may be the store's own: callers never mutate them, and they
  may change at the next commit.
- `commit(agent, buyer, time)` -> COMMITTED, REFUSED or DEGRADED: make the decision taken
  on the last snapshot of `buyer` effective (agent >= 0: pending + 1 and the buyer's last
  contact, as ONE atomic operation). REFUSED only from a store that declares `may_refuse`
  (shared state changed since the snapshot; the fresh state is taken in, decide again).
  DEGRADED: the store lost its server and the decision was taken on its last known state
  without it (the router flags such decisions).
- commit many: `begin_group()`, then `stage(agent, buyer, time)` after each decision (its
  effect is visible to the next snapshot), then `commit_group()` -> COMMITTED or REFUSED:
  all of the group or nothing (REFUSED: nothing is kept; the fresh state is taken in).
  `group` declares how many decisions a group should hold (1: grouping gains nothing).
- `agent_state()` -> (status, pending, conversion), fresh from the store (pool drain, export).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11 on

OFFLINE, SUSPENDED, ONLINE = 0, 1, 2
STATUS_CODES = {"offline": OFFLINE, "suspended": SUSPENDED, "online": ONLINE}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}

REFUSED, COMMITTED, DEGRADED = 0, 1, 2  # what commit / commit_group answer (REFUSED is falsy)

Contact = tuple[int, float]  # a buyer's last human contact: (agent index, epoch seconds)
# every agent's status code, pending count and conversion rate (None: unknown), by index
AgentState = tuple[list[int], list[int], list["float | None"]]
Snapshot = tuple["Contact | None", list[int], list[int], list["float | None"]]
PooledChat = tuple[str, float, str]  # (buyer, epoch seconds, chat as JSON text)


class Store:
    """Base class; `memory:` and `sqlite:` implement it (redis in stores/redis_store.py)."""

    url = ""
    degraded = False  # a shared store that lost its server and routes without it (redis)
    may_refuse = False  # capability: commit / commit_group may answer REFUSED

    def __init__(self, shop: str):
        self.shop = shop
        self.agent_ids: list[str] = []
        self.agent_index: dict[str, int] = {}
        self.status: list[int] = []
        self.pending: list[int] = []
        self.conversion: list[float | None] = []

    @property
    def group(self) -> int:
        """Capability: decisions worth committing in one group (commit many; 1: none)."""
        return 1

    # -- binding ------------------------------------------------------------------------
    def attach(self, agent_ids: Iterable[str]) -> None:
        """Bind to the table's agents (in table order). Agents unknown to the store start
        offline with pending 0 and no conversion rate; stored agents not in the table are
        kept but unused."""
        self.agent_ids = list(agent_ids)
        self.agent_index = {a: i for i, a in enumerate(self.agent_ids)}
        self._attached()

    def _attached(self) -> None:
        raise NotImplementedError

    # -- hot path -----------------------------------------------------------------------
    def snapshot(self, buyer: str) -> Snapshot:
        """(contact, status, pending, conversion) in one call; see the module docstring."""
        raise NotImplementedError

    def agent_state(self) -> AgentState:
        """(status, pending, conversion) of every agent, fresh from the store. Stores that
        keep the agents in lists of their own (all of them here) answer from those."""
        return self.status, self.pending, self.conversion

    def assign(self, agent: int, buyer: str, time: float) -> None:
        """Unconditionally and atomically: pending[agent] += 1, contact[buyer] = (agent, time)."""
        raise NotImplementedError

    def commit(self, agent: int, buyer: str, time: float) -> int:
        """Make the decision taken on the last `snapshot(buyer)` effective (assign when
        agent >= 0): COMMITTED, or REFUSED / DEGRADED from stores that can (module docstring)."""
        if agent >= 0:
            self.assign(agent, buyer, time)
        return COMMITTED

    # -- commit many (a group of decisions, all or nothing) -----------------------------
    def begin_group(self) -> None:
        """Start a group; a store that never refuses applies each staged decision at once."""

    def stage(self, agent: int, buyer: str, time: float) -> int:
        """Record one decision of the group; the next snapshot sees it."""
        return self.commit(agent, buyer, time)

    def commit_group(self) -> int:
        """COMMITTED (the whole group is in) or REFUSED (none of it; decide it again)."""
        return COMMITTED

    # -- events -------------------------------------------------------------------------
    def set_status(self, agent: int, status: int) -> None:
        raise NotImplementedError

    def set_conversion(self, agent: int, rate: float | None) -> None:
        raise NotImplementedError

    def reply(self, agent: int) -> None:
        """Atomically: pending[agent] -= 1, not below zero."""
        raise NotImplementedError

    # -- state loading (--state) --------------------------------------------------------
    # (every store repeats this signature: written compactly, so it is not a long copy)
    def put_agent(
        self, agent: int, status: int | None = None, pending: int | None = None,
        conversion: float | None = None, clear_conversion: bool = False,
    ) -> None:  # fmt: skip
        """Overwrite the given fields of one agent (None leaves a field as it is)."""
        raise NotImplementedError

    def put_contact(self, buyer: str, agent: int, time: float) -> None:
        """Set a buyer's last contact without touching pending (state loading only)."""
        raise NotImplementedError

    # -- message pool (drain_pool) ------------------------------------------------------
    def pool_push(self, buyer: str, time: float, chat_json: str) -> None:
        """Queue a chat that went to the message pool (chat as JSON text)."""
        raise NotImplementedError

    def pool_pop(self) -> PooledChat | None:
        """Remove and return the oldest queued chat as (buyer, time, chat_json), or None."""
        raise NotImplementedError

    def pool_len(self) -> int:
        raise NotImplementedError

    # -- inspection ---------------------------------------------------------------------
    def contacts(self) -> list[tuple[str, str, float]]:
        """Every (buyer, agent id, time) the store holds (for export and tests)."""
        raise NotImplementedError

    def export(self, tz: dt.tzinfo = dt.timezone.utc) -> dict[str, Any]:
        """The state in the contract's `--state` form (agents of the table, all contacts)."""
        status, pending, conv = self.agent_state()
        agents: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.agent_ids):
            entry: dict[str, Any] = {"status": STATUS_NAMES[status[i]], "pending": pending[i]}
            if conv[i] is not None:
                entry["conversion"] = conv[i]
            agents[a] = entry
        contacts = {
            b: {"agent": a, "time": dt.datetime.fromtimestamp(t, tz).isoformat()}
            for b, a, t in self.contacts()
        }
        return {"agents": agents, "contacts": contacts}

    def clear(self) -> None:
        """Forget everything (Router.restart): only a store of this process's own can."""
        raise ValueError("restart needs a memory: store")

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
