"""The router's state store interface: one read and one atomic write per routing decision.

State per shop (semantics.md, "Routing"): each agent's status, pending count and conversion
rate; each buyer's last human contact; and, when `drain_pool` is on, the message-pool queue.

The router works with agent *indices* (positions in the table's `agents` list, bound once
with `attach`); a store persists agent *ids*, so a table that reorders or drops agents
still reads the right state. Hot-path contract (what a Redis store must do in one round
trip each):

- `read(buyer)` -> (contact, status, pending, conversion): the buyer's last contact as
  (agent index, epoch seconds) or None, and three lists indexed by agent index holding every
  agent's status code, pending count and conversion rate (None when unknown). The lists may
  be the store's own: callers never mutate them, and they may change after the next write.
- `assign(agent, buyer, time)`: pending + 1 for the agent AND the buyer's last contact =
  (agent, time), as ONE atomic operation (the choice itself is made by the router).
"""

from __future__ import annotations

import datetime as dt

OFFLINE, SUSPENDED, ONLINE = 0, 1, 2
STATUS_CODES = {"offline": OFFLINE, "suspended": SUSPENDED, "online": ONLINE}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}


class Store:
    """Base class; `memory:` and `sqlite:` implement it (redis in stores/redis_store.py)."""

    url = ""
    degraded = False  # a shared store that lost its server and routes without it (redis)

    def __init__(self, shop: str):
        self.shop = shop
        self.agent_ids: list[str] = []
        self.agent_index: dict[str, int] = {}

    # -- binding ------------------------------------------------------------------------
    def attach(self, agent_ids) -> None:
        """Bind to the table's agents (in table order). Agents unknown to the store start
        offline with pending 0 and no conversion rate; stored agents not in the table are
        kept but unused."""
        self.agent_ids = list(agent_ids)
        self.agent_index = {a: i for i, a in enumerate(self.agent_ids)}
        self._attached()

    def _attached(self) -> None:
        raise NotImplementedError

    # -- hot path -----------------------------------------------------------------------
    def read(self, buyer: str):
        """(contact, status, pending, conversion) in one call; see the module docstring."""
        raise NotImplementedError

    def assign(self, agent: int, buyer: str, time: float) -> None:
        """Atomically: pending[agent] += 1 and contact[buyer] = (agent, time)."""
        raise NotImplementedError

    def commit(self, agent: int, buyer: str, time: float) -> bool:
        """Make the decision taken on the last `read(buyer)` effective (assign when agent >= 0).
        A shared store (redis) returns False when that read was no longer current; it has
        then taken in the fresh state and the router decides again."""
        if agent >= 0:
            self.assign(agent, buyer, time)
        return True

    # -- events -------------------------------------------------------------------------
    def set_status(self, agent: int, status: int) -> None:
        raise NotImplementedError

    def set_conversion(self, agent: int, rate: float | None) -> None:
        raise NotImplementedError

    def reply(self, agent: int) -> None:
        """Atomically: pending[agent] -= 1, not below zero."""
        raise NotImplementedError

    # -- state loading (--state) --------------------------------------------------------
    def put_agent(
        self,
        agent: int,
        status: int | None = None,
        pending: int | None = None,
        conversion: float | None = None,
        clear_conversion: bool = False,
    ) -> None:
        """Overwrite the given fields of one agent (None leaves a field as it is)."""
        raise NotImplementedError

    def put_contact(self, buyer: str, agent: int, time: float) -> None:
        """Set a buyer's last contact without touching pending (state loading only)."""
        raise NotImplementedError

    # -- message pool (drain_pool) ------------------------------------------------------
    def pool_push(self, buyer: str, time: float, chat_json: str) -> None:
        """Queue a chat that went to the message pool (chat as JSON text)."""
        raise NotImplementedError

    def pool_pop(self):
        """Remove and return the oldest queued chat as (buyer, time, chat_json), or None."""
        raise NotImplementedError

    def pool_len(self) -> int:
        raise NotImplementedError

    # -- inspection ---------------------------------------------------------------------
    def contacts(self):
        """Every (buyer, agent id, time) the store holds (for export and tests)."""
        raise NotImplementedError

    def export(self, tz: dt.tzinfo = dt.timezone.utc) -> dict:
        """The state in the contract's `--state` form (agents of the table, all contacts)."""
        _, status, pending, conv = self.read("")
        agents = {}
        for i, a in enumerate(self.agent_ids):
            entry = {"status": STATUS_NAMES[status[i]], "pending": pending[i]}
            if conv[i] is not None:
                entry["conversion"] = conv[i]
            agents[a] = entry
        contacts = {
            b: {"agent": a, "time": dt.datetime.fromtimestamp(t, tz).isoformat()}
            for b, a, t in self.contacts()
        }
        return {"agents": agents, "contacts": contacts}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
