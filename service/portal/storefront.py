"""The storefront (一户一码): one short, stable URL per merchant (/m/{uscc}) and per area
(/a/{code}), printed as the QR of a poster and a sticker. Its page is the phone-first face of
the facts the public pages show (``service.portal.places``): the three actions first — rate,
complain, verify a certificate — then who it is, its certificates' live status, its published
score, its commitments, its complaint record and what the law makes public about it. Plain
HTML, no script, for a WeChat in-app browser at the door."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

import anyio
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import PathParameter
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from scoring.credit import public as credit_public
from scoring.credit.routes import rules_of
from service.kernel.errors import NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.kernel.security import PUBLIC
from service.kernel.settings import Settings
from service.portal import places, posters
from service.portal.posters import Action, Size, Subject
from service.register import uscc as uscc_rules
from service.register.store import CODE_RE

# Where a consumer files a complaint against a merchant; the link is shown only when the app
# serves it (issue 30, item 2), so a poster or page never sends anyone to a dead end.
PUBLIC_LISTING_LABELS: Final = {
    "abnormal": N_("On the abnormal operations list"),
    "serious": N_("On the serious violation list"),
}
PENALTY_LABELS: Final = {
    "penalty_minor": N_("Administrative penalty"),
    "penalty_major": N_("Major administrative penalty"),
}

# A scanned code that names nothing: said in the reader's language, with a way on.
NO_MERCHANT: Final = N_(
    "No merchant with this code is registered here. Check the code, or find the merchant by "
    "its name on the home page."
)
NO_AREA: Final = N_("No place with this code is registered here.")

# The path's code: anything may arrive; a malformed one is a 404, like an unknown one.
Code = Annotated[str, PathParameter()]


def merchant_code(raw: str) -> str:
    """The USCC a storefront path names, or NotFound: 18 characters of the code's alphabet,
    upper case (a lower-case code typed by hand is read as upper case). The check character
    is not required: officials accept legal pilot codes that fail it."""
    code = raw.upper()
    try:
        uscc_rules.validate(code)
    except uscc_rules.USCCError as exc:
        if not exc.checksum_only:
            raise NotFound(gettext(NO_MERCHANT)) from exc
    return code


def area_code(raw: str) -> str:
    if not CODE_RE.fullmatch(raw):
        raise NotFound(gettext(NO_AREA))
    return raw


def _settings(request: Request[Any, Any, State]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def merchant_storefront_context(
    request: Request[Any, Any, State], uscc: str, now: datetime
) -> dict[str, Any]:
    merchant = await Merchant.get_or_none(uscc=uscc)
    if merchant is None:
        raise NotFound(gettext(NO_MERCHANT))
    context = await places.merchant_context(uscc, now)
    return {
        **context,
        "public_record": await credit_public.public_record(merchant.id, rules_of(request), now),
        "penalty_labels": PENALTY_LABELS,
        "listing_labels": PUBLIC_LISTING_LABELS,
        "complain_url": places.complain_url(request.app, uscc),
        "full_page": f"/merchants/{uscc}",
        "poster": posters.storefront_path(Subject.MERCHANT, uscc),
    }


@get("/m/{uscc:str}", opt=PUBLIC, include_in_schema=False)
async def merchant_storefront(request: Request[Any, Any, State], uscc: Code) -> Template:
    """What a merchant's storefront QR opens."""
    code = merchant_code(uscc)
    context = await merchant_storefront_context(request, code, datetime.now(UTC))
    return Template("portal/storefront_merchant.html", context=context)


@get("/a/{code:str}", opt=PUBLIC, include_in_schema=False)
async def area_storefront(code: Code) -> Template:
    """What an area's storefront QR opens: a street, scenic spot, district or the city."""
    try:
        context = await places.area_context(area_code(code), datetime.now(UTC))
    except NotFound as exc:
        raise NotFound(gettext(NO_AREA)) from exc
    return Template(
        "portal/storefront_area.html",
        context={**context, "full_page": f"/areas/{context['area'].code}"},
    )


async def _poster(
    request: Request[Any, Any, State],
    *,
    size: Size,
    subject: Subject,
    code: str,
    name: str,
    address: str | None,
    actions: list[Action],
    demo: bool,
) -> Response[bytes]:
    url = posters.storefront_url(_settings(request).base_url, subject, code)
    pdf = await anyio.to_thread.run_sync(
        lambda: posters.poster_pdf(
            size=size,
            subject=subject,
            name=name,
            address=address,
            url=url,
            actions=actions,
            demo=demo,
        )
    )
    # The code was checked against its format: nothing in it can break the header.
    filename = f"storefront-{size.value}-{code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{filename}"'},
    )


async def _merchant_poster(
    request: Request[Any, Any, State], raw: str, size: Size
) -> Response[bytes]:
    merchant = await Merchant.get_or_none(uscc=merchant_code(raw))
    if merchant is None:
        raise NotFound(gettext(NO_MERCHANT))
    actions = [Action.RATE] if merchant.status == MerchantStatus.ACTIVE else []
    if places.takes_complaints(request.app):
        actions.append(Action.COMPLAIN)
    actions.append(Action.VERIFY)
    return await _poster(
        request,
        size=size,
        subject=Subject.MERCHANT,
        code=merchant.uscc,
        name=merchant.name,
        address=merchant.address or None,
        actions=actions,
        demo=merchant.is_demo,
    )


async def _area_poster(request: Request[Any, Any, State], raw: str, size: Size) -> Response[bytes]:
    area = await Area.get_or_none(code=area_code(raw))
    if area is None:
        raise NotFound(gettext(NO_AREA))
    rated = area.kind in (AreaKind.STREET, AreaKind.SCENIC_SPOT)
    return await _poster(
        request,
        size=size,
        subject=Subject.AREA,
        code=area.code,
        name=area.name_zh,
        address=None,
        actions=[Action.RATE, Action.VERIFY] if rated else [Action.VERIFY],
        demo=area.is_demo,
    )


@get("/m/{uscc:str}/poster.pdf", opt=PUBLIC, include_in_schema=False)
async def merchant_poster(request: Request[Any, Any, State], uscc: Code) -> Response[bytes]:
    """The merchant's storefront poster, A4."""
    return await _merchant_poster(request, uscc, Size.A4)


@get("/m/{uscc:str}/sticker.pdf", opt=PUBLIC, include_in_schema=False)
async def merchant_sticker(request: Request[Any, Any, State], uscc: Code) -> Response[bytes]:
    """The merchant's storefront sticker, 60 × 80 mm."""
    return await _merchant_poster(request, uscc, Size.STICKER)


@get("/a/{code:str}/poster.pdf", opt=PUBLIC, include_in_schema=False)
async def area_poster(request: Request[Any, Any, State], code: Code) -> Response[bytes]:
    """The area's storefront poster, A4."""
    return await _area_poster(request, code, Size.A4)


@get("/a/{code:str}/sticker.pdf", opt=PUBLIC, include_in_schema=False)
async def area_sticker(request: Request[Any, Any, State], code: Code) -> Response[bytes]:
    """The area's storefront sticker, 60 × 80 mm."""
    return await _area_poster(request, code, Size.STICKER)


PAGES: list[ControllerRouterHandler] = [
    merchant_storefront,
    area_storefront,
    merchant_poster,
    merchant_sticker,
    area_poster,
    area_sticker,
]
