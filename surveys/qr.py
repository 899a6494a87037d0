"""QR codes and printable posters that send a visitor to a survey for one target.

The SVG is plain markup with no external references, so it can be inlined in pages and PDFs.
Posters are rendered by ``service.kernel.pdf`` (WeasyPrint, network refused).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from service.kernel import pdf
from service.kernel.qr import qr_svg

TEMPLATES_DIR = Path(__file__).parent / "templates"

# The app's template engine carries request context (CSRF, i18n) a PDF has no use for, and
# importing the app here would drag the whole service into a worker thread or process.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def survey_url(base_url: str, survey_slug: str, target: str) -> str:
    """The public URL of a survey for one target (``base_url`` has no trailing slash)."""
    # safe="" so a "/" inside a slug or target cannot add a path segment.
    return f"{base_url}/s/{quote(survey_slug, safe='')}/{quote(target, safe='')}"


def poster_pdf(
    *,
    title_zh: str,
    title_en: str,
    target_name: str,
    target_address: str | None,
    url: str,
    demo: bool,
) -> bytes:
    """An A4 portrait poster inviting visitors to scan ``url`` and rate ``target_name``.

    Blocking (~0.1 s warm; the first call also imports WeasyPrint, ~1 s): run it in a thread or a
    process pool, never on the event loop.
    """
    svg = qr_svg(url).decode("utf-8")
    # Safe to mark: segno escapes the only text it embeds (the URL, in <title>).
    html = _env.get_template("poster.html").render(
        title_zh=title_zh,
        title_en=title_en,
        target_name=target_name,
        target_address=target_address,
        url=url,
        demo=demo,
        qr=Markup(svg),  # noqa: S704
    )
    return pdf.render(html)
