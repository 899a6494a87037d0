"""The public lists (红黑榜) of a confirmed yearly review: who was named and who improved (the
red list), who was withdrawn and who left during the year (the black list), with reason codes
in the reader's language, as a page, JSON, CSV or XLSX (through ``service.kernel.exports``)."""

from __future__ import annotations

from typing import Any, Final

import anyio
import polars as pl
from litestar.response import Response

from certificates.labels import REASON_LABELS, REVIEW_REASONS
from certificates.schemas import ListEntry, PublicList, ReviewOut
from service.kernel.exports import EXPORT_TYPES, HeaderStyle, export_bytes
from service.kernel.i18n import N_, gettext

ALL_REASONS: Final = {**REASON_LABELS, **REVIEW_REASONS}
SECTIONS: Final = {
    "entered": N_("Newly named"),
    "improved": N_("Most improved"),
    "withdrawn": N_("Withdrawn in the review"),
    "exited": N_("Left during the year"),
    "retained": N_("Retained"),
}
# The order of the public lists: red first (entered, improved), then black.
PUBLIC_SECTIONS: Final = {
    "entered": "red",
    "improved": "red",
    "withdrawn": "black",
    "exited": "black",
}


def reason_text(code: str) -> str:
    return gettext(ALL_REASONS[code]) if code in ALL_REASONS else code


def public_list(review: ReviewOut) -> PublicList:
    """What the public sees of a confirmed review: no retained holders, no excluded
    withdrawals (they were not made) and no officials' notes."""
    assert review.confirmed_at is not None  # only confirmed reviews are public
    order = list(PUBLIC_SECTIONS)
    items = sorted(
        (i for i in review.items if i.section in PUBLIC_SECTIONS and not i.excluded),
        key=lambda i: order.index(i.section),
    )
    return PublicList(
        year=review.year,
        confirmed_at=review.confirmed_at,
        items=[
            ListEntry(
                board=_board(i.section, i.detail),
                section=i.section,
                serial=i.serial,
                kind=i.kind,
                code=i.code,
                name=i.name,
                reasons=i.reasons,
                reasons_text="; ".join(reason_text(r) for r in i.reasons),
                at=i.at,
                score_before=_score(i.detail.get("before")),
                score_after=_score(i.detail.get("after")),
            )
            for i in items
        ],
    )


def _board(section: str, detail: dict[str, object]) -> str:
    """Red or black; a certificate that simply ran out (expired) left without blame, on
    neither list."""
    if section == "exited" and detail.get("status") == "expired":
        return "none"
    return PUBLIC_SECTIONS[section]


def _score(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


SCHEMA: Final[dict[str, Any]] = {
    "board": pl.String,
    "section": pl.String,
    "kind": pl.String,
    "code": pl.String,
    "name": pl.String,
    "serial": pl.String,
    "reasons": pl.String,
    "reasons_text": pl.String,
    "at": pl.Datetime("us", "UTC"),
    "score_before": pl.Float64,
    "score_after": pl.Float64,
}


def list_frame(lists: PublicList) -> pl.DataFrame:
    rows = [
        {
            "board": e.board,
            "section": e.section,
            "kind": e.kind.value,
            "code": e.code,
            "name": e.name,
            "serial": e.serial,
            "reasons": ",".join(e.reasons),
            "reasons_text": e.reasons_text,
            "at": e.at,
            "score_before": e.score_before,
            "score_after": e.score_after,
        }
        for e in lists.items
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


async def download(lists: PublicList, fmt: str, headers: HeaderStyle = "label") -> Response[bytes]:
    """The lists as CSV or XLSX: text cells neutralised, instants on the bureau's clock,
    headers in the reader's language (or the machine names)."""
    content = await anyio.to_thread.run_sync(
        export_bytes, list_frame(lists), fmt, "public_lists", headers
    )
    return Response(
        content,
        media_type=EXPORT_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="lists-{lists.year}.{fmt}"'},
    )
