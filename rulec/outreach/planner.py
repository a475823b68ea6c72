"""The outreach planner (O1–O13): who gets which message when, exactly once, recorded in a ledger."""

from __future__ import annotations

import datetime as dt

from rulec.common import calendar as cal
from rulec.errors import InputError, TableError, diag
from rulec.outreach import audience as aud
from rulec.outreach import privileges as priv
from rulec.outreach.campaign import Campaign
from rulec.outreach.ledger import open_ledger
from rulec.outreach.ledger.base import FINISHED, MISSED, SKIPPED, STARTED, WHOLE
from rulec.outreach.ledger.rows import check_shards
from rulec.outreach.plan_run import Run
from rulec.outreach.plan_run import loop as plan_loop

BATCH = 2000
MAX_SHARDS = 100_000


def parse_shard(shard) -> tuple:
    """(I, N) from "I/N", (I, N) or None (1/1); E880 unless 1 <= I <= N <= MAX_SHARDS."""
    if shard is None:
        return WHOLE
    parts = shard.split("/") if isinstance(shard, str) else shard
    try:
        i, n = (int(p) if isinstance(p, str) and p.strip().isdigit() else p for p in parts)
    except (TypeError, ValueError):
        i = n = None
    if type(i) is not int or type(n) is not int or not 1 <= i <= n <= MAX_SHARDS:
        raise InputError(
            [
                diag(
                    "E880",
                    f"shard {shard!r}: write I/N with 1 <= I <= N <= {MAX_SHARDS:,} "
                    "(shard I of an audience split in N parts, O12s)",
                )
            ]
        )
    return i, n


def check_now(now) -> dt.datetime:
    """The planning moment: an ISO time (or datetime) with an offset that the calendar and
    the ledger can represent (O14); E820 / E882 otherwise."""
    try:
        now = cal.parse_time(now) if isinstance(now, str) else now
    except ValueError as exc:
        raise InputError([diag("E820", f"now: {exc}")]) from None
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise InputError([diag("E820", "now must be a time with a UTC offset")])
    try:
        cal.check_representable(now)
    except ValueError as exc:
        raise InputError([diag("E882", f"now: {exc} (O14)")]) from None
    return now


class PlanResult:
    """What one run did: `report` (the --report JSON), `sends` (dicts, when collected), `bad`."""

    def __init__(self, report, sends, bad):
        self.report, self.sends, self.bad = report, sends, bad


