"""One page shell for every HTML output: inline CSS, no scripts, no network, escaped text.

Reports (simulation, diff) and views (decision table) build their content from `section`,
`table` and the charts in `rulec.report.svg`, then wrap it once with `page`. A page opens
from a file with nothing else around it, so it can be mailed or attached to a CI run.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Sequence

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2f6fdf; --bad: #c92a2a;
        --good: #2b8a3e; font-family: "Noto Sans CJK SC", "Noto Sans", system-ui, sans-serif; }
body { margin: 0 auto; max-width: 1200px; padding: 24px 32px; color: var(--ink); background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.gain td { background: #ebfbee; } tr.loss td { background: #fff5f5; }
code, .mono { font-family: "Noto Sans Mono", ui-monospace, monospace; font-size: 12px; }
.note { color: var(--muted); font-size: 13px; } figure { margin: 8px 0 20px; }
figcaption { color: var(--muted); font-size: 13px; } svg text { font-size: 11px; fill: var(--ink); }
"""


def esc(value) -> str:
    """Text made safe for HTML element content and attribute values."""
    return _html.escape(str(value), quote=True)


def section(heading: str, *parts: str, note: str = "") -> str:
    """A titled block of already-escaped HTML parts."""
    body = "".join(parts)
    tail = f'<p class="note">{esc(note)}</p>' if note else ""
    return f"<section><h2>{esc(heading)}</h2>{body}{tail}</section>"


def table(headers: Sequence[str], rows: Iterable[Sequence], row_class=None) -> str:
    """A table of plain values (escaped); numbers are right-aligned. `row_class(row)` may name
    a CSS class for a row (`gain`, `loss`)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cls = row_class(row) if row_class else None
        cells = "".join(
            f'<td class="num">{esc(_num(v))}</td>'
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            else f"<td>{esc('' if v is None else v)}</td>"
            for v in row
        )
        out.append(f'<tr class="{esc(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,}"


def page(title: str, *sections: str, subtitle: str = "") -> str:
    """A complete HTML document around `sections` (already-built HTML)."""
    sub = f'<p class="sub">{esc(subtitle)}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{sub}{''.join(sections)}</body></html>\n"
    )
