"""The storefront poster (一户一码): a printable QR that opens a merchant's or an area's
storefront page, as an A4 poster for the wall and a 60 × 80 mm sticker for the counter or the
door. Survey posters (``surveys.qr``) and certificate QR codes are separate and keep working.

Rendered by ``service.kernel.pdf`` (WeasyPrint, network refused); text is printed in Chinese
and English together, as on the survey poster, since a printed sheet has no language switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from service.kernel import pdf
from service.kernel.qr import qr_svg

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Like surveys.qr: a plain environment, without the app's request context (CSRF, i18n).
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


class Size(StrEnum):
    A4 = "poster"  # the path's name: /m/{uscc}/poster.pdf
    STICKER = "sticker"  # 60 × 80 mm: /m/{uscc}/sticker.pdf


class Action(StrEnum):
    """What the storefront page offers, printed under the QR."""

    RATE = "rate"
    COMPLAIN = "complain"
    VERIFY = "verify"


class Subject(StrEnum):
    MERCHANT = "m"
    AREA = "a"


def storefront_path(subject: Subject, code: str) -> str:
    """The short, stable path of a storefront: /m/{uscc} or /a/{code}."""
    # safe="": a "/" in a code cannot add a path segment.
    return f"/{subject.value}/{quote(code, safe='')}"


def storefront_url(base_url: str, subject: Subject, code: str) -> str:
    """What the QR encodes (``base_url`` has no trailing slash)."""
    return base_url + storefront_path(subject, code)


def poster_pdf(
    *,
    size: Size,
    subject: Subject,
    name: str,
    address: str | None,
    url: str,
    actions: Sequence[Action],
    demo: bool,
) -> bytes:
    """One page: the subject's name, the QR of ``url`` and the ``actions`` its page offers.

    Blocking (~0.1 s warm; the first call also imports WeasyPrint): run it off the event loop.
    """
    svg = qr_svg(url).decode("utf-8")
    html = _env.get_template("storefront_poster.html").render(
        sticker=size == Size.STICKER,
        merchant=subject == Subject.MERCHANT,
        name=name,
        address=address,
        url=url,
        actions=[a.value for a in actions],
        demo=demo,
        # Safe to mark: segno escapes the only text it embeds (the URL, in <title>).
        qr=Markup(svg),  # noqa: S704
    )
    return pdf.render(html)
