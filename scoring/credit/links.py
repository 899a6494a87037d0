"""Records that named a party before it was registered wait for it: when a merchant enters the
register, the intake records and failed spot-check batches naming its USCC are linked to it
and count in its credit, inside the registration's own transaction."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit import complaints, spot_checks
from scoring.credit.rules import Rules
from service.kernel import events
from service.kernel.events import MerchantRegistered

SLICE = 1000


class Linker:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    async def __call__(
        self, conn: BaseDBAsyncClient, registered: Sequence[MerchantRegistered]
    ) -> None:
        now = max(r.at for r in registered)
        # In slices: a register imported whole names more codes than one query may bind.
        for start in range(0, len(registered), SLICE):
            merchants = {r.uscc: r.merchant_id for r in registered[start : start + SLICE]}
            await complaints.link_registered(conn, merchants, self.rules, now)
            await spot_checks.link_registered(conn, merchants, self.rules, now)


_registered: Linker | None = None


def register(rules: Rules) -> Linker:
    """Subscribe the listener (once per process; a later call only updates its rules)."""
    global _registered
    if _registered is None:
        _registered = Linker(rules)
        events.subscribe(MerchantRegistered, _registered)
    else:
        _registered.rules = rules
    return _registered
