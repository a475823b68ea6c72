"""The outreach planner (O1–O13): who gets which message when, exactly once, recorded in a ledger."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import gc
import operator
import sys
import threading

from rulec.common import calendar as cal
from rulec.errors import Diagnostic, InputError, TableError
from rulec.outreach import audience as aud
from rulec.outreach import privileges as priv
from rulec.outreach.campaign import Campaign, json_str, json_text
from rulec.outreach.ledger import open_ledger
from rulec.outreach.ledger.base import FINISHED, MISSED, SKIPPED, STARTED

BATCH = 2000
_FIRST = operator.itemgetter(0)
_EMPTY: dict = {}
_CODE = {
    "batch": 0,
    "green": 0,
    "new_arrival": 0,
    "restock": 0,
    "cart_coupon": 1,
    "recall": 2,
    "super_discount": 3,
}


GC_GEN0 = 50_000  # the cyclic collector's first threshold while planning (see _fewer_collections)
_gc_lock = threading.Lock()
_gc_state = {"users": 0, "saved": None}


@contextlib.contextmanager
def _fewer_collections():
    """Raise the collector's first threshold (700 by default) to GC_GEN0 while planning.

    A run allocates millions of short-lived tuples and dicts, none of them in cycles; at the
    default threshold the young-generation collections cost a fifth to a third of the run's
    CPU. Cycles are still collected, only less often. Planners in several threads share one
    setting: the first one in raises it, the last one out restores what it found, and a
    threshold someone else changed meanwhile (or 0, collection disabled) is left alone."""
    with _gc_lock:
        st = _gc_state
        if st["users"] == 0:
            old = gc.get_threshold()
            st["saved"] = None
            if 0 < old[0] < GC_GEN0:
                st["saved"] = old
                gc.set_threshold(GC_GEN0, *old[1:])
        st["users"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            st["users"] -= 1
            old = st["saved"]
            if st["users"] == 0 and old is not None:
                if gc.get_threshold() == (GC_GEN0, *old[1:]):
                    gc.set_threshold(*old)
                st["saved"] = None


class PlanResult:
    """What one run did: `report` (the --report JSON), `sends` (dicts, when collected), `bad`."""

    def __init__(self, report, sends, bad):
        self.report, self.sends, self.bad = report, sends, bad


class Planner:
    """Plans a shop's campaigns against an audience at a moment `now`, recording in a ledger.

    `ledger`: a path, `sqlite:///…`, `memory:`, `redis://…` or a Ledger object."""

    def __init__(self, table, ledger="memory:", batch_size: int = BATCH):
        self.table, self.body = table, table.body
        try:
            self.tz = cal.zone(self.body["timezone"])
        except ValueError as exc:
            raise TableError([Diagnostic("B706", str(exc))]) from None
        self.window = self.body["outreach"]["cap_window"]
        self.max_delay = self.body["outreach"]["max_delay"]
        self.batch_size = max(1, int(batch_size))
        self.ledger = open_ledger(ledger, table.shop)

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
        progress=None,
        err=None,
    ) -> PlanResult:
        """Decide and record every send due at `now` (O12). `out` gets JSON Lines, `on_send`
        each send dict; with neither, sends are collected in the result. Bad lines raise
        InputError (E8xx) unless `keep_going`, then they are skipped and counted."""
        try:
            now = cal.parse_time(now) if isinstance(now, str) else now
        except ValueError as exc:
            raise InputError([Diagnostic("E820", f"now: {exc}")]) from None
        if not isinstance(now, dt.datetime) or now.utcoffset() is None:
            raise InputError([Diagnostic("E820", "now must be a time with a UTC offset")])
        camps = self._campaigns()
        acts = aud.read_activities(activities, self.tz) if activities is not None else []
        collected = [] if out is None and on_send is None else None
        src = aud.Source(audience)  # opened first: an unreadable audience opens no campaign
        try:
            active, opened = self._open(camps, now, acts)
            run = _Run(self, active, out, on_send, collected, keep_going, src.name)
            run.opened_now = opened
            if progress is True:
                progress = Progress(err, src.size)
            if active:
                with _fewer_collections():
                    run.stream(src, progress)
            else:
                run.count(src)
        finally:
            src.close()
            if progress:
                progress.close()
        self.ledger.finish_campaigns(c.name for c in active if c.state == STARTED)
        return PlanResult(self._report(camps, now, run), collected, run.bad)

    def _campaigns(self) -> list:
        out = []
        for i, c in enumerate(self.body["campaigns"]):
            try:
                out.append(Campaign(c, i, self.body, self.tz))
            except (ValueError, KeyError, TypeError) as exc:
                raise TableError(
                    [Diagnostic("B706", f"campaign {c.get('name')!r} cannot be planned: {exc}")]
                ) from None
        return out

    def _open(self, camps, now, acts) -> list:
        """O12: which due campaigns this run decides; opens the new ones in the ledger."""
        states = self.ledger.campaign_states()
        wanted, t_now = {}, now.timestamp()
        for c in camps:
            if c.at > t_now:
                c.state = "not_due"
                continue
            if c.name in states:
                continue
            if t_now - c.at > self.max_delay:
                wanted[c.name] = (MISSED, "missed", c.at)
                continue
            found = c.problems(self.body["facts"], self.tz)
            if found is None and c.kind == "super_discount":
                if not [a for a in acts if priv.activity_ok(a, c.send_at, self.tz)]:
                    found = (SKIPPED, "no_valid_activity")
            wanted[c.name] = found + (c.at,) if found else (STARTED, None, c.at)
        if wanted:
            states.update(self.ledger.open_campaigns(wanted))
        active = []
        for c in camps:
            if c.state == "not_due":
                continue
            status, reason = states[c.name]
            c.state, c.reason = status, reason
            if status == STARTED:
                c.resumed = c.name not in wanted
                c.set_activities([a["id"] for a in acts if priv.activity_ok(a, c.send_at, self.tz)])
                active.append(c)
        active.sort(key=lambda c: c.key)
        return active, set(wanted)

    def _report(self, camps, now, run) -> dict:
        total_sends, total_skips, per = {}, {}, {}
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
            per[c.name] = entry
            if c.sends:
                total_sends[c.name] = dict(c.sends)
            for r, n in c.skips.items():
                total_skips[r] = total_skips.get(r, 0) + n
        return {
            "shop": self.table.shop,
            "now": cal.iso(now.astimezone(self.tz)),
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
        self.need_crowds = any(c.needs_crowds or _CODE[c.kind] == 0 for c in active)
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

    def stream(self, src, progress):
        chunk, size = [], self.p.batch_size
        for item in src:
            chunk.append(item)
            if len(chunk) >= size:
                self._chunk(chunk, src.name)
                chunk = []
                if progress:
                    progress.update(src.done, self.consumers)
        if chunk:
            self._chunk(chunk, src.name)
        if progress:
            progress.update(src.done, self.consumers)

    def _chunk(self, chunk, name):
        """Parse a chunk of numbered lines, decide and record its consumers; on a bad line the
        consumers before it are still recorded, then the error is raised (unless keep_going)."""
        recs, errors = aud.parse_many(chunk, name)
        batch, stop = [], None
        purchases, carts = aud.purchases, aud.cart_adds
        np, nc = self.need_purchases, self.need_carts
        for lineno, rec in recs:
            try:
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
                for _n, exc in errors:
                    self.bad.extend(exc.diagnostics)
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
        targeted = [c for c in self.active if _CODE[c.kind] == 0]
        promo = [(c, _CODE[c.kind], c.choices, c.at) for c in self.active if _CODE[c.kind] != 0]
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
                for c, code, choices, at in promo:
                    why = None
                    if code == 1:  # cart coupon (O6): carted in the window
                        lo, items = c.cart_start, None
                        if cart:
                            if len(cart) == 1:
                                t, i = cart[0]
                                if lo <= t <= at:
                                    items = [i]
                            else:
                                items = list(dict.fromkeys([i for t, i in cart if lo <= t <= at]))
                        if not items:
                            why = "not_in_audience"
                    else:  # recall (2), super discount (3): no purchase in the window (O7, O8)
                        items, lo = None, c.window_start
                        if code == 3 and rec.get("interested") is not True:
                            why = "not_interested"
                        else:
                            if buys:
                                for t in buys:
                                    if lo <= t <= at:
                                        why = "purchased"
                                        break
                            if why is None and code == 3 and not c.activities:
                                why = "no_valid_activity"
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
                    parts.append(f"{v[2]}{cj}{v[3]}{ij}{c.acts_json}")
                else:
                    parts.append(f"{v[2]}{cj}{v[4]}")
            self.out.write("".join(parts))
            self.out.flush()
        if self.on_send is not None or self.collected is not None:
            for c, cid, v, items in sends:
                d = {
                    "campaign": c.name,
                    "consumer": cid,
                    "channel": c.channel,
                    "at": c.at_iso,
                    "copy": v[0],
                    "coupon": v[1],
                    "items": items or [],
                    "activities": list(c.activities) if c.kind == "super_discount" else [],
                }
                if self.on_send is not None:
                    self.on_send(d)
                else:
                    self.collected.append(d)


class Progress:
    """A one-line progress bar on a terminal (bytes of the audience file read)."""

    def __init__(self, err=None, total=None):
        self.err, self.total, self.shown = err or sys.stderr, total, False

    def update(self, done, consumers):
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 30)
            self.err.write(f"\rplanning [{bar:<30}] {frac:5.1%} {consumers:,} consumers")
        else:
            self.err.write(f"\rplanning {consumers:,} consumers")
        self.err.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.err.write("\n")
            self.err.flush()
