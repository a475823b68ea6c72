"""scripts/check_duplicates.py (run by `make lint`): a verbatim copy longer than the limit
fails, whatever its indentation, comments and imports; a near-copy does not; rulec/ is
within the limit today."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_duplicates.py"

BLOCK = """\
def total(order):
    amount = order["price"] * order["count"]
    if order.get("coupon"):
        amount -= order["coupon"]["value"]
    amount = max(amount, 0)
    tax = round(amount * 0.06, 2)
    return amount + tax
"""
# The same seven lines: another indentation, a comment, a blank line, imports between.
COPY = """\
import os
from math import (
    floor,
)

class Till:
    def total(order):  # the same sum
        amount = order["price"] * order["count"]

        if order.get("coupon"):
            amount -= order["coupon"]["value"]
        # never below zero
        amount = max(amount, 0)
        tax = round(amount * 0.06, 2)
        return amount + tax
"""
# Its fifth line differs: the longest verbatim run is four lines, not seven.
NEAR = BLOCK.replace("amount = max(amount, 0)", "amount = max(amount, 1)")


def run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True
    )


def test_a_copy_is_found_through_indentation_comments_and_imports(tmp_path):
    (tmp_path / "a.py").write_text(BLOCK, encoding="utf-8")
    (tmp_path / "b.py").write_text(COPY, encoding="utf-8")
    r = run("--max", "6", tmp_path)
    assert r.returncode == 1, r
    assert f"7 lines: {tmp_path / 'a.py'}:1-7 = {tmp_path / 'b.py'}:7-15" in r.stdout
    assert "1 copied block(s) longer than 6 lines" in r.stderr
    assert run("--max", "7", tmp_path).returncode == 0


def test_a_near_copy_is_not_a_copy(tmp_path):
    (tmp_path / "a.py").write_text(BLOCK, encoding="utf-8")
    (tmp_path / "b.py").write_text(NEAR, encoding="utf-8")
    r = run("--max", "4", tmp_path)
    assert r.returncode == 0, r
    assert "longest copied block 4 lines (limit 4)" in r.stdout


def test_a_copy_within_one_file_is_found(tmp_path):
    (tmp_path / "a.py").write_text(
        BLOCK + "\n\n" + BLOCK.replace("total", "total2"), encoding="utf-8"
    )
    r = run("--max", "5", tmp_path)
    assert r.returncode == 1 and "6 lines:" in r.stdout, r


def test_rulec_is_within_the_limit():
    r = run(ROOT / "rulec")
    assert r.returncode == 0, r.stdout + r.stderr
