"""O14: a ledger that cannot be trusted is refused with its code, never silently recreated."""

import sqlite3

import pytest

from rulec.errors import StoreError
from rulec.outreach.ledger.sqlite_ledger import SqliteLedger


def _refusal(path):
    with pytest.raises(StoreError) as exc:
        SqliteLedger(str(path), "s").close()
    return exc.value


def test_a_ledger_with_a_table_dropped_is_damaged(tmp_path):
    path = tmp_path / "l.db"
    SqliteLedger(str(path), "s").close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE consumers")
    db.commit()
    db.close()
    err = _refusal(path)
    assert err.code == "S941" and "`consumers`" in str(err)


def test_a_directory_is_not_a_ledger(tmp_path):
    (tmp_path / "l.db").mkdir()
    err = _refusal(tmp_path / "l.db")
    assert err.code == "S941" and "not a regular file" in str(err)
