"""Every export speaks the reader's language: each CSV/XLSX route of the route table, called
on the demo city, names each column by a Chinese label (English with the English
interface), with a data dictionary sheet in the XLSX, and ``?headers=machine`` keeps the
snake_case machine names for programs. A new export route, or a new column without a label
in ``service.kernel.columns``, fails here."""

from __future__ import annotations

import csv
import io
import re
import typing
from datetime import UTC, datetime

import httpx
import polars as pl
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from service.demo import load_demo
from service.kernel import columns
from service.kernel.exports import export_bytes
from service.kernel.localtime import to_local
from service.kernel.models import Role
from service.kernel.settings import Settings
from service.openapi import CONTENT
from tests.conftest import make_app
from tests.helpers import SMALL_INTAKE, TEST_ACTOR, csrf, login, make_account

SPREADSHEETS = {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CJK = re.compile(r"[\u4e00-\u9fff]")
MACHINE = re.compile(r"[A-Za-z0-9_]+")
YEAR = to_local(datetime.now(UTC)).year  # the demo's confirmed review
LAST_YEAR = YEAR - 1

# Every export route (its path in the route table) with the calls that try it: "{fmt}" is
# csv or xlsx. A route the table has and this lacks, or the reverse, fails.
EXPORTS: dict[str, tuple[str, ...]] = {
    "/api/v1/surveys/{survey:str}/responses": ("/api/v1/surveys/merchant/responses?format={fmt}",),
    "/official/audit": ("/official/audit?format={fmt}",),
    "/official/flags": ("/official/flags?format={fmt}",),
    "/official/appeals": ("/official/appeals?format={fmt}",),
    "/official/certificates/eligibility": (
        "/official/certificates/eligibility?kind=merchant&format={fmt}",
        "/official/certificates/eligibility?kind=street&format={fmt}",
        "/official/certificates/eligibility?kind=scenic_spot&format={fmt}",
    ),
    "/official/runs": ("/official/runs?format={fmt}",),
    "/official/scores": ("/official/scores?kind=merchant&format={fmt}",),
    "/api/v1/scoring/runs/{run_id:int}/export": ("/api/v1/scoring/runs/{run}/export?format={fmt}",),
    "/api/v1/complaints/figures": ("/api/v1/complaints/figures?format={fmt}",),
    "/api/v1/credit/classes": ("/api/v1/credit/classes?format={fmt}",),
    "/api/v1/reports/annual": (f"/api/v1/reports/annual?year={YEAR}&format=xlsx",),
    "/lists/{edition:str}": (f"/lists/{YEAR}.{{fmt}}",),
    "/api/v1/certificates/reviews/{year:int}/list": (
        f"/api/v1/certificates/reviews/{YEAR}/list?format={{fmt}}",
    ),
    "/api/v1/complaint-records": ("/api/v1/complaint-records?format=csv",),
}

# Spreadsheets that are not exports: an import's template is the import's columns, headed in
# Chinese with a 填写说明 sheet (tests/service/test_imports_api.py reads each one back).
NOT_EXPORTS: frozenset[str] = frozenset({"/api/v1/imports/templates/{name:str}"})


def _formats(handler: typing.Any) -> set[str]:
    """The spreadsheet formats a handler's ``format`` parameter offers."""
    field = handler.parsed_fn_signature.parameters.get("format")
    if field is None:
        return set()
    return {str(v) for v in typing.get_args(field.annotation)} & {"csv", "xlsx"}


def export_routes(app: Litestar) -> dict[str, bool]:
    """Every GET route answering CSV or XLSX (by its ``format`` parameter, its documented
    media types, or its ``?headers=``), and whether it offers ``?headers=machine``."""
    found: dict[str, bool] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "GET" not in handler.http_methods:
                continue
            hints = handler.parsed_fn_signature.parameters
            plain = re.sub(r":\w+\}", "}", route.path)
            documented = SPREADSHEETS & set(CONTENT.get(("get", plain), {}))
            if route.path in NOT_EXPORTS:
                continue
            if _formats(handler) or documented or "header_row" in hints:
                found[route.path] = "header_row" in hints
    return found


def test_every_export_route_is_tried_here_and_offers_the_machine_names(
    migrated: Settings,
) -> None:
    routes = export_routes(make_app(migrated))
    assert routes.keys() - EXPORTS.keys() == set(), "export routes not tried in EXPORTS"
    assert EXPORTS.keys() - routes.keys() == set(), "EXPORTS names routes that are gone"
    assert [path for path, machine in routes.items() if not machine] == []


def test_every_catalogued_column_has_a_chinese_and_an_english_label() -> None:
    for kind, catalog in columns.CATALOG.items():
        zh = columns.labels(kind, list(catalog), "zh_CN")
        en = columns.labels(kind, list(catalog), "en")
        for name, zh_label, en_label in zip(catalog, zh, en, strict=True):
            assert CJK.search(zh_label), (kind, name, zh_label)
            assert en_label != name and "_" not in en_label, (kind, name, en_label)
            assert catalog[name].description, (kind, name)
        assert len(set(zh)) == len(zh), kind
        assert CJK.search(columns.sheet_name(kind, "zh_CN")), kind
        assert len(columns.sheet_name(kind, "zh_CN")) <= 31


def test_a_column_without_a_label_is_refused() -> None:
    frame = pl.DataFrame({"id": [1], "brand_new_column": ["x"]})
    with pytest.raises(columns.UnlabelledColumn, match="brand_new_column"):
        export_bytes(frame, "csv", "audit")
    with pytest.raises(columns.UnlabelledColumn):  # the machine names are checked as well
        export_bytes(frame, "csv", "audit", "machine")


def test_labels_follow_the_locale_and_patterns_name_what_they_stand_for() -> None:
    assert columns.label("complaint_figures", "amount_recovered", "zh_CN") == "挽回经济损失"
    assert columns.label("complaint_figures", "amount_recovered", "en") == "Amount recovered"
    assert columns.label("eligibility", "score_passed", "zh_CN") == "已发布得分：是否达标"
    assert columns.label("complaint_records", "excluded", "zh_CN") == "不予公示"
    assert columns.label("complaint_records", "mediation_success_percent", "zh_CN") == (
        "调解成功率（%）"
    )
    assert columns.label("complaint_records", "merchant_first_ci_low", "en") == (
        "Settled first by the merchant: 95% low"
    )


def _header_problems(headers: list[str]) -> list[str]:
    """Headers a person would read as code: no Chinese in them, or snake_case."""
    return [h for h in headers if not CJK.search(h) or MACHINE.fullmatch(h)]


async def _official(client: httpx.AsyncClient) -> None:
    await make_account("cityofficial", Role.OFFICIAL)
    assert await login(client, "cityofficial") == 303
    client.headers["x-csrftoken"] = await csrf(client)


@pytest.mark.db
async def test_every_export_has_chinese_headers_and_a_data_dictionary(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from scoring.satisfaction.models import RunStatus, ScoreRun

    await load_demo(app_settings, actor=TEST_ACTOR, responses=300, intake=SMALL_INTAKE)
    await _official(client)
    run = await ScoreRun.filter(status=RunStatus.PUBLISHED).first()
    assert run is not None
    tried = 0
    for calls in EXPORTS.values():
        for template in calls:
            for fmt in ("csv", "xlsx"):
                if "{fmt}" not in template and not template.endswith(fmt):
                    continue
                url = template.replace("{fmt}", fmt).replace("{run}", str(run.id))
                r = await client.get(url)
                assert r.status_code == 200, (url, r.text[:300])
                machine = await client.get(url + ("&" if "?" in url else "?") + "headers=machine")
                assert machine.status_code == 200, url
                if fmt == "csv":
                    header = next(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
                    names = next(csv.reader(io.StringIO(machine.content.decode("utf-8-sig"))))
                    assert header and _header_problems(header) == [], url
                    assert all(MACHINE.fullmatch(n) for n in names), (url, names)
                    assert len(names) == len(header), url
                else:
                    book = pl.read_excel(io.BytesIO(r.content), sheet_id=0)
                    *sheets, words = book
                    assert words == "数据字典", url
                    listed = set(book[words]["字段名"].to_list())
                    for sheet in sheets:
                        assert CJK.search(sheet), (url, sheet)
                        assert _header_problems(book[sheet].columns) == [], (url, sheet)
                    raw = pl.read_excel(io.BytesIO(machine.content), sheet_id=0)
                    for sheet in sheets:
                        assert set(raw[sheet].columns) <= listed, (url, sheet)
                tried += 1
    assert tried >= 25


async def test_the_interface_language_chooses_the_headers(client: httpx.AsyncClient) -> None:
    await _official(client)
    await client.get("/", params={"lang": "en"})
    r = await client.get("/official/audit", params={"format": "csv"})
    header = r.content.decode("utf-8-sig").splitlines()[0]
    assert header == "Event number,Time,Actor,Action,Subject,Details"
    book = pl.read_excel(
        io.BytesIO((await client.get("/official/audit", params={"format": "xlsx"})).content),
        sheet_id=0,
    )
    assert list(book) == ["Audit log", "Data dictionary"]
    assert book["Data dictionary"].row(0) == (
        "Audit log",
        "Event number",
        "id",
        "integer",
        None,
        "The audit event's number",
    )


def test_spreadsheet_cells_keep_exact_yuan_and_show_them_as_officials_write() -> None:
    import zipfile

    frame = pl.DataFrame(
        {
            "period": ["2025"],
            "district": ["411702"],
            "district_name": ["驿城区"],
            "received": [12345],
            "closed": [12000],
            "closure_rate": [0.972],
            "overdue": [3],
            "upheld": [40],
            "amount_disputed": [18919639.8],
            "amount_recovered": [5592624.21],
        }
    )
    book = export_bytes(frame, "xlsx", "complaint_figures")
    sheet = pl.read_excel(io.BytesIO(book), sheet_name="投诉统计")
    assert sheet["争议金额"].to_list() == [18919639.8]  # the exact yuan, not rounded
    styles = zipfile.ZipFile(io.BytesIO(book)).read("xl/styles.xml").decode()
    # Money with two decimals and separators, a fraction as a percentage, counts grouped.
    for shown in ('formatCode="#,##0.00"', 'formatCode="0.0%"', 'formatCode="#,##0"'):
        assert shown in styles, shown
