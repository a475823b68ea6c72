"""Inline SVG charts (bars, lines, scatter with error bars): plain markup, no script, no fonts
to fetch, deterministic output for the same data, so a report's bytes depend only on its data."""

from __future__ import annotations

from collections.abc import Sequence

from rulec.report.html import esc

PALETTE = ("#2f6fdf", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#5c940d", "#862e9c")
W, H = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 56


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    p = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * p:
            return m * p
    return 10 * p


def _frame(title: str, y_max: float, y_label: str, body: list[str], x_label: str = "") -> str:
    ph = H - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img">',
        f"<title>{esc(title)}</title>",
        f'<text x="{LEFT}" y="16" font-weight="bold">{esc(title)}</text>',
    ]
    for i in range(5):
        v = y_max * i / 4
        y = TOP + ph - ph * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9e2ec"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(_fmt(v))}</text>'
        )
    parts.append(
        f'<text x="12" y="{TOP + ph / 2:.1f}" transform="rotate(-90 12 {TOP + ph / 2:.1f})" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    if x_label:
        parts.append(
            f'<text x="{LEFT + (W - LEFT - RIGHT) / 2:.1f}" y="{H - 6}" text-anchor="middle">'
            f"{esc(x_label)}</text>"
        )
    parts.extend(body)
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str]) -> list[str]:
    out, x = [], LEFT + 260
    for i, n in enumerate(names):
        c = PALETTE[i % len(PALETTE)]
        out.append(
            f'<rect x="{x}" y="7" width="10" height="10" fill="{c}"/>'
            f'<text x="{x + 14}" y="16">{esc(n)}</text>'
        )
        x += 24 + 7 * len(str(n))
    return out


def bars(labels: Sequence[str], values: Sequence[float], title: str, y_label: str = "") -> str:
    """A bar per label."""
    n = max(len(values), 1)
    y_max = _nice_max(max(values, default=0))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = pw / n
    body = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        h = ph * v / y_max
        x = LEFT + i * step + step * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{TOP + ph - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{esc(lab)}: {esc(_fmt(v))}</title></rect>'
        )
        if n <= 40:
            cx = x + step * 0.35
            body.append(
                f'<text x="{cx:.1f}" y="{TOP + ph + 14}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {TOP + ph + 14})">{esc(lab)}</text>'
            )
    return _frame(title, y_max, y_label, body)


def lines(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    title: str,
    y_label: str = "",
    x_label: str = "",
) -> str:
    """One polyline per series over shared x positions (None leaves a gap)."""
    n = max(len(x_labels), 2)
    y_max = _nice_max(max((v for s in series.values() for v in s if v is not None), default=0))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    body = []
    for k, vals in enumerate(series.values()):
        c = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = []  # unbroken runs of "x,y" points
        cur: list[str] = []
        for i, v in enumerate(vals):
            if v is None:
                if cur:
                    runs.append(cur)
                cur = []
                continue
            cur.append(f"{LEFT + pw * i / (n - 1):.1f},{TOP + ph - ph * v / y_max:.1f}")
        if cur:
            runs.append(cur)
        for run in runs:
            body.append(
                f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{" ".join(run)}"/>'
            )
    every = max(1, n // 12)
    for i, lab in enumerate(x_labels):
        if i % every == 0:
            body.append(
                f'<text x="{LEFT + pw * i / (n - 1):.1f}" y="{TOP + ph + 14}" '
                f'text-anchor="middle">{esc(lab)}</text>'
            )
    body.extend(_legend(list(series)))
    return _frame(title, y_max, y_label, body, x_label)


def scatter(
    points: Sequence[tuple[float, float, str]],
    title: str,
    x_label: str,
    y_label: str,
    x_err: Sequence[float] | None = None,
    y_err: Sequence[float] | None = None,
) -> str:
    """Labelled points, with optional half-width error bars on either axis."""
    if not points:
        return _frame(title, 1.0, y_label, [], x_label)
    xs = [p[0] for p in points]
    x_lo = min(x - (x_err[i] if x_err else 0) for i, x in enumerate(xs))
    x_hi = max(x + (x_err[i] if x_err else 0) for i, x in enumerate(xs))
    if x_hi - x_lo < 1e-12:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    pad = (x_hi - x_lo) * 0.1
    x_lo, x_hi = x_lo - pad, x_hi + pad
    y_max = _nice_max(max(p[1] + (y_err[i] if y_err else 0) for i, p in enumerate(points)))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x):
        return LEFT + pw * (x - x_lo) / (x_hi - x_lo)

    def py(y):
        return TOP + ph - ph * y / y_max

    body = []
    for i, (x, y, lab) in enumerate(points):
        c = PALETTE[i % len(PALETTE)]
        if y_err:
            body.append(
                f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(y - y_err[i]):.1f}" '
                f'y2="{py(y + y_err[i]):.1f}" stroke="{c}"/>'
            )
        if x_err:
            body.append(
                f'<line x1="{px(x - x_err[i]):.1f}" x2="{px(x + x_err[i]):.1f}" y1="{py(y):.1f}" '
                f'y2="{py(y):.1f}" stroke="{c}"/>'
            )
        body.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="{c}">'
            f"<title>{esc(lab)}</title></circle>" + _point_label(px(x), py(y), lab)
        )
    for i in range(5):
        v = x_lo + (x_hi - x_lo) * i / 4
        body.append(
            f'<text x="{px(v):.1f}" y="{TOP + ph + 14}" text-anchor="middle">{esc(_fmt(v))}</text>'
        )
    return _frame(title, y_max, y_label, body, x_label)


def _point_label(x: float, y: float, label: str) -> str:
    # Labels on the right half grow leftwards, so none runs off the chart.
    if x > LEFT + (W - LEFT - RIGHT) / 2:
        return f'<text x="{x - 8:.1f}" y="{y - 8:.1f}" text-anchor="end">{esc(label)}</text>'
    return f'<text x="{x + 8:.1f}" y="{y - 8:.1f}">{esc(label)}</text>'


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"
