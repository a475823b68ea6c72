"""The store interface the router relies on (stores/base.py): one path for every store,
commits that may be refused or degraded said through the interface, route_many and the
replay helper giving exactly the decisions of routing one by one (E1), traces included."""

import random

import pytest
from routing_helpers import IMPLS, at, shop, table_from_rules

from rulec.errors import InputError, StoreError
from rulec.routing.records import Candidates, Choice
from rulec.routing.replay import replay
from rulec.routing.router import COMMIT_TRIES, Router
from rulec.routing.stores.base import COMMITTED, DEGRADED, REFUSED
from rulec.routing.stores.memory import MemoryStore

RULES = shop(
    {f"a{i}": {"level": 1 + i % 3} for i in range(8)},
    {
        "G": {"agents": ["a0", "a1", "a2"], "product": ["p"]},
        "H": {"agents": ["a3", "a4", "a5", "a6", "a7"], "mode": {"conversion": "high"}},
    },
    busy_threshold=2,
    sticky={"hold": "1m", "window": "10m"},
)
STATE = {"agents": {f"a{i}": {"status": "online", "conversion": 0.1 * i} for i in range(8)}}


class Refusing(MemoryStore):
    """A shared store stand-in: refuses the first `refusals` commits (as Redis does when
    another router wrote the shop since the snapshot), then answers `answer`."""

    may_refuse = True

    def __init__(self, shop, refusals, answer=COMMITTED):
        super().__init__(shop)
        self.refusals, self.answer, self.commits = refusals, answer, 0

    def commit(self, agent, buyer, time):
        self.commits += 1
        if self.refusals:
            self.refusals -= 1
            return REFUSED
        super().commit(agent, buyer, time)
        return self.answer


def chats(n, seed, buyers=20):
    rnd = random.Random(seed)
    return [
        {
            "type": "chat",
            "buyer": f"u{rnd.randrange(buyers)}",
            "time": at(i * 20),
            "product": rnd.choice(["p", "q", None]),
        }
        for i in range(n)
    ]


def _router(store="memory:", seed=5, impl=None):
    r = Router(table_from_rules(RULES), store=store, seed=seed, impl=impl)
    r.load_state(STATE)
    return r


def test_a_refused_commit_is_decided_again_and_the_trace_says_so():
    r = _router(Refusing("s", 2))
    d = r.route(chats(1, 1)[0], trace=True)
    assert r.store.commits == 3
    # the lines of the refused tries are dropped: one line says the chat was decided again
    assert d["trace"][0] == (
        "store: the shared state changed meanwhile (another router); decided again"
    )
    assert d["trace"][1].startswith("R1:") and d["target"].startswith("agent:")
    assert "degraded" not in d


@pytest.mark.parametrize("impl", IMPLS)
def test_a_decision_made_again_records_the_buyers_contact_at_the_chat_time(impl):
    """Settled reading (R3 records each assignment as the buyer's last contact): the commit
    that goes in after a refusal records this buyer at this chat's time, so the buyer's next
    chat is sticky (R2a) to the same agent."""
    r = _router(Refusing("s", 1), impl=impl)
    first = {"buyer": "u1", "time": at(0), "product": "p"}
    d = r.route(first)
    assert r.store.commits == 2
    agent = d["target"].removeprefix("agent:")
    at0_utc = "2026-11-23T01:00:00+00:00"  # at(0); export() gives times in UTC
    assert r.store.export()["contacts"] == {"u1": {"agent": agent, "time": at0_utc}}
    again = r.route({"buyer": "u1", "time": at(30)})
    assert (again["target"], again["step"]) == (d["target"], "sticky")


@pytest.mark.parametrize("impl", IMPLS)
def test_a_decision_made_again_still_sees_the_buyers_contact(impl):
    """R2a holds on the fresh state too: a returning buyer whose commit is refused is decided
    again from their own contact (a2, 30 s ago), and the trace says its age."""
    r = _router(Refusing("s", 1), impl=impl)
    r.load_state({"contacts": {"u1": {"agent": "a2", "time": at(0)}}})
    d = r.route({"buyer": "u1", "time": at(30)}, trace=True)
    assert r.store.commits == 2
    assert (d["target"], d["step"]) == ("agent:a2", "sticky")
    assert any("last human contact a2, age 0h00m30s" in line for line in d["trace"]), d["trace"]


