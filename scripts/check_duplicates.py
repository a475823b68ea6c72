#!/usr/bin/env python3
"""Fail when a block of source lines is copied verbatim somewhere else in the tree.

`make lint` runs it over rulec/. Lines are compared after normalizing: white space folded,
comments, blank lines, import lines and lines of lone punctuation (`)`, `],`) dropped. Two
places that share more than MAX_LINES such lines in a row are a copy; the limit is the
longest copy the tree held when the check came in, so no longer copy can land (lower it as
copies are folded into shared helpers). Near-copies (a line differs) are not reported: the
`duplicates` tool of the workplace finds those, this check needs only the standard library.

Usage: check_duplicates.py [--max N] [--show K] PATH...   (exit 0 ok, 1 a copy over N lines)
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tokenize
from collections import defaultdict
from pathlib import Path

# The longest verbatim copy in rulec/ when this check landed (measured by this script).
MAX_LINES = 7
WINDOW = 3  # lines hashed together to find candidate pairs
MAX_PLACES = 40  # a window seen in more places is boilerplate; not paired
SUFFIXES = (".py", ".pyx")
_IMPORT = re.compile(r"^(import\s|from\s+\S+\s+import\s|cimport\s)")
_PUNCT = re.compile(r"^[\s()\[\]{},:;]*$")


def _strip_comments(text: str) -> list[str]:
    """The file's lines with comments removed (tokenize knows a `#` inside a string)."""
    lines = text.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [re.sub(r"\s#.*$", "", line) if "#" in line else line for line in lines]
    for tok in reversed(tokens):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


def normalized(text: str) -> list[tuple[int, str]]:
    """(line number, normalized text) of the lines that count."""
    out = []
    in_import = False
    for n, raw in enumerate(_strip_comments(text), 1):
        line = " ".join(raw.split())
        if in_import:
            in_import = ")" not in line
            continue
        if _IMPORT.match(line):
            in_import = line.endswith("(")
            continue
        if not line or _PUNCT.match(line):
            continue
        out.append((n, line))
    return out


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        else:
            found.extend(f for f in sorted(p.rglob("*")) if f.suffix in SUFFIXES and f.is_file())
    return found


def copies(paths: list[str]) -> list[tuple[int, str, int, int, str, int, int]]:
    """Maximal verbatim runs shared by two places: (lines, file A, first, last, file B,
    first, last), longest first."""
    docs = [(str(f), normalized(f.read_text(encoding="utf-8"))) for f in _files(paths)]
    places: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for d, (_, lines) in enumerate(docs):
        texts = [t for _, t in lines]
        for i in range(len(texts) - WINDOW + 1):
            places[tuple(texts[i : i + WINDOW])].append((d, i))
    runs = []
    for spots in places.values():
        if len(spots) < 2 or len(spots) > MAX_PLACES:
            continue
        for a in range(len(spots)):
            for b in range(a + 1, len(spots)):
                run = _extend(docs, spots[a], spots[b])
                if run:
                    runs.append(run)
    return sorted(runs, key=lambda r: (-r[0], r[1:]))


def _extend(docs, p, q):
    """The run starting at places p and q, when it starts there (not a tail of a longer
    run) and the two sides do not overlap."""
    (da, i), (db, j) = p, q
    a, b = docs[da][1], docs[db][1]
    if i > 0 and j > 0 and a[i - 1][1] == b[j - 1][1]:
        return None  # found from the run's true start
    n = 0
    while i + n < len(a) and j + n < len(b) and a[i + n][1] == b[j + n][1]:
        if da == db and i + n >= j:
            break  # the second place starts inside the first
        n += 1
    if n < WINDOW:
        return None
    return (n, docs[da][0], a[i][0], a[i + n - 1][0], docs[db][0], b[j][0], b[j + n - 1][0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--max", type=int, default=MAX_LINES, help="longest copy allowed (lines)")
    ap.add_argument("--show", type=int, default=5, help="how many of the longest to list")
    ns = ap.parse_args(argv)
    runs = copies(ns.paths)
    longest = runs[0][0] if runs else 0
    over = [r for r in runs if r[0] > ns.max]
    for n, fa, a1, a2, fb, b1, b2 in (over or runs)[: max(ns.show, len(over))]:
        print(f"{n} lines: {fa}:{a1}-{a2} = {fb}:{b1}-{b2}")
    if over:
        print(
            f"check_duplicates: {len(over)} copied block(s) longer than {ns.max} lines: "
            "move the shared lines into one helper",
            file=sys.stderr,
        )
        return 1
    print(f"check_duplicates: longest copied block {longest} lines (limit {ns.max})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
