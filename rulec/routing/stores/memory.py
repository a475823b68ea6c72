"""`memory:` store: plain lists and dicts in this process (the default; fastest; not durable)."""

from __future__ import annotations

from collections import deque
from typing import Any

from rulec.routing.stores.base import (
    COMMITTED,
    OFFLINE,
    Contact,
    PooledChat,
    Snapshot,
    Store,
)


class MemoryStore(Store):
    """State in process memory; `read` hands out the store's own lists (no copy)."""

    url = "memory:"

    def __init__(self, shop: str):
        super().__init__(shop)
        self._by_id: dict[str, list[Any]] = {}  # agent id -> [status, pending, conversion]
        self._contacts: dict[str, Contact] = {}  # buyer -> (agent index, epoch seconds)
        self._pool: deque[PooledChat] = deque()

    def _attached(self) -> None:
        old_ids: list[str] = getattr(self, "_old_ids", [])
        for i, a in enumerate(old_ids):  # keep what a previous attach knew
            self._by_id[a] = [self.status[i], self.pending[i], self.conversion[i]]
        rows = [self._by_id.get(a, [OFFLINE, 0, None]) for a in self.agent_ids]
        self.status = [r[0] for r in rows]
        self.pending = [r[1] for r in rows]
        self.conversion = [r[2] for r in rows]
        if old_ids:
            index = self.agent_index
            self._contacts = {
                b: (index[old_ids[i]], t)
                for b, (i, t) in self._contacts.items()
                if old_ids[i] in index
            }
        self._old_ids = list(self.agent_ids)

    def clear(self) -> None:
        """Forget everything: every agent offline with pending 0 and no rate, no contacts,
        an empty message pool (rulec test starts each test so, on one router)."""
        n = len(self.agent_ids)
        self._by_id, self._contacts, self._pool = {}, {}, deque()
        self.status, self.pending, self.conversion = [OFFLINE] * n, [0] * n, [None] * n
        self._old_ids = list(self.agent_ids)

    def snapshot(self, buyer: str) -> Snapshot:
        return self._contacts.get(buyer), self.status, self.pending, self.conversion

    def assign(self, agent: int, buyer: str, time: float) -> None:
        self.pending[agent] += 1
        self._contacts[buyer] = (agent, time)

    def commit(self, agent: int, buyer: str, time: float) -> int:
        if agent >= 0:  # assign, inline: this is the hot path of the default store
            self.pending[agent] += 1
            self._contacts[buyer] = (agent, time)
        return COMMITTED

    def set_status(self, agent: int, status: int) -> None:
        self.status[agent] = status

    def set_conversion(self, agent: int, rate: float | None) -> None:
        self.conversion[agent] = rate

    def reply(self, agent: int) -> None:
        if self.pending[agent] > 0:
            self.pending[agent] -= 1

    def put_agent(
        self, agent: int, status: int | None = None, pending: int | None = None,
        conversion: float | None = None, clear_conversion: bool = False,
    ) -> None:  # fmt: skip
        if status is not None:
            self.status[agent] = status
        if pending is not None:
            self.pending[agent] = pending
        if conversion is not None or clear_conversion:
            self.conversion[agent] = conversion

    def put_contact(self, buyer: str, agent: int, time: float) -> None:
        self._contacts[buyer] = (agent, time)

    def pool_push(self, buyer: str, time: float, chat_json: str) -> None:
        self._pool.append((buyer, time, chat_json))

    def pool_pop(self) -> PooledChat | None:
        return self._pool.popleft() if self._pool else None

    def pool_len(self) -> int:
        return len(self._pool)

    def contacts(self) -> list[tuple[str, str, float]]:
        ids = self.agent_ids
        return [(b, ids[i], t) for b, (i, t) in self._contacts.items()]
