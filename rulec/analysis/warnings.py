"""Analysis findings as `rulec check` warnings (A101–A103), with traffic shares from a log.

A finding becomes one diagnostic at the group (or value) it is about, naming the groups that
take its chats and the dimension that decided, with the witness chat as a hint. Given a
traffic sample, each capture also says how much of the victim's traffic it moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import attrs

from rulec.analysis.capture import Finding, Tree
from rulec.errors import Diagnostic, diag

CODES = {"capture": "A101", "unreachable": "A102", "unbound": "A103"}


def _names(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(f"`{n}`" for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _witness(chat: dict | None) -> tuple:
    if chat is None:
        return ()
    keep = {k: v for k, v in chat.items() if k not in ("buyer", "time") and v not in (None, [], {})}
    return (f"witness chat: {json.dumps(keep, ensure_ascii=False, sort_keys=True)}",)


def message(f: Finding) -> tuple[str, tuple]:
    """(message, hints) for a finding."""
    if f.kind == "capture":
        text = (
            f"group `{f.group}` is passed over by {f.dim}: chats it fully matches go to "
            f"{_names(f.takers)} (A1)"
        )
        if f.share is not None:
            n, total = f.share
            pct = 100.0 * n / total if total else 0.0
            text += f"; in the traffic sample {n} of {total} such chats ({pct:.0f}%)"
        hint = (
            f"R5 narrows by {f.dim} before the dimensions `{f.group}` binds: bind {f.dim} on "
            f"`{f.group}` as well, or narrow the {f.dim} binding of the groups that take its chats"
        )
        return text, (*_witness(f.chat), hint)
    if f.kind == "unreachable":
        text = (
            f"group `{f.group}` is never a candidate: whatever the chat, {f.dim} leaves only "
            f"{_names(f.takers)} (A2)"
        )
        return text, _witness(f.chat)
    assert f.dim is not None  # every finding but "unreachable" names its dimension
    what = {"order": "order state", "crowd": "crowd", "intent": "intent"}[f.dim]
    text = f"{what} `{f.value}` is bound by no group"
    if f.dim == "order":
        text += ": its chats skip the order dimension (R5)"
    return text, ()


def to_diagnostics(findings: Iterable[Finding], spans: dict | None = None) -> list[Diagnostic]:
    """Warnings for findings; `spans` maps group/crowd/intent names to their Span."""
    spans = spans or {}
    out = []
    for f in findings:
        text, hints = message(f)
        span = spans.get(f.group) if f.group else spans.get(f.value) or spans.get(("order", None))
        out.append(diag(CODES[f.kind], text, span, "warning", hints))
    return out


def spans_of(shop) -> dict:
    """Name -> Span for the groups, crowds and intents of a model; ("order", None) -> the span
    of the first group that binds the order dimension (where unbound order states are reported)."""
    spans: dict = {}
    for p in list(shop.crowds) + list(shop.intents):
        spans.setdefault(p.name, p.span)
    for g in shop.groups:
        spans[g.name] = g.span
        if g.order and ("order", None) not in spans:
            spans[("order", None)] = g.span
    return spans


def with_shares(findings: list[Finding], table, chats: Iterable[dict]) -> list[Finding]:
    """Captures with the share of the sample each moves: (chats captured by this group and
    dimension, chats the victim fully matches)."""
    caps = [(i, f) for i, f in enumerate(findings) if f.kind == "capture"]
    if not caps:
        return findings
    tree = Tree(table.body)
    m = table.matcher
    index = {n: i for i, n in enumerate(tree.names)}
    counts = {i: [0, 0] for i, _ in caps}
    for chat in chats:
        vals = {
            "crowd": m.crowds_of(chat.get("attrs"), chat.get("crowds") or ()),
            "intent": m.intents_of(chat.get("message"), chat.get("attrs"), chat.get("intent")),
            "product": [chat["product"]] if chat.get("product") is not None else [],
            "order": [chat["order"]] if chat.get("order") is not None else [],
        }
        cand, full, decided = tree.run(vals)
        for i, f in caps:
            if (full >> index[f.group]) & 1:
                counts[i][1] += 1
                if decided == f.dim and not cand & full:
                    counts[i][0] += 1
    out = list(findings)
    for i, _ in caps:
        out[i] = attrs.evolve(out[i], share=tuple(counts[i]))
    return out
