"""QR codes and posters, checked the way a phone and a printer would see them.

Both are rasterised (WeasyPrint to PDF, then poppler) and decoded with zxing-cpp, so the tests
catch a QR that looks fine in markup but does not scan.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from service.kernel.pdf import NetworkFetchRefused
from service.kernel.qr import qr_svg
from surveys import qr

URL = "http://127.0.0.1:8000/s/merchant/91411702MA44XYZ12K"
ASCII_URL = "https://fangxin.example.gov.cn/s/scenic-spot/YC-0042?src=poster"
TARGET_NAME = "驿城区老王烩面馆"


def _decode_png(png: Path) -> list[zxingcpp.Barcode]:
    with Image.open(png) as image:
        return zxingcpp.read_barcodes(image)


def _rasterise_pdf(pdf: bytes, tmp_path: Path, name: str) -> Path:
    pdf_path = tmp_path / f"{name}.pdf"
    pdf_path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf_path), str(tmp_path / name)],
        check=True,
        timeout=60,
    )
    return tmp_path / f"{name}.png"


def _data_only_fetcher() -> Any:
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    # The test page's only resource is its data: URL; anything else is a bug, not a fetch.
    class DataOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: object = None) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"test page tried to fetch {url!r}")
            return super().fetch(url, headers)

    return DataOnly(fail_on_errors=True)


def _svg_to_pdf(svg: bytes) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]

    src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    page = (
        "<!DOCTYPE html><html><head><style>@page { size: 120mm; margin: 10mm }"
        "body { margin: 0 }</style></head>"
        f'<body><img src="{src}" alt="QR"></body></html>'
    )
    pdf: bytes = HTML(string=page, url_fetcher=_data_only_fetcher()).write_pdf()
    return pdf


def _assert_single_qr(png: Path, expected: str) -> None:
    barcodes = _decode_png(png)
    assert len(barcodes) == 1, barcodes
    # Exactly QRCode: MicroQRCode would decode here but most phone cameras ignore it.
    assert barcodes[0].format == zxingcpp.BarcodeFormat.QRCode
    assert barcodes[0].text == expected


@pytest.fixture(scope="module")
def posters() -> dict[bool, bytes]:
    # One render per demo flag: a render is ~0.1 s warm but ~1 s with the first import.
    return {
        demo: qr.poster_pdf(
            title_zh="放心消费满意度调查（商户）",
            title_en="Trusted consumption satisfaction survey (merchants)",
            target_name=TARGET_NAME,
            target_address="河南省驻马店市驿城区解放路 88 号",
            url=URL,
            demo=demo,
        )
        for demo in (True, False)
    }


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    pdf_path = tmp_path / "text.pdf"
    pdf_path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def test_survey_url_joins_parts() -> None:
    assert qr.survey_url("http://127.0.0.1:8000", "merchant", "91411702MA44XYZ12K") == URL


def test_survey_url_quotes_odd_characters() -> None:
    url = qr.survey_url("https://x.example", "scenic spot", "A/B 1?#%老王")
    assert url == "https://x.example/s/scenic%20spot/A%2FB%201%3F%23%25%E8%80%81%E7%8E%8B"


@pytest.mark.parametrize("url", [URL, ASCII_URL])
def test_svg_decodes_to_the_url(url: str, tmp_path: Path) -> None:
    svg = qr_svg(url)
    png = _rasterise_pdf(_svg_to_pdf(svg), tmp_path, "svg")
    _assert_single_qr(png, url)


def test_svg_is_plain_and_self_contained() -> None:
    svg = qr_svg(URL).decode("utf-8")
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    assert f"<title>{URL}</title>" in svg
    assert 'stroke="#000"' in svg
    assert 'fill="#fff"' in svg
    # The namespace declaration is the only URL allowed: no links, images or stylesheets.
    assert svg.count("http://www.w3.org/2000/svg") == 1
    assert svg.replace("http://www.w3.org/2000/svg", "").count("http") == 1  # the title
    assert "href" not in svg
    assert "url(" not in svg
    # Version 4 with a 4-module border: 41 modules at 8 px.
    assert 'width="328" height="328"' in svg


def test_svg_escapes_the_title() -> None:
    svg = qr_svg("http://h/s/a/<b>&c").decode("utf-8")
    assert "<title>http://h/s/a/&lt;b&gt;&amp;c</title>" in svg


def test_poster_is_one_a4_page(posters: dict[bool, bytes], tmp_path: Path) -> None:
    for demo, pdf in posters.items():
        assert pdf.startswith(b"%PDF"), demo
        path = tmp_path / f"poster-{demo}.pdf"
        path.write_bytes(pdf)
        reader = PdfReader(path)
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert float(box.width) == pytest.approx(595.28, abs=1)
        assert float(box.height) == pytest.approx(841.89, abs=1)


def test_poster_text(posters: dict[bool, bytes], tmp_path: Path) -> None:
    for demo, pdf in posters.items():
        text = _pdftotext(pdf, tmp_path)
        for expected in ("扫码评价", "Scan to rate", TARGET_NAME, URL, "解放路 88 号"):
            assert expected in text, (demo, expected)
        assert "放心消费满意度调查（商户）" in text
        assert "市场监督管理局 · 放心消费" in text
        assert ("演示" in text) is demo
        assert ("DEMO" in text) is demo


def test_poster_without_address(tmp_path: Path) -> None:
    pdf = qr.poster_pdf(
        title_zh="放心消费满意度调查（街区）",
        title_en="Trusted consumption survey (streets)",
        target_name="乐山大道",
        target_address=None,
        url=ASCII_URL,
        demo=False,
    )
    text = _pdftotext(pdf, tmp_path)
    assert "乐山大道" in text
    assert "None" not in text
    _assert_single_qr(_rasterise_pdf(pdf, tmp_path, "street"), ASCII_URL)


def test_poster_embeds_noto_cjk(posters: dict[bool, bytes], tmp_path: Path) -> None:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(posters[False])
    resources = PdfReader(path).pages[0]["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    fonts = resources["/Font"].get_object()
    assert isinstance(fonts, DictionaryObject)
    names = [str(font.get_object()["/BaseFont"]) for font in fonts.values()]
    assert any("Noto-Sans-CJK-SC" in name or "NotoSansCJK" in name for name in names), names


def test_poster_qr_decodes(posters: dict[bool, bytes], tmp_path: Path) -> None:
    for demo, pdf in posters.items():
        png = _rasterise_pdf(pdf, tmp_path, f"poster-{demo}")
        _assert_single_qr(png, URL)


def test_poster_escapes_user_text(tmp_path: Path) -> None:
    pdf = qr.poster_pdf(
        title_zh="调查",
        title_en="Survey",
        target_name="<b>老王</b> & 子",
        target_address=None,
        url=URL,
        demo=False,
    )
    assert "<b>老王</b> & 子" in _pdftotext(pdf, tmp_path)


def test_poster_refuses_every_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A template that needs a resource must fail loudly rather than print without it.
    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {"poster.html": '<p>{{ target_name }}</p><img src="http://127.0.0.1:9/x.png">'}
        ),
        autoescape=True,
    )
    monkeypatch.setattr(qr, "_env", env)
    with pytest.raises(NetworkFetchRefused, match=r"127\.0\.0\.1:9"):
        qr.poster_pdf(
            title_zh="调查",
            title_en="Survey",
            target_name="老王",
            target_address=None,
            url=URL,
            demo=False,
        )
