"""Which files the CI commands read: paths, folders (recursively, by extension) and `-` (stdin)."""

from __future__ import annotations

import os
import re
import sys

import attrs

RULES_EXTS = (".rules", ".yaml", ".yml", ".json")
STDIN = "-"
# A YAML or JSON file found in a folder is rules only when it says so at its top level (a
# folder may hold other YAML/JSON: events, state, CI configuration).
_LOOKS_LIKE_RULES = re.compile(r'^(?:shop|tests)\s*:|^\s*\{?\s*"(?:shop|tests)"\s*:', re.M)
SNIFF = 64 * 1024


@attrs.define
class Source:
    """One input: its name (a path, or `<stdin>`) and, once read, its bytes."""

    name: str
    data: bytes | None = None
    error: str | None = None  # why it could not be read

    @property
    def is_stdin(self) -> bool:
        return self.data is not None and self.name.startswith("<stdin")


def _wanted(path: str) -> bool:
    low = path.lower()
    if low.endswith(".rules"):
        return True
    if not low.endswith(RULES_EXTS):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF).decode("utf-8", "replace")
    except OSError:
        return False
    return bool(_LOOKS_LIKE_RULES.search(head))


def expand(paths, stdin_name: str = "<stdin>.rules", stdin=None) -> tuple:
    """(sources, missing): the files named, the rules files under the folders named (sorted,
    hidden folders skipped) and stdin for `-`; `missing` lists paths that do not exist."""
    out, missing, seen = [], [], set()
    for p in paths:
        if p == STDIN:
            data = (stdin or sys.stdin.buffer).read()
            out.append(Source(stdin_name, data))
            continue
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in files if _wanted(os.path.join(root, f))]
            items = sorted(found)
        elif os.path.exists(p):
            items = [p]
        else:
            missing.append(p)
            continue
        for f in items:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                out.append(Source(f))
    return out, missing


def read(source: Source) -> Source:
    """Fill in `data` (or `error`)."""
    if source.data is None and source.error is None:
        try:
            with open(source.name, "rb") as fh:
                source.data = fh.read()
        except OSError as exc:
            source.error = exc.strerror or str(exc)
    return source
