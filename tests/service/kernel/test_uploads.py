"""Uploads: recognised by content, capped, and stripped of what a camera says about the person
while the picture stays the same."""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from service.kernel import i18n, uploads
from service.kernel.uploads import Upload

MB = 1024 * 1024
GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_locale("en")
    yield
    i18n.set_locale(i18n.DEFAULT_LOCALE)


def photo_with_exif() -> bytes:
    """A JPEG as a phone writes it: EXIF with the camera, the time and a GPS position, a
    comment, and an XMP packet."""
    img = Image.new("RGB", (16, 16), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:10:01 09:30:00"  # DateTime
    exif[GPS_IFD] = {1: "N", 2: (32.0, 58.0, 30.0), 3: "E", 4: (114.0, 1.0, 0.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, comment=b"taken at home", xmp=b"<x:xmpmeta>me</x:xmpmeta>")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Zhang San")
    info.add_itxt("Comment", "我家地址")
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (8, 8), (0, 90, 200)).save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def check(*files: Upload) -> tuple[list[uploads.CheckedFile], list[str]]:
    kept, errors = uploads.check(files, max_files=5, max_bytes=5 * MB, strip=True)
    return kept, [f"{e.field}: {e.message}" for e in errors]


def test_exif_gps_and_comments_leave_a_jpeg_and_the_picture_stays() -> None:
    original = photo_with_exif()
    assert b"PhoneMaker" in original and b"taken at home" in original and b"xmpmeta" in original
    (kept,), errors = check(Upload("IMG_0001.jpg", original))
    assert errors == []
    assert kept.media_type == "image/jpeg"
    for trace in (b"PhoneMaker", b"2026:10:01", b"taken at home", b"xmpmeta", b"Exif\x00\x00"):
        assert trace not in kept.content
    stripped = Image.open(io.BytesIO(kept.content))
    assert not stripped.getexif()
    assert stripped.tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_text_and_exif_chunks_leave_a_png_and_the_picture_stays() -> None:
    original = png_with_text()
    assert b"Zhang San" in original and b"eXIf" in original
    (kept,), errors = check(Upload("shot.png", original))
    assert errors == []
    assert b"Zhang San" not in kept.content and b"eXIf" not in kept.content
    assert b"iTXt" not in kept.content
    image = Image.open(io.BytesIO(kept.content))
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_disguised_and_foreign_files_are_refused_by_content_not_name() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.jpg", photo_with_exif())
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    html = b"<!doctype html><script>alert(document.cookie)</script>"
    kept, errors = check(
        Upload("cat.jpg", svg),
        Upload("receipt.jpg", html),
        Upload("evidence.jpg", archive.getvalue()),
        Upload("photo.png", b"MZ\x90\x00program"),
    )
    assert kept == []
    assert errors == [
        "files[0]: cat.jpg is not a PDF, JPEG or PNG file",
        "files[1]: receipt.jpg is not a PDF, JPEG or PNG file",
        "files[2]: evidence.jpg is not a PDF, JPEG or PNG file",
        "files[3]: photo.png is not a PDF, JPEG or PNG file",
    ]


def test_a_truncated_image_is_refused_as_incomplete() -> None:
    photo = photo_with_exif()
    kept, errors = check(Upload("half.jpg", photo[:40]), Upload("half.png", png_with_text()[:30]))
    assert kept == []
    assert errors == [
        "files[0]: half.jpg is not a complete image",
        "files[1]: half.png is not a complete image",
    ]


def test_size_and_number_are_capped() -> None:
    big = b"%PDF-1.4\n" + b"0" * (5 * MB)
    kept, errors = check(Upload("big.pdf", big))
    assert kept == [] and errors == ["files[0]: big.pdf is larger than 5 MB"]
    pdf = Upload("a.pdf", b"%PDF-1.4\n%%EOF\n")
    kept, errors = check(*[pdf] * 6)
    assert kept == [] and errors == ["files: At most 5 files"]


def test_a_pdf_is_kept_as_sent() -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
    (kept,), _ = check(Upload("receipt.pdf", pdf))
    assert kept.content == pdf and kept.media_type == "application/pdf"


def test_the_store_keeps_one_copy_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = uploads.FileStore(tmp_path / "evidence")
    (kept,), _ = check(Upload("a.pdf", b"%PDF-1.4\n%%EOF\n"))
    store.store(kept)
    store.store(kept)
    path = store.path_of(kept.sha256)
    assert store.read(kept.sha256) == kept.content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]
