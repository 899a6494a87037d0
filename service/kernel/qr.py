"""QR codes as standalone SVG: plain markup with no external references, so a page or a PDF
can inline one (survey posters, certificates)."""

from __future__ import annotations

import io

import segno

# ~8 px per module keeps a standalone SVG crisp on screens without being huge.
_SVG_SCALE = 8


def qr_svg(url: str) -> bytes:
    """A QR code (level M, 4-module quiet zone) for ``url`` as a standalone UTF-8 SVG."""
    # make_qr, never make: segno.make may pick a Micro QR, which phone cameras do not read.
    qr = segno.make_qr(url, error="m", boost_error=False)
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        scale=_SVG_SCALE,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        title=url,
        encoding="utf-8",
    )
    return out.getvalue()
