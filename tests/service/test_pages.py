"""Public pages: Chinese by default, English on request, safe headers, nothing external."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from babel.messages.pofile import read_po
from litestar.enums import MediaType

from service.demo import load_demo
from service.kernel import i18n
from service.kernel.settings import Settings, load_settings
from tests.helpers import SMALL_INTAKE, TEST_ACTOR

TRANSLATIONS = i18n.CATALOG_DIRS[0]
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", re.I)


async def test_home_page_is_chinese_by_default_and_shows_the_demo_city(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await load_demo(app_settings, actor=TEST_ACTOR, responses=500, intake=SMALL_INTAKE)
    r = await client.get("/")
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text
    assert "驻马店市" in r.text
    assert "商业街区" in r.text and "解放路商业步行街" in r.text
    assert "演示数据" in r.text
    assert len(r.content) < 100_000


async def test_english_is_one_click_away_and_remembered(client: httpx.AsyncClient) -> None:
    r = await client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in r.text
    assert "Check a certificate" in r.text and "Find a merchant" in r.text
    assert "lang=en" in r.headers["set-cookie"]
    r = await client.get("/login")
    assert "Sign in" in r.text and "登录" not in r.text


async def test_merchant_search_finds_by_name(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await load_demo(app_settings, actor=TEST_ACTOR, responses=500, intake=SMALL_INTAKE)
    r = await client.get("/api/v1/merchants", params={"page_size": 1})
    name = r.json()["items"][0]["name"]
    page = await client.get("/", params={"q": name})
    assert page.status_code == 200
    assert name in page.text
    assert "找到" in page.text


async def test_output_is_escaped(client: httpx.AsyncClient) -> None:
    r = await client.get("/", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text


async def test_every_page_carries_security_headers_and_loads_nothing_external(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/login", "/nowhere", "/schema", "/healthz", "/api/v1/areas"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-request-id"]
        if "text/html" in r.headers.get("content-type", ""):
            assert not EXTERNAL.search(r.text), path


async def test_api_reference_is_served_by_us(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert "/static/vendor/redoc.standalone.js" in page.text
    assert "fonts.googleapis" not in page.text and "cdn." not in page.text
    js = await client.get("/static/vendor/redoc.standalone.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/merchants" in spec["paths"]


async def test_unknown_page_is_a_friendly_chinese_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/nowhere", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert "页面不存在" in r.text


async def test_the_language_link_stays_on_this_site_whatever_the_path(
    client: httpx.AsyncClient,
) -> None:
    for path, link in (
        ("//evil.example/x", "/evil.example/x?lang=en"),
        ("///evil.example/x", "/evil.example/x?lang=en"),
        ("/%5C%5Cevil.example/x", "/%5C%5Cevil.example/x?lang=en"),
        ("/nowhere?q=1", "/nowhere?q=1&amp;lang=en"),
    ):
        r = await client.get(httpx.URL(f"http://testserver.local{path}"))
        assert r.status_code == 404
        hrefs = re.findall(r'href="([^"]*lang=en[^"]*)"', r.text)
        assert hrefs == [link], (path, hrefs)
        assert not EXTERNAL.search(r.text), path


async def test_pages_that_need_sign_in_redirect_to_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Faccount"


async def test_static_files_cannot_escape_their_folder(client: httpx.AsyncClient) -> None:
    for path in (
        "/static/../settings.py",
        "/static/..%2f..%2fsettings.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
    ):
        r = await client.get(path)
        assert r.status_code in (400, 404), path
        assert "FANGXIN" not in r.text


def test_every_message_has_a_chinese_translation() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    with (TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        zh = read_po(fh, locale="zh_CN")
    missing = []
    for message in template:
        if not message.id:
            continue
        found = zh.get(message.id)
        text = found.string if found else None
        if isinstance(text, tuple | list):
            text = text[0]
        if not text:
            missing.append(message.id)
    assert missing == [], "untranslated; run `make messages` and fill in zh_CN"


def test_catalog_is_current_with_the_code() -> None:
    """Every string marked in code or templates is in the catalog template."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = root / ".pytest-messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    try:
        subprocess.run(
            [
                str(pybabel),
                "extract",
                "-F",
                "babel.cfg",
                "-k",
                "_",
                "-k",
                "gettext",
                "-k",
                "N_",
                "-k",
                "ngettext:1,2",
                "--no-location",
                "--sort-output",
                "--omit-header",
                "-o",
                str(out),
                "service",
                "surveys",
                "scoring",
                "certificates",
            ],
            cwd=root,
            check=True,
            capture_output=True,
        )
        with out.open("rb") as fh:
            fresh = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    finally:
        out.unlink(missing_ok=True)
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        current = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert fresh - current == set(), "new strings: run `make messages`"


async def test_every_route_answers_with_the_security_headers(
    client: httpx.AsyncClient,
) -> None:
    """Every GET route of the route table, whatever it answers (page, JSON, file, error)."""
    from tests.service.test_authz_matrix import RULES, concrete

    paths = sorted(concrete(path) for method, path in RULES if method == "GET")
    assert len(paths) > 40
    for path in paths:
        r = await client.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "http" not in csp, (path, csp)
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert r.headers.get("referrer-policy"), path


def test_every_form_that_may_answer_with_its_page_again_answers_html(tmp_path: Path) -> None:
    """A page's form handler returns a redirect, or the page again with the refusal named.
    Typed loosely (``Any``), Litestar answers as JSON: the browser then shows the page's HTML
    as text. Every such handler declares HTML."""
    from typing import Any as AnyType

    from service.app import create_app

    app = create_app(load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "test"}))
    loose = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.include_in_schema or "POST" not in handler.http_methods:
                continue
            if handler.parsed_fn_signature.return_type.annotation is not AnyType:
                continue
            if handler.media_type != MediaType.HTML:
                loose.append(route.path)
    assert loose == []
