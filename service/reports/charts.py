"""The annual report's charts: Altair specs rendered to SVG by vl-convert, with everything
inline (no fetch), drawn in Noto Sans CJK so that the PDF prints the Chinese labels."""

from __future__ import annotations

import base64
from functools import lru_cache

import altair as alt
import polars as pl
import vl_convert

FONT = "Noto Sans CJK SC"
RED = "#a4231c"
Bar = tuple[str, float]  # label, value


def _svg(chart: alt.TopLevelMixin) -> str:
    spec = chart.configure(font=FONT).configure_view(stroke=None).to_json()
    svg: str = vl_convert.vegalite_to_svg(spec)
    return svg


@lru_cache(maxsize=64)
def bars_svg(rows: tuple[Bar, ...], value_title: str, *, horizontal: bool = True) -> str:
    """Bars of values by label: districts or channels across, months along."""
    frame = pl.DataFrame(rows, schema={"label": pl.String, "value": pl.Float64}, orient="row")
    label = alt.X("label:N", sort=None, title=None) if not horizontal else None
    if horizontal:
        chart = (
            alt.Chart(frame)
            .mark_bar(color=RED)
            .encode(
                y=alt.Y("label:N", sort=None, title=None), x=alt.X("value:Q", title=value_title)
            )
            .properties(width=320, height=alt.Step(18))
        )
    else:
        chart = (
            alt.Chart(frame)
            .mark_bar(color=RED)
            .encode(x=label, y=alt.Y("value:Q", title=value_title))
            .properties(width=340, height=150)
        )
    return _svg(chart)


def svg_uri(svg: str) -> str:
    """For pages: an image, since the CSP allows no inline SVG styles."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
