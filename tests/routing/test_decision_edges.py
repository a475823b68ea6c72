"""Edges of the decision path that mutation testing found unguarded (docs/mutation.md,
mut-routing), each keyed to its clause and shown on both decision paths (the Cython
`_decide` and the pure twin `decide`) through the Router API."""

import pytest
from routing_helpers import IMPLS, T0, router, shop

from rulec.errors import InputError

TWO = {"a1": {}, "a2": {}}
G = {"G": {"agents": ["a1", "a2"]}}
LATER = "2026-11-23T09:05:00+08:00"  # five minutes after the chat at T0


def contact_later_than_chat(st1, impl, **sticky):
    """u1's last contact is a1, recorded five minutes after the chat's time (docs/routing.md:
    counts as age 0); a1 has status `st1`, a2 is online."""
    state = {
        "agents": {"a1": {"status": st1}, "a2": {"status": "online"}},
        "contacts": {"u1": {"agent": "a1", "time": LATER}},
    }
    r = router(shop(TWO, G, sticky=sticky), state, impl=impl)
    d = r.route({"buyer": "u1", "time": T0}, trace=True)
    r.close()
    return d


@pytest.mark.parametrize("impl", IMPLS)
def test_r2a_contact_later_than_the_chat_is_age_zero_within_a_one_second_hold(impl):
    """R2a: age 0 < hold 1s, so the suspended contact agent keeps the buyer (an age taken as
    anything from 1s up would be past hold: R2c, a2)."""
    d = contact_later_than_chat("suspended", impl, hold="1s", window="1h")
    assert (d["target"], d["step"]) == ("agent:a1", "sticky")
    assert "R2: the contact is 0h05m00s later than the chat → age 0" in d["trace"]


@pytest.mark.parametrize("impl", IMPLS)
def test_r2c_contact_later_than_the_chat_is_not_within_a_zero_hold(impl):
    """R2 with hold 0s: age 0 is not < hold, so a suspended contact agent hands the buyer to
    their group (R2c), even when the contact is later than the chat (a negative age would
    count as within hold: R2a)."""
    d = contact_later_than_chat("suspended", impl, hold="0s", window="1h")
    assert (d["target"], d["step"], d["group"]) == ("agent:a2", "sticky_group", "G")


@pytest.mark.parametrize("impl", IMPLS)
def test_r2_zero_window_never_sticks_even_to_a_later_contact(impl):
    """R2 with window 0s: age 0 is not younger than the window, so R2 does nothing and the
    online contact agent gets the buyer only through the group (R5/R6), not `sticky`."""
    d = contact_later_than_chat("online", impl, hold="0s", window="0s")
    assert (d["step"], d["group"]) == ("group", "G")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("bad, kind", [(7, "int"), (["a1"], "list"), ({"id": "a1"}, "dict")])
def test_r3_exclusive_agent_not_a_string_is_e806_naming_what_it_got(impl, bad, kind):
    """R3 reads `exclusive_agent` only when reached (R1 passed, no sticky contact); a value
    that is not a string is E806, and the message says what was given."""
    r = router(
        shop(TWO, G, exclusive_direct=True), {"agents": {"a1": {"status": "online"}}}, impl=impl
    )
    with pytest.raises(InputError) as exc:
        r.route({"buyer": "u1", "time": T0, "exclusive_agent": bad})
    assert exc.value.code == "E806"
    assert f"`exclusive_agent` must be a string or null, got {kind}" in str(exc.value)
    r.close()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("buyer", [b"u1", bytearray(b"u1")])
def test_a_buyer_that_is_not_text_is_e806_even_at_a_time_seen_before(impl, buyer):
    """Every chat's buyer must be a non-empty string (contract); the fast path for a time
    parsed before must not let bytes through (they have isascii() too)."""
    r = router(shop(TWO, G), {"agents": {"a1": {"status": "online"}}}, impl=impl)
    assert r.route({"buyer": "u0", "time": T0})["target"] == "agent:a1"
    with pytest.raises(InputError) as exc:
        r.route({"buyer": buyer, "time": T0})
    assert exc.value.code == "E806"
    r.close()
