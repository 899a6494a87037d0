"""Issue 29, item 5: text that is not text. A commitment's exclusions with U+202E, U+000B
and U+0000 were stored and printed reversed on the signed certificate and the verify page; an
advisory title with U+000B made the public RSS feed invalid XML. One rule for every text
field (the kernel's ``Text`` at the door, ``check_text`` / ``clean_text`` behind it): no
control character but a tab and a line break, no bidi embedding, override or isolate; line
breaks as "\\n"; NFC. A 422 names the field."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any, get_type_hints
from xml.etree import ElementTree as ET

import httpx
import msgspec
import pytest

from certificates.commitments.models import Commitment
from scoring.credit.feed_files import SpotCheckRowIn
from service.kernel.errors import FieldError
from service.kernel.models import Merchant, Role
from service.kernel.settings import load_settings
from service.kernel.validation import NOT_TEXT, NotText, Text, check_text, clean_text
from service.portal.advisories.models import Advisory, AdvisoryCategory
from tests.helpers import csrf, login, make_account, make_token
from tests.scoring.credit.test_ingest import M1, make_merchants
from tests.service.portal.advisories.test_pages import HTML, form
from tests.service.portal.advisories.test_store import advisory
from tests.surveys.conftest import make_city

# What the probe sent, and their kin.
NOT_TEXT_CHARACTERS = (
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u000b",  # LINE TABULATION: not a character XML 1.0 allows
    "\u0000",
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",  # POP DIRECTIONAL ISOLATE
    "\u001b",  # ESCAPE: a terminal's commands
    "\u007f",
    "\u0085",  # a C1 control
    "\ufffe",
)


@pytest.mark.parametrize("character", NOT_TEXT_CHARACTERS)
def test_the_one_rule_refuses_control_and_bidi_override_characters(character: str) -> None:
    with pytest.raises(NotText):
        clean_text(f"除外{character}食品")
    errors: list[FieldError] = []
    check_text(errors, "exclusions", f"除外{character}食品", 500)
    assert errors == [FieldError("exclusions", NOT_TEXT)]
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(f"除外{character}食品", Text)


def test_the_one_rule_keeps_line_breaks_tabs_and_marks_and_composes() -> None:
    assert clean_text("一\r\n二\r三\n四\t五") == "一\n二\n三\n四\t五"
    assert clean_text("e\u0301") == "\u00e9"  # NFC: one word is one string
    # The marks reorder no run of text; Uyghur and other right-to-left writing needs them.
    assert clean_text("ئۇيغۇر\u200f") == "ئۇيغۇر\u200f"
    for ok in ("一\r\n二", "tab\there", "\u200e\u200f\u061c"):
        assert msgspec.convert(ok, Text) == ok


def _request_structs(tmp_path: Path) -> list[type[msgspec.Struct]]:
    """Every struct a request body is decoded into, from the app's own route handlers."""
    from service.app import create_app

    app = create_app(load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "test"}))
    found: set[type[msgspec.Struct]] = set()

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            if hint not in found:
                found.add(hint)
                for field_hint in get_type_hints(hint, include_extras=True).values():
                    walk(field_hint)
            return
        for arg in getattr(hint, "__args__", ()):  # a union, a list, Annotated's type
            walk(arg)

    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                walk(data.annotation)
    walk(SpotCheckRowIn)  # a spreadsheet's rows, read by ``fangxin import spot-checks``
    return sorted(found, key=lambda s: s.__qualname__)


# Request fields that are not free text: codes and keys looked up or checked by a pattern,
# choices from a fixed set, a password (a secret, never shown, compared as typed).
NOT_FREE_TEXT = {
    "uscc", "code", "kind", "parent", "district", "street", "scenic_spot", "subject",
    "decision", "outcome", "item", "category", "status", "channel", "handled_by", "resolution",
    "followup", "broken_commitment", "risk_class", "target", "invite_code", "start_token",
    "username", "password", "merchant", "area", "role", "valid_from", "valid_until",
    "occurred_at", "received_at", "accepted_at", "closed_at", "followup_at", "visited_at",
    "day", "held_on", "merchants", "areas", "answer", "mode",
    # Amounts in yuan, read into fen by one parser that takes ASCII digits and a point only.
    "amount", "amount_recovered",
}  # fmt: skip
# Free text under a name used above for a code: (struct, field).
FREE_TEXT_UNDER_A_CODE_NAME = {("ComplaintIn", "category"), ("SpotCheckBatchIn", "category")}
FREE_TEXT_UNDER_A_CODE_NAME |= {("SpotCheckCampaignIn", "code")}
# Maps checked entry by entry: each answer against its question (a text answer by the same
# rule, surveys.submit), each score parameter by its name as a number.
CHECKED_BY_ENTRY = {("SubmissionIn", "answers"), ("RunIn", "params")}


