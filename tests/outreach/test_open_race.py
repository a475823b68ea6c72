"""O13: a planner whose ledger was opened before another planner opened the campaigns still
records its sends (the campaign ids are read with the states)."""

import json

import pytest
from outreach_helpers import NOW, consumer, expected, table

from rulec.errors import InputError
from rulec.outreach.ledger.sqlite_ledger import SqliteLedger
from rulec.outreach.planner import Planner


def test_campaigns_opened_by_another_planner_after_this_ledger_opened(tmp_path):
    db = tmp_path / "l.db"
    lines = [json.dumps(consumer(i)) for i in range(40)]
    late = Planner(table(), SqliteLedger(db, "hx"))  # opened first, before any campaign
    with Planner(table(), db, batch_size=10) as first:  # opens the campaigns, then stops
        with pytest.raises(InputError):
            first.plan(lines[:20] + ["{not json"], NOW, on_send=lambda s: None)
    res = late.plan(lines[20:], NOW)  # no history read: the ids must come with the states
    late.close()
    assert {(s["campaign"], s["consumer"]) for s in res.sends} == expected(40) - expected(20)
