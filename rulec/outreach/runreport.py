"""A distributed run's checks before it starts and its report after (O12s, O14): one run of N shards."""

from __future__ import annotations

import json
import os

from rulec.errors import RulecError, Span, diag
from rulec.outreach import audience as aud
from rulec.outreach.ledger import Ledger
from rulec.outreach.planner import MAX_SHARDS, Planner
from rulec.table.format import Table

MANIFEST = "run.json"


def _fail(code, message) -> RulecError:
    return RulecError([diag(code, message)])


def is_sqlite(ledger) -> bool:
    return isinstance(ledger, (str, os.PathLike)) and not os.fspath(ledger).startswith(
        ("redis://", "rediss://", "unix://")
    )


def worker_ledger(ledger, local: bool):
    """The ledger as the workers must name it: a URL they all reach (K104 otherwise); a SQLite
    path made absolute (a worker's working directory may differ)."""
    if isinstance(ledger, Ledger) or not isinstance(ledger, (str, os.PathLike)):
        raise _fail(
            "K104",
            "a distributed run needs the ledger as a URL every worker opens (redis://…), "
            f"not a {type(ledger).__name__} object",
        )
    text = os.fspath(ledger)
    if text in ("memory:", ":memory:"):
        raise _fail(
            "K104",
            "a memory: ledger lives in one process: each worker would have its own and "
            "exactly-once (O13) would not hold across shards; use redis://…",
        )
    if not is_sqlite(text):
        return text
    if not local:
        raise _fail(
            "K104",
            f"ledger {text}: a SQLite file is shared only by processes of one machine, and "
            "this scheduler has workers elsewhere; use a Redis ledger (redis://…)",
        )
    path = text[len("sqlite://") :] if text.startswith("sqlite://") else text
    if path.startswith("//"):  # sqlite:///abs/path
        path = path[1:]
    return os.path.abspath(path)


def read_activities(activities, table):
    """The activity rows as plain JSON text, checked here once (E81x) and shipped to the
    workers with the task (their file systems need not hold the file)."""
    if activities is None:
        return None
    from rulec.common import calendar as cal

    aud.read_activities(activities, cal.zone(table.body["timezone"]))  # E81x, naming the file
    if isinstance(activities, (str, os.PathLike)):
        with open(activities, encoding="utf-8") as fh:  # read just now: it opens
            return [line for line in fh if line.strip()]
    return [r if isinstance(r, str) else json.dumps(r) for r in activities]


def precheck(table, ledger, now, n, out_dir, volatile) -> None:
    """O12s, O14 before any task runs: the ledger opens (reachable, persistent, this shop's)
    and has planned no due campaign in another number of shards (K103); the out-dir is this
    run's (K106)."""
    with Planner(table, ledger, volatile_ledger=volatile) as p:
        states = p.ledger.campaign_states((1, n))
        t = now.timestamp()
        for c in p._campaigns():
            st = states.get(c.name)
            if c.at <= t and st is not None and st.shards != n:
                raise _fail(
                    "K103",
                    f"ledger {p.ledger_name}: campaign {c.name!r} is planned in {st.shards} "
                    f"shard{'s' * (st.shards != 1)} and this audience has {n} partitions; "
                    f"every run of a campaign needs the same split (O12s): repartition to "
                    f"{st.shards} (e.g. ddf.repartition(npartitions={st.shards})) or use "
                    "another ledger",
                )
    _manifest(out_dir, {"shop": table.shop, "now": now.isoformat(), "shards": n})


def prepare(table, ledger, now, n, out_dir, local, activities=None, volatile_ledger=False, **opts):
    """Everything a run checks before its tasks start, and the `spec` each task gets:
    (table, ledger as the workers name it, spec). `opts`: plan_shard's batch_size,
    keep_going, allow_empty."""
    if not 1 <= n <= MAX_SHARDS:
        raise _fail("K112", f"the audience has {n} partitions: 1 to {MAX_SHARDS:,} can be planned")
    table = table if isinstance(table, Table) else Table(table)
    ledger = worker_ledger(ledger, local)
    out_dir = os.path.abspath(out_dir)
    acts = read_activities(activities, table)
    precheck(table, ledger, now, n, out_dir, volatile_ledger)
    spec = dict(table=table.body, ledger=ledger, now=now.isoformat(), out_dir=out_dir,
                activities=acts, volatile_ledger=volatile_ledger, **opts)  # fmt: skip
    return table, ledger, spec