def test_every_free_text_field_of_every_request_body_is_text(tmp_path: Path) -> None:
    missing = []
    for struct in _request_structs(tmp_path):
        hints = get_type_hints(struct, include_extras=True)
        for name in struct.__struct_fields__:
            hint = hints[name]
            if "str" not in repr(hint):
                continue
            free = (struct.__name__, name) in FREE_TEXT_UNDER_A_CODE_NAME
            if (name in NOT_FREE_TEXT and not free) or (struct.__name__, name) in CHECKED_BY_ENTRY:
                continue
            if repr(Text) not in repr(hint) and "pattern=" not in repr(hint):
                missing.append(f"{struct.__qualname__}.{name}: {hint!r}")
    assert missing == []


# --- the probe's cases ----------------------------------------------------------------------


@pytest.mark.parametrize("character", ["\u202e", "\u000b", "\u0000"])
async def test_a_commitments_exclusions_that_are_not_text_are_a_422_naming_them(
    client: httpx.AsyncClient, character: str
) -> None:
    city = await make_city()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    body = {"kind": "returns", "days": 7, "exclusions": f"食品{character}生鲜除外"}
    r = await client.post(
        f"/api/v1/merchants/{city.merchant}/commitments", json=body, headers=official
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "exclusions", "message": NOT_TEXT}]
    assert await Commitment.all().count() == 0


async def test_the_commitments_form_refuses_them_too_and_keeps_composed_text(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await make_account("clerk", Role.OFFICIAL)
    assert await login(client, "clerk") == 303
    page = f"/official/commitments/{city.merchant}"
    fields = {"kind": "returns", "days": "7", "_csrf_token": await csrf(client)}
    r = await client.post(page, data={**fields, "exclusions": "食品\u202e除外"}, headers=HTML)
    assert r.status_code == 422
    assert await Commitment.all().count() == 0
    r = await client.post(page, data={**fields, "exclusions": " Cafe\u0301\r\n食品除外 "})
    assert r.status_code == 303, r.text
    assert (await Commitment.get()).exclusions == "Caf\u00e9\n食品除外"


async def test_an_advisory_title_that_is_not_text_is_a_422_by_api_and_form(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for field in ("title", "text"):
        r = await client.post(
            "/api/v1/advisories", json=advisory(**{field: "提示\u000b"}), headers=official
        )
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    await make_account("clerk", Role.OFFICIAL)
    assert await login(client, "clerk") == 303
    bad = form(await csrf(client), title="春节\u000b消费提示")
    r = await client.post("/official/advisories", data=bad, headers=HTML)
    assert r.status_code == 422
    assert 'id="title-error"' in r.text
    assert await Advisory.all().count() == 0


async def test_the_rss_feed_stays_xml_even_with_an_advisory_stored_before_the_rule(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    ok = await client.post("/api/v1/advisories", json=advisory(title="双十一"), headers=official)
    assert ok.status_code == 201
    # Rows are not migrated: one written before the rule still holds what XML cannot.
    from datetime import UTC, datetime

    await Advisory.create(
        title="旧\u000b提示\u0008",  # (PostgreSQL stores no NUL at all)
        text="正文\u001b\ufffe",
        category=AdvisoryCategory.PRICE,
        valid_from=datetime.now(UTC),
        published_by="before",
        published_at=datetime.now(UTC),
    )
    feed = await client.get("/advisories.rss")
    assert feed.status_code == 200
    root = ET.fromstring(feed.content)  # noqa: S314 - our own feed, parsed as any reader would
    titles = sorted(i.findtext("title") or "" for i in root.findall("./channel/item"))
    assert titles == ["双十一", "旧提示"]


async def test_names_are_stored_composed_and_a_bad_one_is_named(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    decomposed = "Cafe\u0301 老王"
    assert not unicodedata.is_normalized("NFC", decomposed)
    r = await client.patch(f"/api/v1/merchants/{M1}", json={"name": decomposed})
    assert r.status_code == 200, r.text
    assert (await Merchant.get(uscc=M1)).name == "Caf\u00e9 老王"
    r = await client.patch(f"/api/v1/merchants/{M1}", json={"name": "老王\u2066烩面\u2069"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["name"]


async def test_a_feed_item_that_is_not_text_is_named_by_its_path(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    feed = {"authorization": f"Bearer {await make_token(Role.FEED)}"}
    event = {
        "uscc": M1,
        "kind": "commendation",
        "occurred_at": "2026-05-01T09:00:00+08:00",
        "source": "fuzz",
        "external_ref": "T-1",
        "note": "表扬\u202e",
    }
    r = await client.post("/api/v1/credit/events", json={"events": [event]}, headers=feed)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "events[0].note", "message": NOT_TEXT}]
