"""Router edges that mutation testing found unguarded (docs/mutation.md, mut-routing): traces
only when asked (R10), the sizes of group commits while a shared store refuses groups, and
what the message pool (drain_pool, R1) keeps and says, and how restart seeds the PRNG."""

import pytest
from routing_helpers import IMPLS, at, router, shop, table_from_rules

from rulec.errors import InputError, StoreError
from rulec.routing import router as R
from rulec.routing.router import Router
from rulec.routing.stores.base import COMMITTED, REFUSED
from rulec.routing.stores.memory import MemoryStore

AGENTS = {f"a{i}": {"level": 1 + i % 3} for i in range(6)}
RULES = shop(AGENTS, {"G": {"agents": list(AGENTS)}}, busy_threshold=10_000)
ONLINE = {"agents": {a: {"status": "online"} for a in AGENTS}}
DRAIN = shop({"a1": {}}, {"G": {"agents": ["a1"]}}, drain_pool=True)


def chats(n):
    return [{"buyer": f"u{i % 7}", "time": at(10 * i)} for i in range(n)]


class GroupRefusing(MemoryStore):
    """A shared store stand-in that commits groups of up to `group` and refuses the first
    `refusals` group commits (none of the group goes in, as on Redis when another router
    wrote the shop meanwhile). `sizes`: (chats staged, COMMITTED or REFUSED) per group."""

    group = 8
    may_refuse = True

    def __init__(self, shop, refusals, group=8):
        super().__init__(shop)
        self.refusals, self.sizes, self.group = refusals, [], group

    def begin_group(self):
        self._saved = list(self.pending), dict(self._contacts)
        self._staged = 0

    def stage(self, agent, buyer, time):
        self._staged += 1
        return self.commit(agent, buyer, time)

    def commit_group(self):
        answer = COMMITTED
        if self.refusals:
            self.refusals -= 1
            self.pending[:], self._contacts = self._saved[0], self._saved[1]
            answer = REFUSED
        self.sizes.append((self._staged, answer))
        return answer


@pytest.mark.parametrize("impl", IMPLS)
def test_route_many_gives_a_trace_only_when_asked(impl):
    """R10 on request: route_many without trace=True, one by one or in groups, gives the
    contract's decision lines without "trace"; with it, every line has one."""
    for group in (None, 4):
        r = router(RULES, ONLINE, impl=impl)
        plain = r.route_many(chats(12), group=group)
        assert all("trace" not in d for d in plain), (group, plain[0])
        r = router(RULES, ONLINE, impl=impl)
        traced = r.route_many(chats(12), trace=True, group=group)
        assert all(d["trace"][0].startswith("R1:") for d in traced)
        assert [{k: v for k, v in d.items() if k != "trace"} for d in traced] == plain


@pytest.mark.parametrize("impl", IMPLS)
def test_refused_groups_shrink_the_next_ones_and_committed_ones_grow_them_back(impl):
    """route_many on a store that commits groups: a group refused GROUP_TRIES (2) times is
    routed chat by chat and the next group is a quarter the size (at least 4); each committed
    group doubles the size again, up to the store's 8. The decisions and the state are those
    of route() chat by chat (E1), traces included."""
    one = router(RULES, ONLINE, impl=impl)
    expected = [one.route(c, trace=True) for c in chats(40)]
    r = router(RULES, ONLINE, store=GroupRefusing("s", 2), impl=impl)
    assert r.route_many(chats(40), trace=True) == expected
    assert r.store.sizes == [
        (8, REFUSED),
        (8, REFUSED),  # then its 8 chats one by one
        (4, COMMITTED),
        (8, COMMITTED),
        (8, COMMITTED),
        (8, COMMITTED),
        (4, COMMITTED),  # the last 4 of 40
    ]
    assert r.store.export() == one.store.export()


@pytest.mark.parametrize("impl", IMPLS)
def test_a_chat_event_fed_gives_a_trace_only_when_asked(impl):
    """R10 on request: feed() of a chat event returns its decision without "trace" unless
    trace=True is given."""
    chat = {"type": "chat", "buyer": "u1", "time": at(0)}
    (plain,) = router(RULES, ONLINE, impl=impl).feed(chat)
    assert "trace" not in plain and plain["target"].startswith("agent:")
    (traced,) = router(RULES, ONLINE, impl=impl).feed(chat, trace=True)
    assert traced["trace"] and {**traced, "trace": None} == {**plain, "trace": None}


@pytest.mark.parametrize("impl", IMPLS)
def test_drained_chats_carry_a_trace_only_when_asked_and_it_says_when(impl):
    """R1 message pool (drain_pool): a chat drained when an agent comes online is routed
    again; its trace (only when asked) starts with when it was queued and routed again."""
    for trace in (False, True):
        r = router(DRAIN, impl=impl)
        assert r.route({"buyer": "u1", "time": at(0)})["target"] == "message_pool"
        got = r.feed({"type": "agent", "time": at(60), "agent": "a1", "status": "online"}, trace)
        assert [(d["step"], d["target"], d["queued_at"]) for d in got] == [
            ("pool_drain", "agent:a1", at(0))
        ]
        if trace:
            want = f"pool_drain: queued at {at(0)}, routed again at {at(60)}"
            assert got[0]["trace"][0] == want, got[0]["trace"]
        else:
            assert "trace" not in got[0]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "value, code", [(float("nan"), "E801"), ({1, 2}, "E806"), (float("inf"), "E851")]
)
def test_a_chat_for_the_message_pool_must_be_plain_json(impl, value, code):
    """A chat that goes to the message pool is kept as JSON: a value JSON cannot hold is a
    coded error, and nothing is queued."""
    r = router(DRAIN, impl=impl)
    with pytest.raises(InputError) as exc:
        r.route({"buyer": "u1", "time": at(0), "attrs": {"x": value}})
    assert exc.value.code == code
    assert r.store.pool_len() == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_route_many_group_argument_sets_the_group_size(impl):
    """`group` overrides the store's: groups of 4 on a store that would take 8, and group=1
    routes chat by chat (no group commit at all); the decisions are route()'s (E1)."""
    one = router(RULES, ONLINE, impl=impl)
    expected = [one.route(c) for c in chats(12)]
    for group, sizes in ((4, [(4, COMMITTED)] * 3), (1, [])):
        r = router(RULES, ONLINE, store=GroupRefusing("s", 0), impl=impl)
        assert r.route_many(chats(12), group=group) == expected
        assert r.store.sizes == sizes, group


