"""Audiences split into partition files, and reading a run's partition files back."""

import collections
import json
import os

from outreach_helpers import consumer


def write_parts(where, n_parts: int, n: int) -> list:
    """n consumers dealt round-robin into n_parts JSON Lines files (disjoint shards)."""
    os.makedirs(where, exist_ok=True)
    paths = [os.path.join(where, f"p{k:02d}.jsonl") for k in range(n_parts)]
    for k, path in enumerate(paths):
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(k, n, n_parts):
                fh.write(json.dumps(consumer(i)) + "\n")
    return paths


def union(paths) -> list:
    return [json.loads(line) for p in paths for line in open(p, encoding="utf-8")]


def sends_of(report) -> collections.Counter:
    """Every send line of a run's partition files, as a multiset of canonical JSON."""
    return collections.Counter(
        json.dumps(json.loads(line), sort_keys=True)
        for part in report["partitions"]
        for line in open(part["file"], encoding="utf-8")
    )


def single_run(table, audience, ledger, now) -> collections.Counter:
    """The sends of one single-process run over the whole audience."""
    from rulec.outreach.planner import Planner

    with Planner(table, ledger) as p:
        return collections.Counter(
            json.dumps(s, sort_keys=True) for s in p.plan(audience, now).sends
        )
