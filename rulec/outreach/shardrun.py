"""One shard of a distributed run (O12s): plan a partition, write its sends exactly once per file.

`plan_shard` is the per-partition entry point shared by Dask (rulec.outreach.distributed)
and Spark (docs/distributed.md). It plans one partition as shard I of N against a shared
ledger and writes the partition's sends to `OUT/part-IIIII-of-NNNNN.jsonl`:

- each attempt appends to a journal of its own (`….jsonl.attempt-UUID`) as the planner
  prints, i.e. before each batch is recorded (the ledger contract, O13);
- an attempt that completes finds the journals of attempts that died before it (a lost
  worker that Dask or Spark retried), keeps their lines whose (campaign, consumer) the
  ledger holds, adds its own, drops repeats, and renames the result to the final file;
- a partition report (`….report.json`) written last marks the partition done: running the
  same shard again reuses it instead of planning an empty remainder over the file.

So the final file holds every send the ledger recorded for the partition, once, even when
workers died mid-partition. Without an out-dir, `sink(shard, lines)` gets each batch's JSON
Lines as printed (at least once: the batch in flight at a worker's death may come again;
(campaign, consumer) is the key, O13).
"""

from __future__ import annotations

import glob
import json
import os
import uuid

from rulec.errors import RulecError, StoreError, diag
from rulec.outreach import frames
from rulec.outreach.planner import BATCH, Planner, check_now, parse_shard
from rulec.table.format import Table

_TABLES: dict = {}  # the worker's table, built once per process (its matcher is the cost)


def part_name(shard: tuple) -> str:
    return f"part-{shard[0]:05d}-of-{shard[1]:05d}"


def _table(table):
    """A Table from a Table or a body dict (what a task receives: plain data, not objects)."""
    if isinstance(table, Table):
        return table
    key = json.dumps(table, sort_keys=True)
    got = _TABLES.get(key)
    if got is None:
        _TABLES.clear()
        got = _TABLES[key] = Table(table)
    return got


def _io_error(what: str, path: str, exc: OSError) -> StoreError:
    return StoreError(
        [diag("S946", f"cannot {what} {path}: {exc.strerror or exc} (partition output)")]
    )


class _SinkOut:
    """A file-like `out` for the planner that hands each printed batch to `sink`."""

    def __init__(self, sink, shard):
        self.sink, self.shard = sink, shard

    def write(self, text):
        if text:
            self.sink(self.shard, text.splitlines())

    def flush(self):
        pass


def plan_shard(
    items,
    shard,
    table,
    ledger,
    now,
    out_dir=None,
    sink=None,
    activities=None,
    batch_size: int = BATCH,
    keep_going: bool = False,
    allow_empty: bool = False,
    volatile_ledger: bool = False,
) -> dict:
    """Plan partition `items` as shard `shard` ("I/N" or (I, N)) of a run at `now` (O12s).

    `items`: a JSON Lines file path, an iterable of lines or dicts, or a pandas DataFrame.
    `table`: a Table or its body dict. `ledger`: a URL every worker reaches (redis://…; a
    SQLite file only when every worker is on one machine). Sends go to `out_dir` (exactly
    once per final file, see the module docstring) or to `sink(shard, lines)`. Returns the
    planner's report with `file` (the final file), `sends_total`, `recovered` (journal lines
    kept from dead attempts) and `reused` (True when the partition was already done).
    Raises RulecError with the planner's codes, S946 when the out-dir cannot be written."""
    shard = parse_shard(shard)
    if (out_dir is None) == (sink is None):
        raise RulecError([diag("K109", "give exactly one of out_dir and sink")])
    if out_dir is None:
        with Planner(_table(table), ledger, batch_size, volatile_ledger) as planner:
            result = _plan(planner, items, now, _SinkOut(sink, shard), shard, activities,
                           keep_going, allow_empty)  # fmt: skip
        report = result.report
        report["sends_total"] = sum(sum(ch.values()) for ch in report["sends"].values())
        return report
    base = os.path.join(os.fspath(out_dir), part_name(shard))
    run_id = _run_id(table, now, shard)
    done = _read_report(base + ".report.json")
    if done is not None:
        if done.get("run") != run_id:
            raise RulecError(
                [
                    diag(
                        "K106",
                        f"{base}.report.json is shard {done.get('shard')} of another run "
                        f"(shop {done.get('shop')!r}, now {done.get('now')!r}): give each "
                        "run an out-dir of its own",
                    )
                ]
            )
        done["reused"] = True
        return done
    mine = f"{base}.jsonl.attempt-{uuid.uuid4().hex}"
    with Planner(_table(table), ledger, batch_size, volatile_ledger) as planner:
        try:
            journal = open(mine, "w", encoding="utf-8")
        except OSError as exc:
            raise _io_error("write", mine, exc) from None
        with journal:  # on failure it stays: the next attempt keeps its recorded lines
            result = _plan(planner, items, now, journal, shard, activities, keep_going,
                           allow_empty)  # fmt: skip
        report = result.report
        report["recovered"], total = _finish(planner.ledger, base, mine, batch_size)
    report.update(file=base + ".jsonl", sends_total=total, reused=False, run=run_id)
    if report["recovered"]:  # the counts of what the file holds, not only of this attempt
        report["sends"] = _count(base + ".jsonl")
    _write_json(base + ".report.json", report)
    return report