@pytest.mark.parametrize("impl", IMPLS)
def test_groups_shrink_to_a_quarter_and_double_back_up_to_a_larger_store_group(impl):
    """The same on a store that takes 32: refused twice, the next group is 32 // 4 = 8, then
    each committed one doubles (16, 32), never more than the store's group."""
    one = router(RULES, ONLINE, impl=impl)
    expected = [one.route(c) for c in chats(93)]
    r = router(RULES, ONLINE, store=GroupRefusing("s", 2, group=32), impl=impl)
    assert r.route_many(chats(93)) == expected
    assert r.store.sizes == [
        (32, REFUSED),
        (32, REFUSED),
        (8, COMMITTED),
        (16, COMMITTED),
        (32, COMMITTED),
        (5, COMMITTED),
    ]


@pytest.mark.parametrize("impl", IMPLS)
def test_every_part_of_two_chats_or_more_is_one_group_commit(impl):
    """A store of group 2 gets pairs as group commits (a lone last chat goes alone); a store
    of group 1 gets group commits only when route_many is given `group`. Decisions: E1."""
    one = router(RULES, ONLINE, impl=impl)
    expected = [one.route(c) for c in chats(5)]
    for store_group, group, sizes in ((2, None, [(2, COMMITTED)] * 2), (1, 4, [(4, COMMITTED)])):
        store = GroupRefusing("s", 0, group=store_group)
        r = router(RULES, ONLINE, store=store, impl=impl)
        assert r.route_many(chats(5), group=group) == expected
        assert store.sizes == sizes, (store_group, group)


@pytest.mark.parametrize("impl", IMPLS)
def test_a_state_record_sets_what_it_names_and_a_null_conversion_forgets_the_rate(impl):
    """A --state agent record sets only what it names (`pending` alone keeps the status), and
    `conversion: null` forgets the agent's rate: R9 then gives it its group's mean known rate,
    so the router decides as one that never knew it (docs/routing.md, conversion)."""
    conv = shop(AGENTS, {"G": {"agents": list(AGENTS), "mode": {"conversion": "high"}}})
    rates = {a: {"status": "online", "conversion": 0.1} for a in AGENTS if a != "a0"}
    state = {"agents": {"a0": {"status": "online"}, **rates}}
    rate = {"type": "conversion", "time": at(0), "agent": "a0", "rate": 0.9}

    def decisions(r):
        return [r.route(c)["target"] for c in chats(60)]

    never = router(conv, state, impl=impl)
    kept = router(conv, state, impl=impl)
    kept.feed(rate)
    cleared = router(conv, state, impl=impl)
    cleared.feed(rate)
    cleared.load_state({"agents": {"a0": {"pending": 0, "conversion": None}}})
    assert decisions(cleared) == decisions(never) != decisions(kept)


@pytest.mark.parametrize("impl", IMPLS)
def test_restart_seeds_the_prng_as_a_fresh_router_with_that_seed(impl):
    """Router.restart(seed) (rulec test, before each test) starts again as Router(seed=seed)
    does, for the default seed (0, the constructor's default too), an explicit one and None
    (which, as for the constructor, means 0): the same R6 draws among six equally free
    agents, so the same decisions."""

    def decisions(r):
        r.load_state(ONLINE)
        return [r.route(c)["target"] for c in chats(40)]

    table = table_from_rules(RULES)
    fresh = {s: decisions(Router(table, seed=s, impl=impl)) for s in (None, 0, 1, 7)}
    assert fresh[None] == fresh[0] and len({tuple(fresh[s]) for s in (0, 1, 7)}) == 3
    assert decisions(Router(table, impl=impl)) == fresh[0]  # the constructor's default seed
    r = Router(table, seed=7, impl=impl)
    assert r.seed == 7
    for seed in (None, 1, 7):
        decisions(r)
        r.restart(seed)
        assert r.seed == seed and decisions(r) == fresh[seed], seed
    decisions(r)
    r.restart()
    assert r.seed == 0 and decisions(r) == fresh[0]


@pytest.mark.parametrize("impl", IMPLS)
def test_a_store_object_of_another_shop_is_s902(impl):
    """A Store object (not a URL, which the store itself checks) holding another shop's
    state is refused with S902, naming both shops."""
    with pytest.raises(StoreError) as exc:
        router(RULES, store=MemoryStore("t"), impl=impl)
    assert exc.value.code == "S902"
    assert [d.message for d in exc.value.diagnostics] == ["store is for shop 't', table is for 's'"]


def test_the_decision_path_asked_for_is_the_one_used():
    """Router(impl=...) picks the decision path, whatever the live one is: an unknown name is
    refused, and "python" is the pure twin (so the twin tests compare two paths)."""
    table = table_from_rules(RULES)
    with pytest.raises(ValueError, match="unknown decision path implementation 'fortran'"):
        Router(table, impl="fortran")
    for impl in IMPLS:
        assert type(Router(table, impl=impl)._decider) is R.decider(impl)
