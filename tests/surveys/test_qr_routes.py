"""QR codes and posters served for real targets point at the right survey."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.kernel.settings import Settings
from tests.surveys.conftest import make_city
from tests.surveys.test_qr import _assert_single_qr, _rasterise_pdf, _svg_to_pdf


async def test_a_merchants_qr_code_decodes_to_its_survey(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    r = await client.get(f"/qr/{city.merchant}.svg")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    png = _rasterise_pdf(_svg_to_pdf(r.content), tmp_path, "merchant")
    _assert_single_qr(png, f"{app_settings.base_url}/s/merchant/{city.merchant}")


async def test_a_streets_poster_carries_its_name_and_code(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    r = await client.get(f"/qr/{city.street}/poster.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    png = _rasterise_pdf(r.content, tmp_path, "street")
    _assert_single_qr(png, f"{app_settings.base_url}/s/street/{city.street}")


async def test_unknown_targets_have_no_qr_code(client: httpx.AsyncClient) -> None:
    await make_city()
    assert (await client.get("/qr/nothing.svg")).status_code == 404
    assert (await client.get("/qr/411702.svg")).status_code == 404  # a district is not rated
    assert (await client.get("/qr/411702-ST01.png")).status_code == 404
