"""match_outcome (R5 as an outcome id, for callers that cache per candidate set): the id names
the same groups as match, agrees with match_columns, and both implementations agree."""

import pytest
from matcher_bodies import make_body
from test_matcher_columns import CROWDS, GROUPS, INTENTS, _chats, _columns

from rulec.errors import InputError
from rulec.matching import matcher as M


def test_r5_match_outcome_names_match(build):
    """R5: outcomes()[match_outcome(chat)] is match(chat); equal candidates share one id."""
    m = build(GROUPS, CROWDS, INTENTS)
    chats = _chats(400)
    ids = [m.match_outcome(c) for c in chats]
    names = m.outcomes()
    assert [list(names[i]) for i in ids] == m.match_many(chats)
    by_names = {}
    for i in ids:
        assert by_names.setdefault(names[i], i) == i
    assert len(set(ids)) > 3  # the workload reaches several candidate sets


def test_r5_match_outcome_shares_ids_with_match_columns(build):
    """R5: one id space for the dict and columnar entry points."""
    m = build(GROUPS, CROWDS, INTENTS)
    chats = _chats(300)
    for c in chats:
        c["attrs"].setdefault("level", 0)
    ids = [m.match_outcome(c) for c in chats]
    assert list(m.match_columns(**_columns(m, chats))) == ids


def test_r5_match_outcome_cython_equals_pure():
    """R5: the Cython and pure-Python match_outcome name the same groups, chat by chat, and
    reject the same malformed chats with E840."""
    if M._matcher is None:
        pytest.skip(f"Cython matcher extension not built: {M.extension_error}")
    body = make_body(GROUPS, CROWDS, INTENTS, None)
    py, cy = M.build_matcher(body, "python"), M.build_matcher(body, "cython")
    chats = _chats(400)
    pids, cids = [py.match_outcome(c) for c in chats], [cy.match_outcome(c) for c in chats]
    pn, cn = py.outcomes(), cy.outcomes()
    assert [pn[i] for i in pids] == [cn[i] for i in cids]
    for bad in (
        {"buyer": "b", "attrs": [1]},
        {"buyer": "b", "product": 3},
        {"buyer": "b", "crowds": "vip"},
    ):
        for m in (py, cy):
            with pytest.raises(InputError) as info:
                m.match_outcome(bad)
            assert info.value.code == "E840"
