"""The city's complaint figures as a public page (/complaint-records): charts drawn on the
server with the table beside each, no script — by category, by district, this quarter's
most-complained categories (热点) and the trend by month; with the open data's links."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import anyio
from litestar import get
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from scoring.disclosure import labels, store
from scoring.disclosure.rules import policy
from scoring.satisfaction.charts import count_chart_uri
from service.kernel.i18n import _, current_locale
from service.kernel.models import Area, AreaKind
from service.kernel.security import PUBLIC


def _category(code: str) -> str:
    return _(labels.CATEGORIES[code]) if code in labels.CATEGORIES else code


async def _charts(rows: dict[str, tuple[tuple[str, int], ...]], title: str) -> dict[str, str]:
    """Each chart's data URI (none for an empty table), drawn off the event loop."""
    out = {}
    for name, data in rows.items():
        if data:
            draw = partial(count_chart_uri, data, title, in_order=name == "by_month")
            out[name] = await anyio.to_thread.run_sync(draw)
    return out


@get("/complaint-records", opt=PUBLIC, include_in_schema=False)
async def city_page() -> Template:
    p = policy()
    figures = await store.city_views(datetime.now(UTC), p)
    zh = current_locale() == "zh_CN"
    districts = {
        a.code: (a.name_zh if zh else a.name_en) for a in await Area.filter(kind=AreaKind.DISTRICT)
    }
    tables = {
        "by_category": tuple((_category(k), n) for k, n in figures.by_category.items()),
        "by_district": tuple((districts.get(k, k), n) for k, n in figures.by_district.items()),
        "hot": tuple((_category(k), n) for k, n in figures.hot.items()),
        "by_month": tuple(figures.by_month.items()),
    }
    return Template(
        "disclosure/city.html",
        context={
            "figures": figures,
            "tables": tables,
            "charts": await _charts(tables, _("Complaints")),
            "exclusion_labels": labels.EXCLUSIONS,
            "policy": p,
        },
    )


PAGES: list[ControllerRouterHandler] = [city_page]
