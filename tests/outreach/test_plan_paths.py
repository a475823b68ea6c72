"""The planner's fast paths change nothing (issue 15): the benchmark's shop on a seeded audience
(repeated consumers, a bad line skipped, two runs on one ledger: capped, green_taken,
already_sent) gives the very bytes the code before them gave, whichever path decodes and reads
the lines: msgspec or the standard json module, a file read in chunks or lines one by one."""

import hashlib
import io
import json
import pathlib
import re

import pytest
from outreach_helpers import bench_planner_module, ledger_dump

from rulec.outreach import audience, plan_run
from rulec.outreach.planner import Planner

# sha256 of run_workload()'s text, made by the code before the fast paths (main at 337bcc1:
# `PYTHONPATH=/tmp/pp-old python -c "…print(run_workload(tmp))"`, see RESULTS-planner.md)
OLD_DIGEST = "c27396085631eff0e8a87ac7e789a241b341f17946b3e6618e850e0e37722a32"


def workload(tmp) -> list:
    """The seeded audience lines: 4,000 consumers, every ninth line repeated later, a blank
    line and one bad line (skipped with keep_going)."""
    bp = bench_planner_module()
    path = pathlib.Path(tmp) / "w.jsonl"
    bp.write_audience(path, 4000, seed=5)
    lines = path.read_bytes().splitlines(keepends=True)
    lines += lines[::9]
    lines.insert(1234, b"\n")
    lines.insert(2345, b'{"consumer": 5}\n')
    return lines


def run_workload(tmp, audience_of=None, impl=None, ledger=None) -> str:
    """Two runs on one ledger (the second three hours later): stdout, reports and the ledger,
    as one text. `audience_of(lines)` gives what plan() is handed (default: a file); `impl`
    the planner's loop (None: the live one); `ledger` a URL (default: a SQLite file)."""
    bp = bench_planner_module()
    lines = workload(tmp)
    path = pathlib.Path(tmp) / "a.jsonl"
    path.write_bytes(b"".join(lines))
    texts = []
    with Planner(bp.table(), ledger or str(pathlib.Path(tmp) / "l.db"), 700, impl=impl) as p:
        for now in (bp.NOW, "2023-12-12T23:00:00+08:00"):
            out = io.StringIO()
            aud = str(path) if audience_of is None else audience_of(lines)
            r = p.plan(aud, now, activities=bp.ACTIVITIES, out=out, keep_going=True)
            texts += [out.getvalue(), json.dumps(r.report, sort_keys=True, ensure_ascii=False)]
            texts += [_diagnostic(d) for d in r.bad]
        dump = _redis_rows(p.ledger) if ledger else ledger_dump(pathlib.Path(tmp) / "l.db")
    texts.append(json.dumps(dump, ensure_ascii=False))
    return "\n".join(texts)


def _redis_rows(ledger) -> list:
    """A Redis ledger's packed rows (consumer, sends text), in consumer order."""
    import redis

    client = redis.Redis.from_url(ledger.url, decode_responses=True)
    return sorted(client.hgetall(ledger.k_sends).items())


def _diagnostic(d) -> str:
    """Code, line and message, without the file's name (a temporary path, or <audience>)."""
    if d.span is not None:
        return f"{d.code} {d.span.line} {d.message}"
    return f"{d.code} " + re.sub(r"^.*?:(\d+): ", r"\1 ", d.message)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Issue 9's code registry renumbered the audience codes after OLD_DIGEST was made: the bad
# line's missing consumer was E803 then and is E806 now (docs/diagnostics.md).
RENUMBERED = {"E806": "E803"}


def _as_before(text: str) -> str:
    """`text` with each diagnostic line's code as the code before numbered it."""
    return "\n".join(
        RENUMBERED[ln[:4]] + ln[4:] if ln[:4] in RENUMBERED and ln[4:5] == " " else ln
        for ln in text.split("\n")
    )


def test_same_bytes_as_the_code_before(tmp_path):
    text = run_workload(tmp_path)
    assert text.count('"campaign"') > 10_000  # a real workload, sends of every kind
    assert "\nE806 2346 audience line needs `consumer`" in text
    assert _digest(_as_before(text)) == OLD_DIGEST


IMPLS = ["python"] + (["cython"] if plan_run._plan is not None else [])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("decoder", ["standard", "msgspec"])
@pytest.mark.parametrize("reading", ["file", "lines", "dicts"])
def test_every_path_gives_the_same_bytes(tmp_path, monkeypatch, decoder, reading, impl):
    if decoder == "standard":
        monkeypatch.setattr(audience, "_decode_batch", lambda b: audience._decode(b.decode()))
    else:
        msgspec = pytest.importorskip("msgspec")
        monkeypatch.setattr(audience, "_decode_batch", msgspec.json.Decoder().decode)
    of = {
        "file": None,
        "lines": lambda lines: iter(lines),  # not a file: looked at line by line
        "dicts": None,
    }[reading]
    if reading == "dicts":  # already decoded (the bad line stays text, to be refused)
        of = lambda lines: [
            json.loads(x) if x.strip() and b'{"consumer": 5}' not in x else x for x in lines
        ]
    assert _digest(_as_before(run_workload(tmp_path, of, impl))) == OLD_DIGEST