class Planner:
    """Plans a shop's campaigns against an audience at a moment `now`, recording in a ledger.

    `ledger`: a path, `sqlite:///…`, `memory:`, `redis://…` or a Ledger object;
    `volatile_ledger` accepts a Redis server without persistence (O14); `impl` picks the
    per-batch loop: "cython", "python" or None for the live one (plan_run.implementation)."""

    def __init__(
        self, table, ledger="memory:", batch_size: int = BATCH, volatile_ledger=False, impl=None
    ):
        self.table, self.body = table, table.body
        try:
            self.tz = cal.zone(self.body["timezone"])
        except ValueError as exc:
            raise TableError([diag("B706", str(exc))]) from None
        self.window = self.body["outreach"]["cap_window"]
        self.max_delay = self.body["outreach"]["max_delay"]
        if type(batch_size) is not int or batch_size < 1:
            raise InputError([diag("E883", f"batch_size {batch_size!r}: a whole number >= 1")])
        self.batch_size, self.impl = batch_size, plan_loop(impl)
        self.ledger = open_ledger(ledger, table.shop, volatile=volatile_ledger)
        # what S940 and the report call the ledger: its URL or path, or for a caller's own
        # Ledger object that has neither, its class
        self.ledger_name = (
            getattr(self.ledger, "url", None)
            or getattr(self.ledger, "path", None)
            or f"<{type(self.ledger).__name__}>"
        )

    def close(self):
        self.ledger.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the run ----------------------------------------------------------------------------
    def plan(
        self,
        audience,
        now,
        activities=None,
        out=None,
        on_send=None,
        keep_going=False,
        on_progress=None,
        shard=None,
        allow_empty=False,
    ) -> PlanResult:
        """Decide and record every send due at `now` (O12). `out` gets JSON Lines, `on_send`
        each send dict; with neither, sends are collected in the result. Bad lines raise
        InputError (E8xx) unless `keep_going`, then they are skipped and counted.
        `on_progress(bytes_read, bytes_total_or_None, consumers)` is called after each batch.
        `shard`: "I/N" or (I, N), the audience being shard I of N (O12s; default 1/1). An
        audience without a single consumer line is refused (E881) unless `allow_empty` (O14).
        Everything doubtful is refused before the ledger is touched (O14)."""
        now = check_now(now)
        shard = parse_shard(shard)
        camps = self._campaigns()
        acts = aud.read_activities(activities, self.tz) if activities is not None else []
        collected: list[dict] | None = [] if out is None and on_send is None else None
        src = aud.open_source(
            audience, self.batch_size
        )  # opened first: an unreadable audience opens no campaign
        try:
            if not allow_empty and src.empty():
                raise InputError(
                    [
                        diag(
                            "E881",
                            f"audience {src.name} has no consumer line: a run on it would "
                            "settle every due campaign with nobody reached (O14); pass "
                            "--allow-empty (allow_empty=True) if that is meant",
                        )
                    ]
                )
            states, wanted = self._wanted(camps, now, acts, shard)
            if hasattr(src, "require_columns"):  # a columnar audience: before any write (O14)
                src.require_columns(self._fields_read(camps, states, wanted))
            active, opened = self._open(camps, states, wanted, acts, shard)
            run = Run(self, active, out, on_send, collected, keep_going, src.name, self.impl)
            run.opened_now = opened
            if active:
                run.stream(src, on_progress)
            else:
                run.count(src)
        finally:
            src.close()
        self.ledger.finish_campaigns((c.name for c in active if c.state == STARTED), shard)
        return PlanResult(self._report(camps, now, run, shard), collected, run.bad)

    def _campaigns(self) -> list:
        out = []
        for i, c in enumerate(self.body["campaigns"]):
            try:
                out.append(Campaign(c, i, self.body, self.tz))
            except (ValueError, KeyError, TypeError, OverflowError) as exc:
                raise TableError(
                    [diag("B706", f"campaign {c.get('name')!r} cannot be planned: {exc}")]
                ) from None
        return out

    def _wanted(self, camps, now, acts, shard) -> tuple[dict, dict]:
        """O12, O12s, read only: the ledger's campaign states and {campaign: (status, reason,
        at)} of the due campaigns this run would open."""
        states = self.ledger.campaign_states(shard)
        wanted: dict[str, tuple] = {}  # campaign -> (status, reason, at) to open
        t_now = now.timestamp()
        due = [c for c in camps if c.at <= t_now]
        check_shards(
            self.ledger_name,
            {c.name: states[c.name].shards for c in due if c.name in states},
            shard[1],
        )  # before anything is opened: a shard of another split is refused whole
        for c in camps:
            if c.at > t_now:
                c.state = "not_due"
                continue
            if c.name in states and states[c.name].status is not None:
                continue
            if t_now - c.at > self.max_delay:
                wanted[c.name] = (MISSED, "missed", c.at)
                continue
            found = c.problems(self.body["facts"], self.tz)
            if found is None and c.kind == "super_discount":
                if not [a for a in acts if priv.activity_ok(a, c.send_at, self.tz)]:
                    found = (SKIPPED, "no_valid_activity")
            wanted[c.name] = found + (c.at,) if found else (STARTED, None, c.at)
        return states, wanted

    @staticmethod
    def _fields_read(camps, states, wanted) -> set:
        """Audience fields the campaigns this run will send read (the promo kinds, O6–O8)."""
        out: set[str] = set()
        for c in camps:
            st = wanted.get(c.name) or (c.name in states and (states[c.name].status,))
            if c.state != "not_due" and st and st[0] == STARTED and c.kind in aud.PROMO_FIELDS:
                out.update(("exclusive",) + aud.PROMO_FIELDS[c.kind])
        return out

    def _open(self, camps, states, wanted, acts, shard) -> tuple[list, set]:
        """O12, O12s: which due campaigns this shard's run decides; opens the new ones."""
        if wanted:
            states.update(self.ledger.open_campaigns(wanted, shard))
        active = []
        for c in camps:
            if c.state == "not_due":
                continue
            c.state, c.reason = states[c.name].status, states[c.name].reason
            if c.state == STARTED:
                c.resumed = c.name not in wanted
                c.set_activities([a["id"] for a in acts if priv.activity_ok(a, c.send_at, self.tz)])
                active.append(c)
        active.sort(key=lambda c: c.key)
        return active, set(wanted)

    def _report(self, camps, now, run, shard) -> dict:
        total_sends: dict[str, dict[str, int]] = {}
        total_skips: dict[str, int] = {}
        per: dict[str, dict] = {}
        states = self.ledger.campaign_states(shard)
        for c in camps:
            entry = {"kind": c.kind, "at": c.at_iso, "status": c.state}
            if c.state not in ("not_due", STARTED):
                entry["reason"] = getattr(c, "reason", None)
            if c.state == STARTED:
                entry["status"] = "resumed" if c.resumed else "sent"
            elif c.state == FINISHED or c.name not in run.opened_now and c.state != "not_due":
                entry["status"] = "done"  # finished or skipped by an earlier run (O12)
            fresh = c.state in (MISSED, SKIPPED) and c.name in run.opened_now
            if fresh:  # a campaign-level skip counts once per consumer of this run
                c.skips[c.reason] = c.skips.get(c.reason, 0) + run.consumers
            entry["sends"], entry["skips"] = dict(c.sends), dict(c.skips)
            st = states.get(c.name)
            if st is not None:  # O12s: the campaign as a whole is done when all N shards are
                entry["shards"], entry["shards_finished"] = st.shards, st.finished
            per[c.name] = entry
            if c.sends:
                total_sends[c.name] = dict(c.sends)
            for r, n in c.skips.items():
                total_skips[r] = total_skips.get(r, 0) + n
        return {
            "shop": self.table.shop,
            "now": cal.iso(now.astimezone(self.tz)),
            "shard": f"{shard[0]}/{shard[1]}",
            "consumers": run.consumers,
            "bad_lines": len(run.bad),
            "sends": total_sends,
            "skips": total_skips,
            "campaigns": per,
        }
