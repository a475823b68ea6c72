"""DataFrame partitions as audience records: what Parquet/Arrow cells become (the same as a
JSON line would hold), and cells that are no audience value (K113)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from outreach_helpers import NOW, consumer, table

from rulec.errors import InputError
from rulec.outreach.frames import is_frame, records
from rulec.outreach.planner import Planner


def test_cells_become_json_values():
    df = pd.DataFrame(
        {
            "consumer": ["a", "b"],
            "attrs": [{"spend": np.int64(5)}, {"spend": 7.5}],
            "crowds": [np.array(["x", "y"]), None],
            "exclusive": [np.bool_(True), False],
            "n": [np.nan, np.float64(2.0)],
            "t": [pd.Timestamp("2023-12-05T10:00:00+08:00"), pd.NaT],
        }
    )
    got = list(records(df))
    assert got == [
        {"consumer": "a", "attrs": {"spend": 5}, "crowds": ["x", "y"], "exclusive": True,
         "t": "2023-12-05T10:00:00+08:00"},
        {"consumer": "b", "attrs": {"spend": 7.5}, "exclusive": False, "n": 2.0},
    ]  # fmt: skip
    assert type(got[0]["attrs"]["spend"]) is int and type(got[0]["exclusive"]) is bool
    assert records([{"consumer": "a"}]) == [{"consumer": "a"}] and not is_frame([])


def test_parquet_structs_and_lists_plan_like_json_lines(tmp_path):
    """A Parquet file written from the test consumers plans the same sends as the dicts."""
    rows = [consumer(i) for i in range(60)]
    pd.DataFrame(rows).to_parquet(tmp_path / "a.parquet")
    back = pd.read_parquet(tmp_path / "a.parquet")
    with Planner(table(), tmp_path / "a.db") as a, Planner(table(), tmp_path / "b.db") as b:
        assert a.plan(records(back), NOW).sends == b.plan(rows, NOW).sends


@pytest.mark.parametrize(
    "cell",
    [dt.datetime(2023, 12, 5, 10), pd.Timestamp("2023-12-05"), object(), b"x"],
)
def test_cells_that_are_no_audience_value_are_k113(cell):
    df = pd.DataFrame({"consumer": ["a"], "x": [cell]})
    with pytest.raises(InputError) as exc:
        list(records(df))
    assert exc.value.code == "K113"


def test_nesting_is_bounded():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InputError) as exc:
        list(records(pd.DataFrame({"consumer": ["a"], "x": [deep]})))
    assert exc.value.code == "K113"
