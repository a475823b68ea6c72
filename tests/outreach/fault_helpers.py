"""Fault injection for `rulec plan` (O12s, O13, O14): planner processes killed with SIGKILL in
loops, sharded or not, two per shard; every output kept and counted against the clauses.

`KillLoop(...).run()` returns the counts the fault suites assert: duplicated (campaign,
consumer) records in the ledger, owed sends never printed, tracebacks, and the consumers
printed twice (at most one batch in flight per kill)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

from outreach_helpers import NOW, RULES, consumer, expected

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_shards(d, n: int, shards: int) -> list:
    """Audience files for shards 1..N: consumer i in shard i % N + 1 (disjoint)."""
    paths = []
    for k in range(shards):
        p = os.path.join(d, f"aud-{k + 1}-of-{shards}.jsonl")
        with open(p, "w", encoding="utf-8") as fh:
            for i in range(k, n, shards):
                fh.write(json.dumps(consumer(i)) + "\n")
        paths.append(p)
    return paths


def plan_cmd(shop, aud, ledger, batch, shard=None, extra=()) -> list:
    cmd = [sys.executable, "-m", "rulec", "plan", str(shop), "--audience", str(aud)]
    cmd += ["--ledger", str(ledger), "--now", NOW, "--batch", str(batch), *extra]
    return cmd + (["--shard", shard] if shard else [])


def printed_keys(text: str) -> list:
    out = []
    for line in text.splitlines():
        try:
            s = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the kill
            continue
        out.append((s["campaign"], s["consumer"]))
    return out


class KillLoop:
    """`per_shard` planners per shard run at once on one ledger; `kills` times, a random
    running planner is SIGKILLed after it printed a little, and started again; at the end
    every shard is planned to completion. `on_kill(k)` may inject more faults (restart
    Redis)."""

    def __init__(
        self,
        d,
        n,
        ledger,
        read_ledger,
        shards=1,
        per_shard=2,
        batch=200,
        kills=3,
        seed=1,
        extra=(),
        on_kill=None,
    ):
        self.d, self.n, self.ledger, self.read_ledger = str(d), n, ledger, read_ledger
        self.shards, self.per_shard, self.batch, self.kills = shards, per_shard, batch, kills
        self.rnd, self.extra, self.on_kill = random.Random(seed), tuple(extra), on_kill
        self.shop = os.path.join(self.d, "shop.yaml")
        with open(self.shop, "w", encoding="utf-8") as fh:
            json.dump(RULES, fh, ensure_ascii=False)
        self.auds = write_shards(self.d, n, shards)
        self.outputs, self.errors, self.codes, self.count = [], [], [], 0

    def _start(self, k):
        """Planner for shard k (0-based): (k, process, its stdout path)."""
        self.count += 1
        out = os.path.join(self.d, f"out-{self.count}.jsonl")
        err = os.path.join(self.d, f"err-{self.count}.txt")
        shard = f"{k + 1}/{self.shards}" if self.shards > 1 else None
        cmd = plan_cmd(self.shop, self.auds[k], self.ledger, self.batch, shard, self.extra)
        with open(out, "wb") as o, open(err, "wb") as e:
            p = subprocess.Popen(cmd, stdout=o, stderr=e, cwd=ROOT)
        self.outputs.append(out)
        self.errors.append(err)
        return k, p, out

    def _wait_for_output(self, p, path, least):
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            if os.path.getsize(path) >= least:
                return
            time.sleep(0.005)

    def run(self) -> dict:
        procs = [self._start(k) for k in range(self.shards) for _ in range(self.per_shard)]
        killed = 0
        for j in range(self.kills):
            i = self.rnd.randrange(len(procs))
            k, p, out = procs[i]
            self._wait_for_output(p, out, self.rnd.randrange(1, 30_000))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                killed += 1
            p.wait()
            self.codes.append(p.returncode)
            if self.on_kill is not None:
                self.on_kill(j)
            procs[i] = self._start(k)
        for _k, p, _out in procs:
            p.wait(timeout=600)
            self.codes.append(p.returncode)
        for k in range(self.shards):  # a last run per shard completes whatever a fault left
            _k, last, _out = self._start(k)
            last.wait(timeout=600)
            self.codes.append(last.returncode)
            assert last.returncode == 0, self._text(self.errors[-1])[-2000:]
        return self._counts(killed)

    @staticmethod
    def _text(path):
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def _counts(self, killed) -> dict:
        printed = []
        for path in self.outputs:
            printed += printed_keys(self._text(path))
        want = expected(self.n)
        records = self.read_ledger()
        seen, again = set(), set()
        for key in printed:
            if key in seen:
                again.add(key[1])
            seen.add(key)
        return {
            "duplicated_records": len(records) - len(set(records)),
            "wrong_records": len(set(records) ^ want),
            "owed_missing": len(want - seen),
            "not_owed_printed": len(seen - want),
            "tracebacks": sum("Traceback" in self._text(e) for e in self.errors),
            "consumers_printed_again": len(again),
            "kills": killed,
            "exit_codes": sorted(set(self.codes)),
            # what the planners that failed said (so an unexpected exit names its code)
            "error_codes": sorted(
                {c for e in self.errors for c in re.findall(r"error\[(\w+)\]", self._text(e))}
            ),
        }


def check_counts(counts: dict, batch: int, codes=(0, -9)) -> None:
    """The fault suites' verdict: 0 duplicated records, 0 owed sends missing, 0 tracebacks,
    at most one batch printed again per kill (O13), only the expected exit codes."""
    assert counts["duplicated_records"] == 0, counts
    assert counts["wrong_records"] == 0, counts
    assert counts["owed_missing"] == 0, counts
    assert counts["not_owed_printed"] == 0, counts
    assert counts["tracebacks"] == 0, counts
    assert counts["consumers_printed_again"] <= max(1, counts["kills"]) * batch, counts
    assert set(counts["exit_codes"]) <= set(codes), counts
