"""Hover texts: what a name stands for (a crowd's predicate, a group's bindings, an agent's
level, a campaign's schedule and deadlines) or what a keyword means, with its clause."""

from __future__ import annotations

from rulec.common import calendar as cal
from rulec.common.vocab import DEFAULT_ZONE
from rulec.compiler import keyword_docs
from rulec.compiler import model as m
from rulec.compiler.passes.outreach import schedule


def hover_text(index, occ, word: str | None) -> str | None:
    """Markdown for the name `occ` (an Occurrence, or None) or else for the keyword `word`."""
    if occ is not None:
        defs = index.definitions(occ.kind, occ.name)
        node = defs[0].node if defs else None
        return _describe(index, occ.kind, occ.name, node)
    return keyword_docs.meaning(word) if word else None


def _used_by(index, kind, name) -> str:
    owners = list(dict.fromkeys(o.owner for o in index.uses(kind, name) if o.owner))
    return f"\n\nused by: {', '.join(owners)}" if owners else ""


def _describe(index, kind, name, node) -> str:
    if node is None:
        if kind == "product":
            return f"product **{name}** (R5: the second dimension)" + _used_by(index, kind, name)
        if kind in ("crowd", "intent"):
            return (
                f"{kind} **{name}**: not defined here, so an outside label taken from the "
                f"event (W504)" + _used_by(index, kind, name)
            )
        return f"{kind} **{name}**: not declared in this file"
    if isinstance(node, m.PredicateDef):
        clause = "R5" if kind == "crowd" else "R5; `message` is the chat's first message"
        return f"{kind} **{name}** = `{node.text or ''}`\n\n({clause})" + _used_by(
            index, kind, name
        )
    if isinstance(node, m.Group):
        return _group(index, node)
    if isinstance(node, m.Agent):
        groups = [g.name for g in index.shop.groups if any(r.name == name for r in g.agents)]
        where = f"\n\ngroups: {', '.join(groups)}" if groups else "\n\nin no group (W501)"
        return f"agent **{name}** level {node.level} (R8: level weighs its share)" + where
    if isinstance(node, m.Campaign):
        return _campaign(index, node)
    if isinstance(node, m.Promo):
        days = [
            f"{key} {getattr(node, key).value}"
            for key in ("presale_start", "last_day")
            if getattr(node, key) is not None
        ]
        return f"promo **{name}**: {', '.join(days) or 'no dates'} (O6–O8, O11)" + _used_by(
            index, kind, name
        )
    if isinstance(node, m.AttributeDecl):
        return f"attribute **{name}**: {node.type}" + _used_by(index, kind, name)
    if isinstance(node, m.Shop):
        tz = node.timezone.value if node.timezone else DEFAULT_ZONE
        return f"shop **{name}** (time zone {tz})"
    return f"{kind} **{name}**"


def _group(index, g) -> str:
    lines = [f"group **{g.name}**"]
    for field in ("crowd", "product", "intent", "order"):
        values = getattr(g, field)
        if values:
            lines.append(f"- {field}: {', '.join(r.name for r in values)}")
    binds = len(lines) > 1
    agents = ", ".join(r.name for r in g.agents) or "none"
    lines.append(f"- agents: {agents}")
    mode = g.mode + (f" {g.strength}" if g.strength else "")
    lines.append(f"- mode: {mode}" + (" (robot on: chats go to its robot, R7)" if g.robot else ""))
    if not binds:
        lines.append("- binds no dimension: a candidate for every chat (R5)")
    return "\n".join(lines) + "\n\n(R5, R6)"


def _campaign(index, c) -> str:
    kind = c.kind.value if c.kind else "?"
    lines = [f"campaign **{c.name}** ({kind})"]
    send_at, deadline, tz = schedule(index.shop, c)
    if send_at is not None and tz is not None:  # tz is None only when nothing is known
        lines.append(f"- sends at {cal.show(send_at, tz)}")
    if deadline is not None and tz is not None:
        verb = "created before" if kind == "green" else "configured by"
        lines.append(f"- must be {verb} {cal.show(deadline, tz)} (O10)")
    if c.promo is not None:
        lines.append(f"- promo: {c.promo.name}")
    for label, targets in (("targets", c.targets), ("segments", c.segments)):
        if targets:
            lines.append(f"- {label}: {', '.join(t.crowd.name for t in targets)}")
    meaning = keyword_docs.VALUES.get(kind)
    if meaning:
        lines.append(f"\n{meaning[0]} ({', '.join(meaning[1])})")
    return "\n".join(lines)
