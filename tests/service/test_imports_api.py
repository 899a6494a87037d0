"""Spreadsheet imports over HTTP and their templates (issue 32): Chinese or English headers,
UTF-8, UTF-8 with a BOM or GB18030/GBK, the encoding named in the answer; a file in neither is
a 422 naming the file."""

from __future__ import annotations

import io
import random

import httpx
import polars as pl

from scoring.credit.models import Complaint
from service.kernel.models import Area, Merchant, Role
from service.register.uscc import generate
from tests.helpers import make_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AREAS_CSV = (
    "code,kind,name_zh,name_en,parent\n"
    "411700,city,驻马店市,Zhumadian,\n"
    "411702,district,驿城区,Yicheng District,411700\n"
)
ZH_MERCHANT_HEADERS = (
    "统一社会信用代码,名称,行业类别,经营地址,所属区县,所属街道,所属景区,经营状态,信用代码免校验"
)


def _usccs(n: int) -> list[str]:
    rng = random.Random(7)
    return [generate(rng, "411702") for _ in range(n)]


def _merchant_lines() -> list[str]:
    a, b = _usccs(2)
    return [
        f"{a},老王烩面,catering,解放路 12 号,411702,,,active,",
        f"{b},山门客栈,lodging,,411702,,,,",
    ]


async def _official(client: httpx.AsyncClient) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL, 'city')}"


async def _post(
    client: httpx.AsyncClient, kind: str, name: str, content: bytes, query: str = ""
) -> httpx.Response:
    files = {"file": (name, content, "application/octet-stream")}
    return await client.post(f"/api/v1/imports/{kind}{query}", files=files)


async def test_the_merchants_xlsx_template_has_chinese_headers_and_a_data_dictionary(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)

    r = await client.get("/api/v1/imports/templates/merchants.xlsx")

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == 'attachment; filename="merchants-template.xlsx"'
    sheets = pl.read_excel(io.BytesIO(r.content), sheet_id=0, infer_schema_length=0)
    assert list(sheets) == ["商户", "填写说明"]
    assert sheets["商户"].columns == ZH_MERCHANT_HEADERS.split(",")
    assert sheets["商户"].height == 0  # no example row to import by mistake
    dictionary = sheets["填写说明"]
    assert dictionary.columns == ["列名", "字段名（英文列名）", "是否必填", "说明", "示例"]
    first = dictionary.row(0)
    assert first[:3] == ("统一社会信用代码", "uscc", "是")
    assert dictionary.row(4)[:3] == ("所属区县", "district", "是")
    assert dictionary.row(5)[:3] == ("所属街道", "street", "否")


async def test_the_csv_template_is_the_header_row_with_a_bom(client: httpx.AsyncClient) -> None:
    await _official(client)

    r = await client.get("/api/v1/imports/templates/complaints.csv")

    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")
    header = r.content.decode("utf-8-sig")
    assert header.startswith("登记编号,统一社会信用代码,登记时间,受理时间,办结时间,处理状态,")
    assert header.endswith("违反承诺\r\n")
    assert (await client.get("/api/v1/imports/templates/complaints.pdf")).status_code == 404
    assert (await client.get("/api/v1/imports/templates/nothing.csv")).status_code == 404


async def test_a_filled_template_saved_as_gbk_imports_and_names_its_encoding(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    areas = await _post(client, "areas", "areas.csv", AREAS_CSV.encode())
    assert areas.json() == {
        "kind": "areas",
        "file": "areas.csv",
        "encoding": "utf-8",
        "encoding_name": "UTF-8",
        "dry_run": False,
        "counts": {"rows": 2, "created": 2, "updated": 0, "unchanged": 0},
    }
    template = (await client.get("/api/v1/imports/templates/merchants.csv")).content
    filled = "\r\n".join([template.decode("utf-8-sig").rstrip(), *_merchant_lines()]) + "\r\n"

    dry = await _post(client, "merchants", "商户名录.csv", filled.encode("gbk"), "?dry_run=true")
    assert dry.status_code == 200, dry.text
    assert (dry.json()["encoding"], dry.json()["dry_run"]) == ("gb18030", True)
    assert await Merchant.all().count() == 0
    r = await _post(client, "merchants", "商户名录.csv", filled.encode("gbk"))

    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "merchants",
        "file": "商户名录.csv",
        "encoding": "gb18030",
        "encoding_name": "GB18030/GBK",
        "dry_run": False,
        "counts": {"rows": 2, "created": 2, "updated": 0, "unchanged": 0},
    }
    assert sorted(await Merchant.all().values_list("name", "category")) == [
        ("山门客栈", "lodging"),
        ("老王烩面", "catering"),
    ]
    # The same rows with English headers in UTF-8 with a BOM change nothing.
    english = "uscc,name,category,address,district,street,scenic_spot,status,uscc_override\n"
    again = (english + "\n".join(_merchant_lines()) + "\n").encode("utf-8-sig")
    r = await _post(client, "merchants", "merchants.csv", again)
    assert (r.json()["encoding"], r.json()["counts"]["unchanged"]) == ("utf-8-sig", 2)


async def test_a_gbk_intake_file_with_chinese_headers_is_stored(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    csv = (
        "登记编号,登记时间,处理状态,问题类别,被投诉方名称\n"
        "Q-1,2026-05-12T09:30:00+08:00,received,餐饮,无名小店\n"
    )

    r = await _post(client, "complaints", "12315.csv", csv.encode("gbk"))

    assert r.status_code == 200, r.text
    assert r.json()["encoding"] == "gb18030"
    assert r.json()["counts"]["stored"] == 1
    stored = await Complaint.get(external_id="Q-1")
    assert (stored.category, stored.party_name) == ("餐饮", "无名小店")


async def test_a_file_in_neither_encoding_is_a_422_naming_the_file(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    utf16 = AREAS_CSV.encode("utf-16-le")  # no BOM

    r = await _post(client, "areas", "areas.csv", utf16)

    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == "areas.csv: 1 problem(s); nothing was imported"
    assert body["errors"] == [
        {
            "field": "file",
            "message": "is neither UTF-8 nor GB18030/GBK text (a NUL character at character "
            "2: UTF-16 or not text at all); save it from Excel or WPS as CSV UTF-8 or as an "
            ".xlsx workbook",
        }
    ]
    assert await Area.all().count() == 0


async def test_a_bad_cell_is_a_422_naming_its_row_and_column(client: httpx.AsyncClient) -> None:
    await _official(client)
    bad = "区域代码,区域类型,中文名称,英文名称\nX,planet,火星,Mars\n"

    r = await _post(client, "areas", "a.csv", bad.encode("gbk"))

    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["rows[2].kind"]
    assert (await _post(client, "areas", "a.txt", bad.encode())).status_code == 422
    assert (await _post(client, "nothing", "a.csv", bad.encode())).status_code == 404


async def test_the_public_may_neither_import_nor_fetch_templates(
    client: httpx.AsyncClient,
) -> None:
    # Who else may not (merchants, district officials, feeds) is tests/service/test_authz_matrix.
    assert (await client.get("/api/v1/imports/templates/areas.xlsx")).status_code == 401
    assert (await _post(client, "areas", "areas.csv", AREAS_CSV.encode())).status_code in (
        401,
        403,
    )
