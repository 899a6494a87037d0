"""The annual report as a bureau publishes it: an A4 PDF in Chinese (the figures in sentences
like the seed report's, tables and charts) and a workbook of its tables.

The sentences and labels are gettext strings, so the page shows them in the reader's
language while the PDF, which the bureau publishes, is always rendered in Chinese.
"""

from __future__ import annotations

import io
import typing
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import msgspec
import polars as pl
from markupsafe import Markup

from service.kernel import i18n, localtime, numbers, pdf
from service.kernel.exports import WORKBOOK_OPTIONS, HeaderStyle, Sheet, add_sheets
from service.kernel.i18n import N_
from service.reports import charts
from service.reports.annual import HANDLERS, MIN_ANSWERS
from service.reports.schemas import AnnualReport, ChannelFigures, FollowUps, MonthFigures

TEMPLATES = Path(__file__).parent / "templates"
PDF_LOCALE = "zh_CN"

CHANNEL_LABELS = {
    "hotline": N_("12315 hotline"),
    "web": N_("12315 web platform"),
    "wechat": N_("WeChat"),
    "sms": N_("SMS"),
    "qq": N_("QQ"),
    "walk_in": N_("Walk-in"),
    "letter": N_("Letter"),
    "other": N_("Other channel"),
    "unstated": N_("Channel not stated"),
}
CERTIFICATE_KINDS = {
    "merchant": N_("Trusted-consumption merchants"),
    "street": N_("Trusted-consumption streets"),
    "scenic_spot": N_("Trusted-consumption scenic spots"),
}


def context(report: AnnualReport, gettext: Callable[[str], str]) -> dict[str, Any]:
    """What both the page and the PDF show: the report, its figures in 万元 and its charts
    (SVG text, for the PDF to embed and the page to show as images)."""
    districts = [d for d in report.by_district if d.all_channels.total or d.district]
    return {
        "r": report,
        "channel_labels": CHANNEL_LABELS,
        "certificate_kinds": CERTIFICATE_KINDS,
        "districts": districts,
        "min_answers": MIN_ANSWERS,
        "district_chart": charts.bars_svg(
            tuple((d.district_name, float(d.all_channels.total)) for d in districts),
            gettext("Records received"),
        ),
        "month_chart": charts.bars_svg(
            tuple((m.month[5:], float(m.total)) for m in report.by_month),
            gettext("Records received"),
            horizontal=False,
        ),
        "channel_chart": charts.bars_svg(
            tuple((gettext(CHANNEL_LABELS[c.channel]), c.share or 0.0) for c in report.by_channel),
            gettext("Share of records (%)"),
        ),
    }


def _pdf_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(PDF_LOCALE), newstyle=True)  # type: ignore[attr-defined]
    localtime.install(env)
    numbers.install(env)
    return env


def annual_pdf(report: AnnualReport) -> bytes:
    """The report as an A4 PDF in Chinese (blocking: run it off the event loop)."""
    ctx = context(report, i18n.translations(PDF_LOCALE).gettext)
    # vl-convert writes the SVG; what it embeds is our own figures and district names,
    # which it escapes as XML text.
    ctx |= {k: Markup(ctx[k]) for k in ("district_chart", "month_chart", "channel_chart")}  # noqa: S704
    html = _pdf_env().get_template("reports/annual_pdf.html").render(**ctx)
    return pdf.render(html)


