"""The public verify page, rendered once per state of its certificate.

Scanning a certificate's QR code is the busiest request of all (3·15, a crowd at a shop door).
Every scan still reads the certificate's state from the database, one query, so a revocation
shows on the very next scan in every worker; only the page's rendering is kept, and only for
anonymous visitors, whose page carries no session or form token."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from certificates.commitments import store as commitments
from service.kernel.db import connection

MAX_PAGES = 4096

# Everything the page shows that can change after issue: status and its time, the changes
# listed in its history, the holder's replies and their decisions (a merchant's commitments
# are read apart).
_SQL = (
    "SELECT c.status, c.status_changed_at, c.valid_until, c.kind, c.subject_code,"
    " (SELECT count(*) FROM certificate_status_change s WHERE s.certificate_id = c.id),"
    " (SELECT count(*) FROM certificate_reply r WHERE r.certificate_id = c.id),"
    " (SELECT count(*) FROM certificate_reply r"
    "   WHERE r.certificate_id = c.id AND r.decision IS NOT NULL)"
    " FROM certificate c WHERE c.serial = {p}"
)

Fingerprint = tuple[Any, ...]


async def fingerprint(serial: str, now: datetime) -> Fingerprint | None:
    """The certificate's state as shown on its page, or None when there is no such serial."""
    conn = connection()
    p = "$1" if conn.capabilities.dialect == "postgres" else "?"
    _, rows = await conn.execute_query(_SQL.format(p=p), [serial])
    if not rows:
        return None
    status, changed_at, valid_until, kind, code, changes, replies, decided = tuple(rows[0])
    if isinstance(valid_until, str):  # SQLite hands back text
        valid_until = datetime.fromisoformat(valid_until)
    # Expiry is by date, not by a stored change: whether it has passed is part of the state.
    promised = await commitments.shown_state(str(code), now) if kind == "merchant" else ()
    return (
        str(status),
        str(changed_at),
        now >= valid_until,
        changes,
        replies,
        decided,
        promised,
    )


class RenderedPages:
    """Pages by (serial, locale), each kept with the fingerprint it was rendered for."""

    def __init__(self, size: int = MAX_PAGES) -> None:
        self._size = size
        self._pages: OrderedDict[tuple[str, str], tuple[Fingerprint, bytes]] = OrderedDict()

    def get(self, key: tuple[str, str], state: Fingerprint) -> bytes | None:
        kept = self._pages.get(key)
        if kept is None or kept[0] != state:
            return None
        self._pages.move_to_end(key)
        return kept[1]

    def put(self, key: tuple[str, str], state: Fingerprint, page: bytes) -> None:
        self._pages[key] = (state, page)
        self._pages.move_to_end(key)
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)

    def clear(self) -> None:
        self._pages.clear()


PAGES = RenderedPages()
