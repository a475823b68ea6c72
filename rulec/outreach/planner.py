"""The outreach planner (O1–O13): who gets which message when, exactly once, recorded in a ledger."""

from __future__ import annotations

import collections
import datetime as dt
import operator

from rulec.common import calendar as cal
from rulec.errors import Diagnostic, InputError, TableError
from rulec.outreach import audience as aud
from rulec.outreach import privileges as priv
from rulec.outreach.campaign import Campaign, json_str, json_text
from rulec.outreach.ledger import open_ledger
from rulec.outreach.ledger.base import FINISHED, MISSED, SKIPPED, STARTED, WHOLE
from rulec.outreach.ledger.rows import check_shards

BATCH = 2000
_FIRST = operator.itemgetter(0)
_EMPTY: dict = {}
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
                Diagnostic(
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
        raise InputError([Diagnostic("E820", f"now: {exc}")]) from None
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise InputError([Diagnostic("E820", "now must be a time with a UTC offset")])
    try:
        cal.check_representable(now)
    except ValueError as exc:
        raise InputError([Diagnostic("E882", f"now: {exc} (O14)")]) from None
    return now


class PlanResult:
    """What one run did: `report` (the --report JSON), `sends` (dicts, when collected), `bad`."""

    def __init__(self, report, sends, bad):
        self.report, self.sends, self.bad = report, sends, bad


class Planner:
    """Plans a shop's campaigns against an audience at a moment `now`, recording in a ledger.

    `ledger`: a path, `sqlite:///…`, `memory:`, `redis://…` or a Ledger object;
    `volatile_ledger` accepts a Redis server without persistence (O14)."""

    def __init__(self, table, ledger="memory:", batch_size: int = BATCH, volatile_ledger=False):
        self.table, self.body = table, table.body
        try:
            self.tz = cal.zone(self.body["timezone"])
        except ValueError as exc:
            raise TableError([Diagnostic("B706", str(exc))]) from None
        self.window = self.body["outreach"]["cap_window"]
        self.max_delay = self.body["outreach"]["max_delay"]
        if type(batch_size) is not int or batch_size < 1:
            raise InputError(
                [Diagnostic("E883", f"batch_size {batch_size!r}: a whole number >= 1")]
            )
        self.batch_size = batch_size
        self.ledger = open_ledger(ledger, table.shop, volatile=volatile_ledger)
        self.ledger_name = getattr(self.ledger, "url", None) or getattr(self.ledger, "path", "")

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
                        Diagnostic(
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
            run = _Run(self, active, out, on_send, collected, keep_going, src.name)
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
                    [Diagnostic("B706", f"campaign {c.get('name')!r} cannot be planned: {exc}")]
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


class _Run:
    """One pass over the audience: batches, per-consumer decisions, output."""

    def __init__(self, planner, active, out, on_send, collected, keep_going, name):
        self.p, self.active, self.out, self.on_send = planner, active, out, on_send
        self.collected, self.keep_going, self.name = collected, keep_going, name
        self.consumers, self.bad = 0, []
        self.opened_now = set()
        need = {c.kind for c in active}
        self.need_purchases = bool(need & {"recall", "super_discount"})
        self.need_carts = "cart_coupon" in need
        fields = [f for kind in sorted(need) for f in aud.PROMO_FIELDS.get(kind, ())]
        self.required = frozenset(fields) if need & set(aud.PROMO_FIELDS) else None
        self.need_crowds = any(c.needs_crowds or c.offer is None for c in active)
        self.window = planner.window
        self.tz = planner.tz
        self.item_json = {}  # tuple of send items -> their JSON (carts repeat the same items)

    def count(self, src):
        """No campaign is due: the audience is only read (and checked) for the report."""
        chunk = []
        for item in src:
            chunk.append(item)
            if len(chunk) >= self.p.batch_size:
                self._count(chunk, src.name)
                chunk = []
        self._count(chunk, src.name)

    def _count(self, chunk, name):
        recs, errors = aud.parse_many(chunk, name)
        self.consumers += len(recs)
        for _n, exc in sorted(errors, key=lambda e: e[0]):
            self._bad(exc)

    def _bad(self, exc):
        if not self.keep_going:
            raise exc
        self.bad.extend(exc.diagnostics)

    def stream(self, src, on_progress):
        chunk, size = [], self.p.batch_size
        for item in src:
            chunk.append(item)
            if len(chunk) >= size:
                self._chunk(chunk, src.name)
                chunk = []
                if on_progress is not None:
                    on_progress(src.done, src.size, self.consumers)
        if chunk:
            self._chunk(chunk, src.name)
        if on_progress is not None:
            on_progress(src.done, src.size, self.consumers)

    def _chunk(self, chunk, name):
        """Parse a chunk of numbered lines, decide and record its consumers; on a bad line the
        consumers before it are still recorded, then the error is raised (unless keep_going)."""
        recs, errors = aud.parse_many(chunk, name)
        batch, stop = [], None
        purchases, carts = aud.purchases, aud.cart_adds
        np, nc, required = self.need_purchases, self.need_carts, self.required
        for lineno, rec in recs:
            try:
                if required is not None:  # the common case without a call; require() raises
                    ex = rec.get("exclusive")
                    if ex is None or ex is True and not rec.keys() >= required:
                        aud.require(rec, required, name, lineno)
                buys = purchases(rec, name, lineno) if np and "purchases" in rec else None
                cart = carts(rec, name, lineno) if nc and "cart_adds" in rec else None
            except InputError as exc:
                errors.append((lineno, exc))
                continue
            batch.append((lineno, rec, buys, cart))
        if errors:
            errors.sort(key=lambda e: e[0])
            if not self.keep_going:
                stop = errors[0]
                batch = [b for b in batch if b[0] < stop[0]]
            else:
                for _n, error in errors:
                    self.bad.extend(error.diagnostics)
        if batch:
            self._flush(batch)
        if stop is not None:
            raise stop[1]

    def _flush(self, batch):
        """Content first, outside the ledger's lock (it needs no history); then the one atomic
        step: history, O2/O4/O5/O13 checks, print, record."""
        ids = [r[1]["consumer"] for r in batch]
        offers, counts, combos = self._offers(batch)
        result = {}

        def decide(history):
            sends, more = self._decide(offers, combos, history)
            result["sends"], result["counts"] = sends, more
            return [(c.name, cid, c.channel, c.at) for c, cid, _v, _i in sends]

        def emit():
            for k, n in result["counts"].items():
                counts[k] = counts.get(k, 0) + n
            self._emit(result["sends"], counts)

        self.p.ledger.decide_and_record(ids, decide, emit)
        self.consumers += len(batch)

    def _history(self, entries):
        """[sent names, regular times, green days] from a consumer's ledger history."""
        sent, regs, greens = set(), [], set()
        for name, ch, at in entries:
            sent.add(name)
            if ch == "regular":
                regs.append(at)
            elif ch == "green":
                greens.add(
                    cal.local_date(dt.datetime.fromtimestamp(at, self.tz), self.tz).toordinal()
                )
        return sent, regs, greens

    def _offers(self, batch):
        """O1, O3, O6–O9, O11: per consumer (id, key of its targeted hits in `combos`, promo
        offers [(campaign, content, items)]); the skip counts {(campaign, reason): n} of the
        campaigns it does not qualify for; and `combos`: crowds -> [(campaign, content, None)]
        of the targeted campaigns those crowds hit, in (send time, declaration) order (O4)."""
        crowds_of = self.p.table.matcher.crowds_of_trusted if self.need_crowds else None
        targeted = [c for c in self.active if c.offer is None]
        promo = [(c, c.offer, c.choices) for c in self.active if c.offer is not None]
        offers, counts = [], {}
        combos, combo_n = {}, {}  # crowds -> [(campaign, variant)] of the targets they hit (O1)
        outside = 0  # consumers who are not exclusive (no promo privilege reaches them)
        for _lineno, rec, buys, cart in batch:
            crowds = None
            if crowds_of is not None:
                crowds = crowds_of(rec.get("attrs") or _EMPTY, rec.get("crowds") or ())
            got, key = [], None
            if targeted:
                key = tuple(crowds)
                hits = combos.get(key)
                if hits is None:
                    hits = combos[key] = [(c, v, None) for c, v in self._hits(targeted, crowds)]
                    combo_n[key] = 0
                combo_n[key] += 1
            if promo and rec.get("exclusive") is not True:
                outside += 1
            elif promo:
                for c, offer, choices in promo:
                    why, items = offer(c, rec, buys, cart)
                    if why is not None:
                        k = (c, why)
                        counts[k] = counts.get(k, 0) + 1
                        continue
                    variant = c.base
                    for crowd, v in choices:  # O7: the first segment the consumer is in
                        if crowd in crowds:
                            variant = v
                            break
                    got.append((c, variant, items))
            offers.append((rec["consumer"], key, got))
        for c in targeted:  # consumers whose crowds hit none of its targets
            n = len(batch) - sum(
                combo_n[k] for k, hits in combos.items() if any(h[0] is c for h in hits)
            )
            if n:
                counts[(c, "not_in_audience")] = n
        if outside:
            for c, *_rest in promo:
                counts[(c, "not_exclusive")] = outside
        return offers, counts, combos

    def _decide(self, offers, combos, history):
        """O2, O4, O5, O13 against the ledger history: pure given `history` (a ledger may call
        it again on retry). Returns (sends, skip counts). A consumer with no history, seen once
        in the batch, gets its crowd combination's outcome, worked out once per combination."""
        sends, counts, seen, hget = [], {}, {}, history.get
        clean, clean_n = {}, {}
        once = len({o[0] for o in offers}) == len(offers)
        for cid, key, got in offers:
            if once and cid not in history:
                if key is not None:
                    out = clean.get(key)
                    if out is None:
                        out = clean[key] = self._check(combos[key], (set(), [], set()), {})
                        clean_n[key] = 0
                    clean_n[key] += 1
                    for c, v, items in out[0]:
                        sends.append((c, cid, v, items))
                for c, v, items in got:  # exempt promo kinds, never sent before
                    sends.append((c, cid, v, items))
                continue
            st = seen.get(cid)
            if st is None:
                h = hget(cid)
                st = seen[cid] = self._history(h) if h else (set(), [], set())
            mine, _ = self._check((combos[key] if key is not None else []) + got, st, counts)
            sends.extend((c, cid, v, items) for c, v, items in mine)
        for key, (_sent, skipped) in clean.items():
            for k, n in skipped.items():
                counts[k] = counts.get(k, 0) + n * clean_n[key]
        return sends, counts

    def _check(self, offers, state, counts) -> tuple:
        """The offers one consumer receives given its state [sent names, regular times, green
        days] (updated); skips are added to `counts` (also returned)."""
        window = self.window
        sent, regs, greens = state
        out = []
        for c, v, items in offers:
            name, why = c.name, None
            if name in sent:
                why = "already_sent"
            elif c.channel == "regular":  # O2 on scheduled times, symmetric
                at = c.at
                for t in regs:
                    if -window < at - t < window:
                        why = "capped"
                        break
                else:
                    regs.append(at)
            elif c.channel == "green":  # O5: one green-channel message per consumer per date
                if c.day in greens:
                    why = "green_taken"
                else:
                    greens.add(c.day)
            if why is None:
                sent.add(name)
                out.append((c, v, items))
            else:
                k = (c, why)
                counts[k] = counts.get(k, 0) + 1
        return out, counts

    @staticmethod
    def _hits(targeted, crowds) -> list:
        """(campaign, variant) for each targeted campaign: its first listed crowd held (O1)."""
        out = []
        for c in targeted:
            for crowd, v in c.choices:
                if crowd in crowds:
                    out.append((c, v))
                    break
        return out

    def _emit(self, sends, counts):
        for (c, why), n in counts.items():
            c.skips[why] = c.skips.get(why, 0) + n
        for c, n in collections.Counter(map(_FIRST, sends)).items():
            c.sends[c.channel] = c.sends.get(c.channel, 0) + n
        if self.out is not None:
            parts, last, cj, item_json = [], None, "", self.item_json
            for c, cid, v, items in sends:
                if cid is not last:
                    last, cj = cid, json_str(cid)
                if items:
                    key = tuple(items)
                    ij = item_json.get(key)
                    if ij is None:
                        if len(item_json) >= 100_000:
                            item_json.clear()
                        ij = item_json[key] = json_text(items)
                    parts.append(f"{v.head}{cj}{v.items_tail}{ij}{c.acts_json}")
                else:
                    parts.append(f"{v.head}{cj}{v.plain_tail}")
            self.out.write("".join(parts))
            self.out.flush()
        if self.on_send is not None or self.collected is not None:
            for c, cid, v, items in sends:
                d = {
                    "campaign": c.name,
                    "consumer": cid,
                    "channel": c.channel,
                    "at": c.at_iso,
                    "copy": v.copy,
                    "coupon": v.coupon,
                    "items": items or [],
                    "activities": list(c.activities) if c.kind == "super_discount" else [],
                }
                if self.on_send is not None:
                    self.on_send(d)
                else:
                    self.collected.append(d)