def run_shard(items, shard: tuple, spec: dict) -> dict:
    """plan_shard for an engine's task: a RulecError comes back as data ({"errors": [...],
    "shard": "I/N"}), since it does not pickle and one failed shard must not hide others."""
    try:
        return plan_shard(items, shard, **spec)
    except RulecError as exc:
        return {"errors": [d.as_json() for d in exc.diagnostics], "shard": f"{shard[0]}/{shard[1]}"}


def _run_id(table, now, shard) -> str:
    """What makes a partition report this run's: shop, planning moment and shard."""
    shop = table.shop if isinstance(table, Table) else table["shop"]
    return f"{shop}|{check_now(now).timestamp()!r}|{shard[0]}/{shard[1]}"


def _plan(planner, items, now, out, shard, activities, keep_going, allow_empty):
    return planner.plan(
        frames.records(items),
        now,
        activities=activities,
        out=out,
        keep_going=keep_going,
        shard=shard,
        allow_empty=allow_empty,
    )


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _read_report(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a torn report: the partition is planned again (nothing owed is lost)


def _write_json(path, doc):
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise _io_error("write", path, exc) from None


def _lines(path):
    """(key, line) of each whole JSON line of a journal; a torn last line is dropped (its
    batch was being printed when the worker died, so it was not recorded)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                d = json.loads(line)
                yield (d["campaign"], d["consumer"]), line
            except (ValueError, KeyError, TypeError):
                continue


def _recorded(ledger, keys, batch_size) -> set:
    """The (campaign, consumer) of `keys` that the ledger holds: read through the ledger's
    own atomic step with nothing to record, so it sees what any planner committed."""
    consumers = sorted({c for _n, c in keys})
    held = set()
    for i in range(0, len(consumers), batch_size):

        def look(history):
            for cid, entries in history.items():
                held.update((name, cid) for name, _ch, _at in entries)
            return []

        ledger.decide_and_record(consumers[i : i + batch_size], look)
    return held


def _finish(ledger, base, mine, batch_size) -> tuple:
    """The final file from the dead attempts' journals (lines the ledger recorded) and this
    attempt's; returns (lines recovered, sends in the file)."""
    final = base + ".jsonl"
    dead = [p for p in sorted(glob.glob(glob.escape(base) + ".jsonl.attempt-*")) if p != mine]
    # an attempt that died between renaming its file and writing its report left a final
    # file whose sends this attempt will not print again: it is read like a journal
    earlier = [final] if os.path.exists(final) else []
    try:
        if not dead and not earlier:
            with open(mine, "rb") as fh:
                total = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            os.replace(mine, final)
            return 0, total
        old = [kl for p in earlier + dead for kl in _lines(p)]
        held = _recorded(ledger, {k for k, _l in old}, batch_size)
        seen, recovered = set(), 0
        tmp = f"{final}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as out:
            for k, line in old:
                if k in held and k not in seen:
                    seen.add(k)
                    recovered += 1
                    out.write(line)
            for k, line in _lines(mine):
                if k not in seen:
                    seen.add(k)
                    out.write(line)
        os.replace(tmp, final)
    except OSError as exc:
        raise _io_error("write", final, exc) from None
    for p in dead + [mine]:
        _remove(p)
    return recovered, len(seen)


def _count(path) -> dict:
    """{campaign: {channel: n}} of a final file."""
    out: dict = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            ch = out.setdefault(d["campaign"], {})
            ch[d["channel"]] = ch.get(d["channel"], 0) + 1
    return out
