"""Chart geometry for server-rendered SVG (no chart JavaScript). Templates draw the shapes;
every chart also comes with a table for screen readers."""

from __future__ import annotations

from dataclasses import dataclass

PALETTE = ("#4f46e5", "#0891b2", "#d97706", "#dc2626", "#059669", "#7c3aed", "#db2777",
           "#65a30d", "#475569")  # fmt: skip
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 12, 34


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str


def nice_max(value: float) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def stacked_bars(trend: dict, money, month_label=None, partial=()) -> dict:
    """Geometry for the monthly lost-MRR chart: one bar per month, one segment per reason.

    ``money(amount)`` formats axis labels and titles, ``month_label("2026-10")`` the months
    ("Oct 2026"); months in ``partial`` (only partly inside the period) are marked with "*".
    """
    months, series = trend["months"], trend["series"]
    month_label = month_label or (lambda month: month)
    names = [month_label(m) + ("*" if m in partial else "") for m in months]
    totals = [sum(s["values"][i] for s in series) for i in range(len(months))]
    top = nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = max(4.0, slot * 0.7)
    rects = []
    for i in range(len(months)):
        y = TOP + plot_h
        for n, entry in enumerate(series):
            value = entry["values"][i]
            if not value:
                continue
            height = plot_h * value / top
            y -= height
            rects.append(
                Rect(
                    x=round(LEFT + i * slot + (slot - bar_w) / 2, 1),
                    y=round(y, 1),
                    width=round(bar_w, 1),
                    height=round(height, 1),
                    color=PALETTE[n % len(PALETTE)],
                    label=f"{names[i]}: {entry['reason']} {money(value)}",
                )
            )
    ticks = [
        {"y": round(TOP + plot_h - plot_h * f, 1), "label": money(top * f)}
        for f in (0, 0.25, 0.5, 0.75, 1)
    ]
    labels = [
        {"x": round(LEFT + i * slot + slot / 2, 1), "text": names[i]} for i in range(len(months))
    ]
    legend = [
        {"color": PALETTE[n % len(PALETTE)], "text": entry["reason"]}
        for n, entry in enumerate(series)
    ]
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
        "bottom": TOP + plot_h, "rects": rects, "ticks": ticks, "labels": labels,
        "legend": legend, "months": months, "names": names, "series": series, "totals": totals,
        "partial": [m for m in months if m in partial],
    }  # fmt: skip
