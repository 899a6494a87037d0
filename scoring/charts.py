"""Charts drawn on the server: Altair specs rendered to SVG by vl-convert, shown as images.

Served as ``data:`` images so that pages stay free of inline styles and scripts (the CSP
allows neither) and nothing is fetched: the data is inlined in the spec.
"""

from __future__ import annotations

import base64
from functools import lru_cache

import altair as alt
import polars as pl
import vl_convert

Row = tuple[str, float, float | None, float | None]  # name, score, interval low, high


def score_chart_svg(rows: tuple[Row, ...], axis_title: str) -> str:
    """Horizontal bars of scores (0–100) with their 95% intervals as whiskers."""
    frame = pl.DataFrame(
        rows,
        schema={"name": pl.String, "score": pl.Float64, "low": pl.Float64, "high": pl.Float64},
        orient="row",
    )
    base = alt.Chart(frame).encode(y=alt.Y("name:N", sort="-x", title=None))
    bars = base.mark_bar(color="#a4231c").encode(
        x=alt.X("score:Q", scale=alt.Scale(domain=[0, 100]), title=axis_title)
    )
    whiskers = base.mark_rule(color="#1c1b1f").encode(x="low:Q", x2="high:Q")
    chart = (bars + whiskers).properties(width=300, height=alt.Step(22))
    svg: str = vl_convert.vegalite_to_svg(chart.to_json())
    return svg


@lru_cache(maxsize=64)
def score_chart_uri(rows: tuple[Row, ...], axis_title: str) -> str:
    """The chart as a data URI; cached because a published run's figures do not change."""
    svg = score_chart_svg(rows, axis_title)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
