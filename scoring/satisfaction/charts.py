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
    return _svg_uri(score_chart_svg(rows, axis_title))


TrendPoint = tuple[str, float, float | None, float | None]  # date, score, interval low, high


@lru_cache(maxsize=256)
def trend_chart_uri(points: tuple[TrendPoint, ...], axis_title: str, date_title: str) -> str:
    """A unit's score across published runs: a line with its 95% interval as a band."""
    frame = pl.DataFrame(
        points,
        schema={"date": pl.String, "score": pl.Float64, "low": pl.Float64, "high": pl.Float64},
        orient="row",
    )
    base = alt.Chart(frame).encode(x=alt.X("date:O", title=date_title))
    band = base.mark_area(color="#f3d9d6").encode(
        y=alt.Y("low:Q", scale=alt.Scale(domain=[0, 100]), title=axis_title), y2="high:Q"
    )
    line = base.mark_line(color="#a4231c", point=True).encode(y="score:Q")
    return _uri((band + line).properties(width=320, height=160))


DistributionRow = tuple[str, str, int]  # question, value, count


@lru_cache(maxsize=256)
def distribution_chart_uri(rows: tuple[DistributionRow, ...], count_title: str) -> str:
    """How often each value was chosen, one stacked bar per question."""
    frame = pl.DataFrame(
        rows, schema={"question": pl.String, "value": pl.String, "count": pl.Int64}, orient="row"
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("question:N", title=None),
            x=alt.X("count:Q", stack="normalize", title=count_title, axis=alt.Axis(format="%")),
            color=alt.Color("value:O", scale=alt.Scale(scheme="reds"), title=None),
            order=alt.Order("value:O"),
        )
        .properties(width=300, height=alt.Step(20))
    )
    return _uri(chart)


def _uri(chart: alt.TopLevelMixin) -> str:
    svg: str = vl_convert.vegalite_to_svg(chart.to_json())
    return _svg_uri(svg)


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


CountRow = tuple[str, int]  # label, count


@lru_cache(maxsize=64)
def count_chart_uri(rows: tuple[CountRow, ...], axis_title: str, *, in_order: bool = False) -> str:
    """Horizontal bars of counts, largest first — or, ``in_order``, as given (months)."""
    frame = pl.DataFrame(rows, schema={"name": pl.String, "count": pl.Int64}, orient="row")
    sort: str | list[str] = [r[0] for r in rows] if in_order else "-x"
    chart = (
        alt.Chart(frame)
        .mark_bar(color="#a4231c")
        .encode(
            y=alt.Y("name:N", sort=sort, title=None),
            x=alt.X("count:Q", title=axis_title, axis=alt.Axis(tickMinStep=1)),
        )
        .properties(width=300, height=alt.Step(20))
    )
    return _uri(chart)
