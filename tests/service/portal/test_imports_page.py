"""The officials' imports page (issue 32): templates to download, a file imported with its
encoding named, a refused file shown with its problems."""

from __future__ import annotations

import httpx

from service.kernel.models import Area, Role
from tests.helpers import csrf, login, make_account

AREAS_ZH = "区域代码,区域类型,中文名称,英文名称,上级区域代码\n411700,city,驻马店市,Zhumadian,\n"


async def _signed_in(client: httpx.AsyncClient) -> str:
    await make_account("city", Role.OFFICIAL)
    assert await login(client, "city") == 303
    return await csrf(client)


async def _post(
    client: httpx.AsyncClient, token: str, kind: str, name: str, content: bytes
) -> httpx.Response:
    return await client.post(
        "/official/imports",
        data={"kind": kind, "_csrf_token": token},
        files={"file": (name, content, "text/csv")},
    )


async def test_the_page_links_every_template_and_the_desk_links_the_page(
    client: httpx.AsyncClient,
) -> None:
    await _signed_in(client)

    page = await client.get("/official/imports")

    assert page.status_code == 200
    for kind in ("areas", "merchants", "credit", "complaints", "visits", "spot-checks"):
        assert f'href="/api/v1/imports/templates/{kind}.xlsx"' in page.text
        assert f'href="/api/v1/imports/templates/{kind}.csv"' in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'name="_csrf_token"' in page.text
    desk = await client.get("/official")
    assert 'href="/official/imports"' in desk.text


async def test_a_gbk_file_is_imported_and_its_encoding_named(client: httpx.AsyncClient) -> None:
    token = await _signed_in(client)

    r = await _post(client, token, "areas", "区域.csv", AREAS_ZH.encode("gbk"))

    assert r.status_code == 200, r.text
    assert "区域.csv 按 GB18030/GBK 读取。" in r.text
    assert "<li>行数: 1</li>" in r.text and "<li>新增: 1</li>" in r.text
    assert await Area.filter(code="411700").exists()


async def test_a_file_in_neither_encoding_is_shown_refused(client: httpx.AsyncClient) -> None:
    token = await _signed_in(client)

    r = await _post(client, token, "areas", "a.csv", AREAS_ZH.encode("utf-16-le"))

    assert r.status_code == 422
    assert 'role="alert"' in r.text
    assert "a.csv: is neither UTF-8 nor GB18030/GBK text" in r.text
    assert await Area.all().count() == 0
    assert (await _post(client, token, "nothing", "a.csv", b"x")).status_code == 422
