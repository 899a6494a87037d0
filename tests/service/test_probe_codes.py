"""Issue 29, item 7: a code ending in a new line. ``$`` matches before a final "\\n", so
``"PRB1\\n"`` passed a ``^...$`` check and later broke the headers of its poster and report.
Every pattern check is a full match; a file name in a header keeps safe characters only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from certificates import serials
from certificates.policy import Kind
from service.kernel.audit import Actor
from service.kernel.exports import disposition
from service.kernel.models import Area, AreaKind, Role
from service.register.imports import import_areas
from service.register.schemas import AreaIn
from service.register.store import AreaIndex, check_area
from tests.helpers import make_account, make_token
from tests.service.register.test_routes import CITY, DISTRICT
from tests.surveys.conftest import make_city

ENDS_IN_A_NEW_LINE = "PRB1\n"


@pytest.mark.parametrize(
    ("kind", "parent"), [("district", "411700"), ("street", "411702"), ("scenic_spot", "411702")]
)
async def test_an_area_code_ending_in_a_new_line_is_a_422_naming_the_code(
    client: httpx.AsyncClient, kind: str, parent: str
) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    for body in (CITY, DISTRICT):
        assert (await client.post("/api/v1/areas", json=body)).status_code == 201
    area = {"kind": kind, "name_zh": "测试", "name_en": "Probe", "parent": parent}
    r = await client.post("/api/v1/areas", json={"code": ENDS_IN_A_NEW_LINE, **area})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["code"]
    assert not await Area.filter(code=ENDS_IN_A_NEW_LINE).exists()


def test_the_one_area_check_refuses_a_trailing_new_line_for_every_door() -> None:
    # The API, the importer and the demo city all go through check_area.
    index = AreaIndex()
    index.add("411700", AreaKind.CITY, None)
    for code in (ENDS_IN_A_NEW_LINE, "PRB1\r\n", "\nPRB1", "PRB1\n\n"):
        area = AreaIn(code, AreaKind.DISTRICT, "测试", "Probe", "411700")
        assert [e.field for e in check_area(area, index)[1]] == ["code"], repr(code)


async def test_an_imported_code_with_a_new_line_around_it_is_stored_without_it(
    db: None, tmp_path: Path
) -> None:
    # A spreadsheet's cells are trimmed before any check: what is stored is the bare code.
    source = tmp_path / "areas.csv"
    source.write_text(
        'code,kind,name_zh,name_en,parent\n411700,city,驻马店市,Zhumadian,\n"PRB1\n",district,测试,Probe,411700\n',
        encoding="utf-8",
    )
    await import_areas(source, actor=Actor("cli", "test"))
    codes = [str(code) for code in await Area.all().values_list("code", flat=True)]
    assert sorted(codes) == ["411700", "PRB1"]


async def test_a_username_ending_in_a_new_line_is_refused(db: None) -> None:
    from service.kernel.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        await make_account("alice\n", Role.OFFICIAL)
    assert [e.field for e in caught.value.errors] == ["username"]


def test_a_serial_ending_in_a_new_line_or_with_other_digits_is_not_a_serial() -> None:
    serial = serials.make_serial("ZMD", 2026, Kind.MERCHANT, 1)
    assert serials.is_valid(serial)
    assert not serials.is_valid(serial + "\n")
    assert not serials.is_valid(serial.replace("2026", "２０２６"))


def test_a_file_name_in_a_header_keeps_safe_characters_only() -> None:
    assert disposition("inline", "poster-PRB1\n.pdf") == 'inline; filename="poster-PRB1_.pdf"'
    assert disposition("attachment", 'a"b\r\nc.pdf') == 'attachment; filename="a_b__c.pdf"'


async def test_a_code_stored_before_the_check_still_gets_its_poster(
    client: httpx.AsyncClient,
) -> None:
    # Stored rows are not migrated: the header must hold whatever the register holds.
    await make_city()
    district = await Area.get(code="411702")
    await Area.create(
        code=ENDS_IN_A_NEW_LINE,
        kind=AreaKind.STREET,
        name_zh="测试街",
        name_en="Probe",
        parent=district,
    )
    r = await client.get("/qr/PRB1%0A/poster.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'inline; filename="poster-PRB1_.pdf"'


async def test_a_district_stored_before_the_check_still_gets_its_annual_report(
    client: httpx.AsyncClient,
) -> None:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    await Area.create(
        code=ENDS_IN_A_NEW_LINE, kind=AreaKind.DISTRICT, name_zh="测试区", name_en="P", parent=city
    )
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    r = await client.get(
        "/api/v1/reports/annual", params={"year": 2026, "district": "PRB1\n", "format": "xlsx"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == (
        'attachment; filename="fangxin-annual-2026-PRB1_.xlsx"'
    )
