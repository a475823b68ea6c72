"""The planner's pass over an audience (O1–O9, O11, O13): batches, per-consumer decisions, output.

Run's loop is the pure-Python twin of the Cython one in _plan.pyx, which takes over a run that
prints its sends (`out`) on a ledger taking Packed rows, unless RULEC_PURE=1 or
`Planner(impl="python")`; both give the same bytes (tests/outreach/test_plan_paths.py)."""

from __future__ import annotations

import collections
import datetime as dt
import operator

from rulec.common import calendar as cal
from rulec.common.twin import load_twin
from rulec.errors import InputError
from rulec.outreach import audience as aud
from rulec.outreach.campaign import binary_out, items_json, json_str

# the Cython loop and this module, its twin; the live one is the Cython loop when built,
# unless RULEC_PURE=1
TWIN = load_twin("rulec.outreach._plan", "rulec.outreach.plan_run", "planner loop")
_plan = TWIN.extension
implementation = TWIN.implementation

_FIRST = operator.itemgetter(0)
_EMPTY: dict = {}


def loop(impl=None) -> str:
    """The loop `impl` names ("cython", "python"; None: the live one), checked."""
    TWIN.module(impl)  # ValueError: unknown; RuntimeError: the Cython loop is not built
    return impl or implementation


class Run:
    """One pass over the audience: batches, per-consumer decisions, output."""

    def __init__(self, planner, active, out, on_send, collected, keep_going, name, impl=None):
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
        # the Cython loop prints and packs; sends handed out as dicts stay with this one
        self.fast = loop(impl) == "cython" and out is not None and on_send is None
        self.kernel = None
        self.binary = binary_out(out)

    def count(self, src):
        """No campaign is due: the audience is only read (and checked) for the report."""
        for chunk in src.chunks():
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
        """Each chunk of the source (`batch_size` lines) decided and recorded in turn."""
        size = self.p.batch_size
        if self.fast and self.p.ledger.packs and _plan is not None:
            self.kernel = _plan.Kernel(self)
        for chunk in src.chunks():
            self._chunk(chunk, src.name)
            if on_progress is not None and len(chunk) >= size:  # the last: once, below
                on_progress(src.done, src.size, self.consumers)
        if on_progress is not None:
            on_progress(src.done, src.size, self.consumers)

    def _chunk(self, chunk, name):
        """Parse a chunk of numbered lines, decide and record its consumers; on a bad line the
        consumers before it are still recorded, then the error is raised (unless keep_going)."""
        if self.kernel is not None:
            return self.kernel.chunk(chunk, name)
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
        batch, stop = aud.settle(batch, errors, self.keep_going, self.bad)
        if batch:
            self._flush(batch)
        if stop is not None:
            raise stop

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
                    ij = items_json(item_json, items)
                    parts.append(f"{v.head}{cj}{v.items_tail}{ij}{c.acts_json}")
                else:
                    parts.append(f"{v.head}{cj}{v.plain_tail}")
            text = "".join(parts)
            self.out.write(text.encode("utf-8") if self.binary else text)
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
