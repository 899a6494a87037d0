"""What a Chinese deployment prints at the foot of every page (issue 32, item 8): the bureau's
name and contact lines and the site's filing numbers — the ICP filing (ICP备案号, linking to
the MIIT's filing site) and the public-security filing (公安备案号, linking to its record) —
from FANGXIN_* settings, escaped, and nothing of them when unset."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import escape

from service.kernel.models import Role
from service.kernel.settings import Settings, SettingsError, Site, load_settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import login, make_account

HTML = {"accept": "text/html"}
SITE = Site(
    bureau_name="驻马店市市场监督管理局 <b>&",
    address="驻马店市驿城区<script>alert(1)</script>路1号",
    phone="0396-2345678",
    email="scjgj@example.gov.cn",
    icp_number='豫ICP备12345678号-1"><i>',
    public_security_number="豫公网安备41170202000123号",
)
ICP_LINK = 'href="https://beian.miit.gov.cn/"'
POLICE_LINK = 'href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=41170202000123"'


def footer(page: str) -> str:
    start = page.index('<footer class="site">')
    return page[start : page.index("</footer>", start)]


async def test_the_footer_shows_the_bureau_and_filings_escaped_on_every_kind_of_page(
    app_settings: Settings,
) -> None:
    await empty_database(app_settings)
    app = make_app(with_env(app_settings, site=SITE))
    async with serve_in_process(app, BASE_URL) as client:
        await make_account("admin1", Role.ADMIN)
        pages = [
            (await client.get("/", headers=HTML)).text,  # public
            (await client.get("/password-reset", headers=HTML)).text,  # a public form
            (await client.get("/nowhere", headers=HTML)).text,  # an error page
        ]
        assert await login(client, "admin1") == 303
        pages.append((await client.get("/account", headers=HTML)).text)  # signed in
        for page in pages:
            foot = footer(page)
            for text in (
                SITE.bureau_name,
                SITE.address,
                SITE.phone,
                SITE.email,
                SITE.icp_number,
                SITE.public_security_number,
            ):
                assert text is not None
                assert str(escape(text)) in foot, text
            for raw in ("<b>", "<script>", "<i>", '"><i>'):
                assert raw not in foot
            assert "&lt;script&gt;" in foot and "&lt;b&gt;" in foot
            assert foot.count(ICP_LINK) == 1 and foot.count(POLICE_LINK) == 1
            assert 'href="tel:0396-2345678"' not in foot and 'href="tel:03962345678"' in foot
            assert 'href="mailto:scjgj@example.gov.cn"' in foot
            assert "city market-regulation bureau" not in foot and "市场监督管理局" in foot
            # Links only: the page loads nothing from the registries.
            assert "<img" not in foot and "<script" not in foot


async def test_nothing_of_them_when_unset(app_settings: Settings) -> None:
    await empty_database(app_settings)
    async with serve_in_process(make_app(app_settings), BASE_URL) as client:
        for path in ("/", "/login", "/nowhere"):
            foot = footer((await client.get(path, headers=HTML)).text)
            assert "beian" not in foot and "<address" not in foot and "href" not in foot
            assert "12315" in foot  # the default sentence stays


def test_the_settings_come_from_fangxin_variables(tmp_path: Path) -> None:
    env = {
        "FANGXIN_DATA_DIR": str(tmp_path),
        "FANGXIN_BUREAU_NAME": " 驻马店市市场监督管理局 ",
        "FANGXIN_BUREAU_ADDRESS": "驻马店市驿城区解放路1号",
        "FANGXIN_BUREAU_PHONE": "+86 396 2345678",
        "FANGXIN_BUREAU_EMAIL": "scjgj@example.gov.cn",
        "FANGXIN_ICP_NUMBER": "豫ICP备12345678号-1",
        "FANGXIN_PUBLIC_SECURITY_NUMBER": "豫公网安备41170202000123号",
    }
    site = load_settings(env).site
    assert site == Site(
        bureau_name="驻马店市市场监督管理局",
        address="驻马店市驿城区解放路1号",
        phone="+86 396 2345678",
        email="scjgj@example.gov.cn",
        icp_number="豫ICP备12345678号-1",
        public_security_number="豫公网安备41170202000123号",
    )
    assert site.phone_link == "tel:+863962345678"
    assert site.public_security_url == (
        "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=41170202000123"
    )
    unset = load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ICP_NUMBER": "  "}).site
    assert unset == Site() and not unset.contact and unset.public_security_url is None


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FANGXIN_PUBLIC_SECURITY_NUMBER", "豫公网安备号", "record's digits"),
        ("FANGXIN_BUREAU_EMAIL", "not an address", "email address"),
        ("FANGXIN_BUREAU_EMAIL", "a@b@c", "email address"),
        ("FANGXIN_BUREAU_PHONE", "call us", "must hold a number"),
        ("FANGXIN_BUREAU_NAME", "局\n<b>", "one line"),
        ("FANGXIN_ICP_NUMBER", "豫" * 201, "one line"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError, match=name) as caught:
        load_settings({"FANGXIN_DATA_DIR": str(tmp_path), name: value})
    assert says in str(caught.value)