def _summary_frame(report: AnnualReport) -> pl.DataFrame:
    scope = report.district_name or "全市"
    rows = report.by_district
    return pl.DataFrame(
        {
            "district": [scope, *(d.district_name for d in rows)],
            "ca_complaints_received": [
                report.consumer_association.complaints_received,
                *(d.consumer_association.complaints_received for d in rows),
            ],
            "ca_complaints_closed": [
                report.consumer_association.complaints_closed,
                *(d.consumer_association.complaints_closed for d in rows),
            ],
            "ca_amount_recovered": [
                float(report.consumer_association.amount_recovered),
                *(float(d.consumer_association.amount_recovered) for d in rows),
            ],
            "consultations": [
                report.all_channels.consultations,
                *(d.all_channels.consultations for d in rows),
            ],
            "complaints": [
                report.all_channels.complaints,
                *(d.all_channels.complaints for d in rows),
            ],
            "reports": [report.all_channels.reports, *(d.all_channels.reports for d in rows)],
            "total": [report.all_channels.total, *(d.all_channels.total for d in rows)],
            "amount_disputed": [
                float(report.all_channels.amount_disputed),
                *(float(d.all_channels.amount_disputed) for d in rows),
            ],
            "amount_recovered": [
                float(report.all_channels.amount_recovered),
                *(float(d.all_channels.amount_recovered) for d in rows),
            ],
            "visits_and_consultations": [
                report.visits_and_consultations,
                *(d.visits_and_consultations for d in rows),
            ],
            "spot_check_batches": [
                report.spot_checks.batches,
                *(d.spot_checks.batches for d in rows),
            ],
            "spot_check_cases": [
                report.spot_checks.cases_opened,
                *(d.spot_checks.cases_opened for d in rows),
            ],
        }
    )


# The follow-up sheet's "handled_by" of a row that counts every handling body.
ALL_BODIES = "all"


def _followups_frame(report: AnnualReport) -> pl.DataFrame:
    """The follow-up figures, one row per place and handling body: the report's scope, then
    each district, each first for all bodies and then for each of ``HANDLERS``."""
    places = [(report.district_name or "全市", report.followups, report.followups_by_handler)]
    places += [(d.district_name, d.followups, d.followups_by_handler) for d in report.by_district]
    rows = [
        (name, body, figures)
        for name, whole, by_body in places
        for body, figures in ((ALL_BODIES, whole), *((h, by_body[h]) for h in HANDLERS))
    ]
    return pl.DataFrame(
        [_followup_row(name, body, f) for name, body, f in rows],
        schema={
            "district": pl.String,
            "handled_by": pl.String,
            "satisfied": pl.Int64,
            "basically_satisfied": pl.Int64,
            "dissatisfied": pl.Int64,
            "not_reached": pl.Int64,
            "answered": pl.Int64,
            "satisfaction_rate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "too_few": pl.Boolean,
        },
        orient="row",
    )


def _followup_row(name: str, body: str, f: FollowUps) -> tuple[Any, ...]:
    return (
        name,
        body,
        f.satisfied,
        f.basically_satisfied,
        f.dissatisfied,
        f.not_reached,
        f.answered,
        f.satisfaction_rate,
        f.ci_low,
        f.ci_high,
        f.too_few,
    )


def annual_xlsx(
    report: AnnualReport, headers: HeaderStyle = "label", locale: str | None = None
) -> bytes:
    """The report's tables as a workbook: the summary by district, the follow-up figures by
    district and handling body, channels, months, and the data dictionary; sheet names and
    headers in ``locale`` (the request's), the exact yuan in the cells."""
    from xlsxwriter import Workbook

    channels = pl.DataFrame(
        [_row(c) for c in report.by_channel], schema=_schema(ChannelFigures), orient="row"
    )
    months = pl.DataFrame(
        [_row(m) for m in report.by_month], schema=_schema(MonthFigures), orient="row"
    )
    sheets = [
        Sheet(_summary_frame(report), "annual_summary"),
        Sheet(_followups_frame(report), "annual_followups"),
        Sheet(channels, "annual_channels"),
        Sheet(months, "annual_months"),
    ]
    buffer = io.BytesIO()
    with Workbook(buffer, WORKBOOK_OPTIONS) as book:
        add_sheets(book, sheets, headers, locale or i18n.current_locale())
    return buffer.getvalue()


def _schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A frame schema of a struct of figures: money (Decimal) as a float of yuan."""
    kinds = {int: pl.Int64, float: pl.Float64, str: pl.String, Decimal: pl.Float64}
    hints = typing.get_type_hints(struct)
    return {
        name: kinds[next(t for t in (*typing.get_args(hints[name]), hints[name]) if t in kinds)]
        for name in struct.__struct_fields__
    }


def _row(struct: Any) -> tuple[Any, ...]:
    return tuple(
        float(v) if isinstance(v, Decimal) else v
        for v in (getattr(struct, name) for name in struct.__struct_fields__)
    )
