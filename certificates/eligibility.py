"""The facts each subject is judged on, gathered from the published scores, credit, complaints
and certificates, then evaluated against the policy (``certificates.policy``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Max

from certificates.commitments import store as commitments
from certificates.models import Certificate, Status
from certificates.policy import (
    AreaFacts,
    Evaluation,
    Kind,
    MerchantFacts,
    Policy,
    evaluate_area,
    evaluate_merchant,
)
from scoring.credit.models import Complaint, CreditEvent, CreditStanding
from scoring.credit.rules import Rules
from scoring.credit.store import start_state
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from scoring.satisfaction.runs import current_run
from service.kernel.db import chunked, connection
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus

COMPLAINT_WINDOW = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Facts:
    run: ScoreRun | None
    merchants: list[MerchantFacts]
    areas: list[AreaFacts]


async def _scores(run: ScoreRun | None, kind: str) -> dict[str, tuple[float | None, int]]:
    if run is None:
        return {}
    rows = await UnitScore.filter(run_id=run.id, kind=kind).values_list(
        "code", "score", "n", "insufficient_data"
    )
    # A score shown as "insufficient data" is not a score anyone may rely on.
    return {str(c): (None if low else s, int(n)) for c, s, n, low in rows}


async def gather(credit_rules: Rules, now: datetime | None = None) -> Facts:
    now = now or datetime.now(UTC)
    run = await current_run()
    start = start_state(credit_rules)
    merchants = await Merchant.filter(status=MerchantStatus.ACTIVE).values_list(
        "id", "uscc", "name"
    )
    standing = {
        r[0]: r[1:]
        for r in await CreditStanding.all().values_list(
            "merchant_id", "score", "risk_class", "abnormal_listed", "serious_listed"
        )
    }
    penalties = dict(
        # A repaired penalty no longer bars a certificate: it no longer counts anywhere.
        await CreditEvent.filter(kind="penalty_major", repaired_at=None)
        .annotate(last=Max("occurred_at"))
        .group_by("merchant_id")
        .values_list("merchant_id", "last")
    )
    scores = await _scores(run, Kind.MERCHANT.value)
    returns = await commitments.returns_days(connection(), None, now)

    merchant_facts = []
    for mid, uscc, name in merchants:
        score, n = scores.get(uscc, (None, 0))
        credit = standing.get(mid, (start.score, start.risk_class, False, False))
        last = penalties.get(mid)
        merchant_facts.append(
            MerchantFacts(
                uscc=uscc,
                name=name,
                score=score,
                n=n,
                credit_score=credit[0],
                credit_class=credit[1],
                abnormal_listed=bool(credit[2]),
                serious_listed=bool(credit[3]),
                last_major_penalty=_utc(last) if last else None,
                returns_days=returns.get(mid),
            )
        )
    # Areas as the credit listener judges them, on the default connection here.
    area_ids: set[int] = {
        a
        for (a,) in await Area.filter(kind__in=[AreaKind.STREET, AreaKind.SCENIC_SPOT]).values_list(
            "id"
        )
    }
    areas = await area_facts(connection(), area_ids, now)
    return Facts(run, merchant_facts, areas)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate(facts: Facts, policy: Policy, now: datetime | None = None) -> list[Evaluation]:
    """Every subject, eligible ones first within each kind, then by code."""
    now = now or datetime.now(UTC)
    out = [evaluate_merchant(f, policy.merchant, now) for f in facts.merchants]
    out += [evaluate_area(f, policy.areas[f.kind]) for f in facts.areas]
    order = {Kind.MERCHANT: 0, Kind.STREET: 1, Kind.SCENIC_SPOT: 2}
    return sorted(out, key=lambda e: (order[e.kind], not e.eligible, e.code))


async def evaluate_all(
    policy: Policy, credit_rules: Rules, now: datetime | None = None
) -> list[Evaluation]:
    now = now or datetime.now(UTC)
    return evaluate(await gather(credit_rules, now), policy, now)


async def area_facts(
    conn: BaseDBAsyncClient, area_ids: Collection[int], now: datetime
) -> list[AreaFacts]:
    """The facts of these streets and scenic spots as ``conn`` sees them: inside a credit
    change's transaction, with its new standings and revocations."""
    run = (
        await ScoreRun.filter(status=RunStatus.PUBLISHED, superseded_at=None)
        .using_db(conn)
        .order_by("-published_at")
        .first()
    )
    areas = (
        await Area.filter(id__in=list(area_ids))
        .using_db(conn)
        .values_list("id", "code", "kind", "name_zh")
    )
    members: dict[int, list[tuple[int, str]]] = {}
    for mid, uscc, street_id, spot_id in (
        await Merchant.filter(status=MerchantStatus.ACTIVE)
        .filter(Q(street_id__in=list(area_ids)) | Q(scenic_spot_id__in=list(area_ids)))
        .using_db(conn)
        .values_list("id", "uscc", "street_id", "scenic_spot_id")
    ):
        for area_id in (street_id, spot_id):
            if area_id in area_ids:
                members.setdefault(area_id, []).append((mid, uscc))
    # The whole city's streets can be asked about at once (a new rule table): merchants go
    # into each query in slices, below what one query may bind.
    ids = [m for group in members.values() for m, _ in group]
    usccs = [u for group in members.values() for _, u in group]
    serious: set[int] = set()
    certified: set[str] = set()
    complaints: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    for id_chunk in chunked(ids):
        serious.update(
            m
            for (m,) in await CreditStanding.filter(merchant_id__in=id_chunk, serious_listed=True)
            .using_db(conn)
            .values_list("merchant_id")
        )
        for merchant_id, closed_at in (
            await Complaint.filter(
                merchant_id__in=id_chunk, received_at__gte=now - COMPLAINT_WINDOW
            )
            .using_db(conn)
            .values_list("merchant_id", "closed_at")
        ):
            complaints[merchant_id] += 1
            closed[merchant_id] += closed_at is not None
    committed = await commitments.returns_days(conn, ids, now)
    for uscc_chunk in chunked(usccs):
        certified.update(
            str(code)
            for code in await Certificate.filter(
                kind=Kind.MERCHANT, status=Status.ACTIVE, subject_code__in=uscc_chunk
            )
            .using_db(conn)
            .values_list("subject_code", flat=True)
        )
    scores: dict[str, tuple[float | None, int]] = {}
    if run is not None:
        for code, score, n, low in (
            await UnitScore.filter(
                run_id=run.id, kind__in=[Kind.STREET.value, Kind.SCENIC_SPOT.value]
            )
            .using_db(conn)
            .values_list("code", "score", "n", "insufficient_data")
        ):
            scores[str(code)] = (None if low else score, int(n))
    out = []
    for area_id, code, kind, name in areas:
        group = members.get(area_id, [])
        score, n = scores.get(code, (None, 0))
        out.append(
            AreaFacts(
                kind=Kind(AreaKind(kind).value),
                code=code,
                name=name,
                score=score,
                n=n,
                active_merchants=len(group),
                certified_merchants=sum(1 for _, u in group if u in certified),
                serious_listed=sum(1 for m, _ in group if m in serious),
                complaints=sum(complaints[m] for m, _ in group),
                complaints_closed=sum(closed[m] for m, _ in group),
                committed_merchants=sum(1 for m, _ in group if m in committed),
            )
        )
    return out
