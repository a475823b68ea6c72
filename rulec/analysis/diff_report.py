"""The `rulec diff` report: one JSON-ready document, rendered as text or as an HTML page."""

from __future__ import annotations

import json

from rulec.analysis import compare, diff
from rulec.report import html, svg


def build(
    old, new, events=None, state=None, seed=0, audience=None, now=None, activities=None
) -> dict:
    """Everything `rulec diff` reports for two tables (old, new)."""
    changes = diff.structural(old.body, new.body)
    regions, total = diff.regions(old, new)
    doc = {
        "old": {"shop": old.body["shop"], "source_hash": old.header.get("source_hash")},
        "new": {"shop": new.body["shop"], "source_hash": new.header.get("source_hash")},
        "structural": [
            {
                "kind": c.kind,
                "name": c.name,
                "change": c.change,
                "old": c.old,
                "new": c.new,
                "text": c.text(),
            }
            for c in changes
        ],
        "regions": [
            {
                "values": r.values,
                "combinations": r.combinations,
                "old": list(r.old),
                "new": list(r.new),
                "witness": r.chat,
            }
            for r in regions
        ],
        "regions_total": total,
    }
    if events is not None:
        rep = compare.replay(old, new, events, state, seed)
        groups = sorted(
            set(rep.groups_old) | set(rep.groups_new), key=lambda g: (g is None, g or "")
        )
        doc["replay"] = {
            "chats": rep.chats,
            "differ": rep.differ,
            "matrix": [
                {"old": a, "new": b, "chats": n}
                for (a, b), n in sorted(rep.matrix.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "groups": [
                {
                    "group": g,
                    "old": rep.groups_old[g],
                    "new": rep.groups_new[g],
                    "moved": rep.groups_new[g] - rep.groups_old[g],
                    "share_old": rep.groups_old[g] / rep.chats if rep.chats else 0.0,
                    "share_new": rep.groups_new[g] / rep.chats if rep.chats else 0.0,
                }
                for g in groups
            ],
            "examples": [{"old": a, "new": b} for a, b in rep.examples],
        }
    if audience is not None:
        gained, lost = compare.sends(old, new, audience, now, activities)
        doc["outreach"] = {"now": str(now), "gained": gained, "lost": lost}
    return doc


def changed(doc: dict) -> bool:
    """True when the report shows any change (for --fail-on-change)."""
    return bool(
        doc["structural"]
        or doc["regions_total"]
        or doc.get("replay", {}).get("differ")
        or doc.get("outreach", {}).get("gained")
        or doc.get("outreach", {}).get("lost")
    )


def _values(v: dict) -> str:
    parts = []
    for d, xs in v.items():
        if xs != ["(any)"]:
            shown = ", ".join(xs[:6]) + (f" +{len(xs) - 6}" if len(xs) > 6 else "")
            parts.append(f"{d} {shown}")
    return "; ".join(parts) or "any chat"


def _groups(names) -> str:
    return ", ".join(names) if names else "(none)"


def _witness(w) -> str:
    if not w:
        return "(no witness found)"
    keep = {k: v for k, v in w.items() if k not in ("buyer", "time") and v not in (None, [], {})}
    return json.dumps(keep, ensure_ascii=False, sort_keys=True)


def to_text(doc: dict) -> str:
    out = [f"rulec diff: {doc['old']['shop']} -> {doc['new']['shop']}"]
    out.append(f"structural changes: {len(doc['structural'])}")
    out += [f"  {c['text']}" for c in doc["structural"]]
    out.append(f"R5 regions that change: {doc['regions_total']}")
    for r in doc["regions"]:
        out.append(f"  {_values(r['values'])}: {_groups(r['old'])} -> {_groups(r['new'])}")
        out.append(f"    witness {_witness(r['witness'])}")
    if doc["regions_total"] > len(doc["regions"]):
        out.append(f"  ... {doc['regions_total'] - len(doc['regions'])} more regions")
    if "replay" in doc:
        rp = doc["replay"]
        pct = 100.0 * rp["differ"] / rp["chats"] if rp["chats"] else 0.0
        out.append(f"replay: {rp['differ']} of {rp['chats']} decisions differ ({pct:.1f}%)")
        out.append("  old target -> new target: chats")
        out += [
            f"    {m['old']} -> {m['new']}: {m['chats']}"
            for m in rp["matrix"]
            if m["old"] != m["new"]
        ]
        out.append("  group: chats old -> new (share moved)")
        for g in rp["groups"]:
            if g["moved"]:
                out.append(
                    f"    {g['group'] or '(no group)'}: {g['old']} -> {g['new']} "
                    f"({100 * (g['share_new'] - g['share_old']):+.1f} points)"
                )
    if "outreach" in doc:
        o = doc["outreach"]
        out.append(
            f"outreach at {o['now']}: {len(o['gained'])} sends gained, {len(o['lost'])} lost"
        )
        out += [f"  + {compare.send_line(s)}" for s in o["gained"][:50]]
        out += [f"  - {compare.send_line(s)}" for s in o["lost"][:50]]
    return "\n".join(out) + "\n"


def to_html(doc: dict) -> str:
    parts = [
        html.section(
            f"Structural changes ({len(doc['structural'])})",
            html.table(
                ["kind", "name", "change", "detail"],
                [[c["kind"], c["name"], c["change"], c["text"]] for c in doc["structural"]],
            ),
        ),
        html.section(
            f"R5 regions that change ({doc['regions_total']})",
            html.table(
                ["chats with", "old candidates", "new candidates", "witness"],
                [
                    [
                        _values(r["values"]),
                        _groups(r["old"]),
                        _groups(r["new"]),
                        _witness(r["witness"]),
                    ]
                    for r in doc["regions"]
                ],
            ),
            note="Each row is a class of chats (crowd × product × intent × order) whose R5 candidates change.",
        ),
    ]
    if "replay" in doc:
        rp = doc["replay"]
        moved = [g for g in rp["groups"] if g["old"] or g["new"]]
        chart = svg.bars(
            [f"{g['group'] or '(none)'}" for g in moved],
            [abs(g["moved"]) for g in moved],
            "chats moved per group (absolute)",
            "chats",
        )
        parts.append(
            html.section(
                f"Replay: {rp['differ']} of {rp['chats']} decisions differ",
                svg.figure(chart),
                html.table(
                    ["group", "old", "new", "moved"],
                    [[g["group"] or "(no group)", g["old"], g["new"], g["moved"]] for g in moved],
                    row_class=lambda r: "gain" if r[3] > 0 else "loss" if r[3] < 0 else None,
                ),
                html.table(
                    ["old target", "new target", "chats"],
                    [[m["old"], m["new"], m["chats"]] for m in rp["matrix"]],
                ),
            )
        )
    if "outreach" in doc:
        o = doc["outreach"]
        rows = [["+", s["campaign"], s["consumer"], s["channel"]] for s in o["gained"]]
        rows += [["-", s["campaign"], s["consumer"], s["channel"]] for s in o["lost"]]
        parts.append(
            html.section(
                f"Outreach at {o['now']}: {len(o['gained'])} gained, {len(o['lost'])} lost",
                html.table(
                    ["", "campaign", "consumer", "channel"],
                    rows,
                    row_class=lambda r: "gain" if r[0] == "+" else "loss",
                ),
            )
        )
    return html.page(
        f"rulec diff: {doc['new']['shop']}",
        *parts,
        subtitle=f"{doc['old']['source_hash'] or ''} -> {doc['new']['source_hash'] or ''}",
    )