def split(replies, source_of) -> list:
    """The shard reports of `replies`; RulecError with every failed shard's diagnostics."""
    results, errors = [], []
    for i, r in enumerate(replies):
        if "errors" in r:
            errors.extend(relay(r, source_of(i)))
        else:
            results.append(r)
    if errors:
        raise RulecError(errors)
    return results


def _manifest(out_dir, doc) -> None:
    path = os.path.join(out_dir, MANIFEST)
    doc = dict(doc, format="rulec-distributed-run")
    try:
        os.makedirs(out_dir, exist_ok=True)
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
        except FileNotFoundError:
            old = None
        except ValueError:
            old = {}
        if old is not None and old != doc:
            raise _fail(
                "K106",
                f"out-dir {out_dir} holds another run ({json.dumps(old, sort_keys=True)[:200]}); "
                "give each run an out-dir of its own (the same run again completes in place)",
            )
        if old is None:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, sort_keys=True)
                fh.write("\n")
    except OSError as exc:
        raise _fail("S946", f"cannot write the out-dir {out_dir}: {exc.strerror or exc}") from None


def relay(result, source) -> list:
    """A failed shard's diagnostics, each naming the shard (and its file when it has one)."""
    out = []
    where = f" ({source})" if isinstance(source, (str, os.PathLike)) else ""
    for d in result["errors"]:
        span = (
            Span(d["file"], d["line"], d["col"] or 1) if d.get("file") and d.get("line") else None
        )
        msg = f"shard {result['shard']}{where}: {d['message']}"
        out.append(diag(d["code"], msg, span, d["severity"], tuple(d["hints"])))
    return out


def _add(into: dict, more: dict) -> None:
    for k, v in more.items():
        if isinstance(v, dict):
            _add(into.setdefault(k, {}), v)
        else:
            into[k] = into.get(k, 0) + v


def aggregate(table, ledger, now, results, volatile) -> dict:
    """One report for the run: totals over the shards, each campaign's state as a whole (the
    ledger's count of finished shards, read after the last one) and a line per partition."""
    n = len(results)
    with Planner(table, ledger, volatile_ledger=volatile) as p:
        states = p.ledger.campaign_states((1, n))
    report = {
        "shop": table.shop,
        "now": results[0]["now"] if results else now.isoformat(),
        "shards": n,
        "consumers": sum(r["consumers"] for r in results),
        "bad_lines": sum(r["bad_lines"] for r in results),
        "sends_total": sum(r["sends_total"] for r in results),
        "sends": {},
        "skips": {},
        "campaigns": {},
        "partitions": [],
    }
    for r in sorted(results, key=lambda r: int(r["shard"].split("/")[0])):
        _add(report["sends"], r["sends"])
        _add(report["skips"], r["skips"])
        report["partitions"].append(
            {k: r.get(k) for k in ("shard", "consumers", "sends_total", "file", "recovered")}
            | {"reused": r.get("reused", False)}
        )
        for name, e in r["campaigns"].items():
            c = report["campaigns"].setdefault(
                name, {"kind": e["kind"], "at": e["at"], "sends": {}, "skips": {}, "seen": set()}
            )
            _add(c["sends"], e["sends"])
            _add(c["skips"], e["skips"])
            c["seen"].add(e["status"])
            if e.get("reason"):
                c["reason"] = e["reason"]
    for name, c in report["campaigns"].items():
        seen = c.pop("seen")
        st = states.get(name)
        if st is not None:
            c["shards"], c["shards_finished"] = st.shards, st.finished
        if st is not None and st.finished == st.shards:
            c["status"] = "finished"  # O12s: every shard finished it
        else:
            c["status"] = seen.pop() if len(seen) == 1 else "mixed"
    return report