def test_a_store_that_keeps_refusing_gives_s913():
    r = _router(Refusing("s", 10**6))
    with pytest.raises(StoreError) as exc:
        r.route(chats(1, 1)[0])
    assert exc.value.code == "S913" and r.store.commits == COMMIT_TRIES
    assert [d.message for d in exc.value.diagnostics] == [
        "the shared state store kept changing; no decision could be committed"
    ]


def test_a_degraded_commit_flags_the_decision():
    r = _router(Refusing("s", 0, DEGRADED))
    assert r.route(chats(1, 1)[0])["degraded"] is True


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_route_many_and_groups_decide_as_one_by_one(kind, tmp_path):
    """E1 on every store: route_many (in its store's groups, or forced groups of 8, which a
    store that never refuses applies as it stages them) equals route() chat by chat."""
    url = "memory:" if kind == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    one, many, grouped = _router(), _router(url), _router("memory:")
    batch = chats(300, 2)
    expected = [one.route(c, trace=True) for c in batch]
    assert many.route_many(batch, trace=True) == expected
    assert grouped.route_many(batch, trace=True, group=8) == expected
    assert many.store.export() == one.store.export() == grouped.store.export()
    many.close()


def test_route_many_checks_every_chat_before_deciding_any():
    r = _router()
    batch = chats(5, 3)
    batch[3] = {"buyer": "x"}  # no time
    with pytest.raises(InputError) as exc:
        r.route_many(batch)
    assert exc.value.code == "E804"
    assert r.store.contacts() == []  # nothing of the run was decided


def test_replay_equals_feeding_one_by_one_and_is_lazy():
    evs = []
    for i, c in enumerate(chats(120, 4)):
        evs.append(c)
        if i % 7 == 0:
            evs.append({"type": "reply", "time": c["time"], "agent": f"a{i % 8}"})
        if i % 11 == 0:
            status = "offline" if i % 2 else "online"
            evs.append({"type": "agent", "time": c["time"], "agent": "a3", "status": status})
    a, b = _router(), _router()
    expected = [d for ev in evs for d in a.feed(ev, trace=True)]
    consumed = []

    def source():
        for ev in evs:
            consumed.append(ev)
            yield ev

    out = replay(b, source(), trace=True)
    first = next(out)
    assert len(consumed) < len(evs)  # the first decision came before the events ran out
    assert [first, *out] == expected


def test_named_records():
    r = _router()
    info = r.candidates({"product": "p", "attrs": {}})
    assert isinstance(info, Candidates)
    assert [r.g_name[g] for g in info.groups] == ["G"] and info.robot is None
    assert all(isinstance(c, Choice) and c.step == "group" for c in info.choice.values())


def test_pool_pop_answering_nothing_ends_the_drain():
    """A store that loses its server between the pool length and the pop (degraded Redis
    answers None) ends the drain instead of failing (issue 10)."""

    class Vanishing(MemoryStore):
        def pool_pop(self):
            return None

    rules = shop({"a1": {}}, {"G": {"agents": ["a1"]}}, drain_pool=True)
    rules["routing"]["when_nobody_online"] = "message_pool"
    r = Router(table_from_rules(rules), store=Vanishing("s"))
    assert r.route({"buyer": "u1", "time": at(0)})["step"] == "nobody_online"
    assert r.store.pool_len() == 1
    ev = {"type": "agent", "time": at(1), "agent": "a1", "status": "online"}
    assert r.feed(ev) == []


def test_restart_clears_a_memory_store_and_refuses_others(tmp_path):
    """Router.restart (rulec test, between tests) asks the store to clear itself: the memory
    store forgets every contact and status, and decides as a fresh router with that seed
    does; a durable store refuses (it never holds only this process's state)."""
    r = Router(table_from_rules(RULES), seed=3)
    r.load_state(STATE)
    chat = {"buyer": "b1", "time": at(5)}
    assert r.route(chat)["target"].startswith("agent:")
    r.restart(seed=7)
    fresh = Router(table_from_rules(RULES), seed=7)
    assert r.store.export() == fresh.store.export()
    assert r.route(chat) == fresh.route(chat)  # nobody online again: no contact kept
    r.load_state(STATE)
    fresh.load_state(STATE)
    assert r.route({"buyer": "b2", "time": at(6)}) == fresh.route({"buyer": "b2", "time": at(6)})
    durable = Router(table_from_rules(RULES), store=f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(ValueError, match="restart needs a memory: store"):
        durable.restart()
    durable.close()
