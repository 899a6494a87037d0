"""Merchant credit scores from credit events: a transparent rule table, computed with polars.

One function serves the whole city and a single merchant (a one-merchant frame), so the
incremental and the batch results are the same by construction.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from scoring.fixed import SCALE, fixed_nanos

CLASSES = ("A", "B", "C", "D")  # best first
DEFAULT_RULES = Path(__file__).with_name("credit_rules.toml")


@dataclass(frozen=True, slots=True)
class EventRule:
    points: float
    half_life_days: float | None


@dataclass(frozen=True, slots=True)
class ListingRule:
    name: str
    points: float
    added: str
    removed: str
    force_class: str | None


@dataclass(frozen=True, slots=True)
class RepairRule:
    """Months from the evidence before it may be repaired: ``months``, or ``long_months`` for
    merchants of the long categories (food, drugs, special equipment)."""

    months: int
    long_months: int


@dataclass(frozen=True, slots=True)
class RepairRules:
    """Credit repair (信用修复): which evidence may be repaired, when, and how it is decided."""

    source: str
    decision_working_days: int
    reapply_wait_days: int
    long_categories: frozenset[str]
    pledge: str
    kinds: dict[str, RepairRule]

    @property
    def pledge_sha256(self) -> str:
        """What the merchant signed, named by its content: the text may change with the table."""
        return hashlib.sha256(self.pledge.encode("utf-8")).hexdigest()

    def months_for(self, kind: str, category: str) -> int | None:
        """The minimum period for this kind of evidence of a merchant of this category; None
        when the kind cannot be repaired."""
        rule = self.kinds.get(kind)
        if rule is None:
            return None
        return rule.long_months if category in self.long_categories else rule.months

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RepairRules:
        return cls(
            source=str(raw["source"]),
            decision_working_days=int(raw["decision_working_days"]),
            reapply_wait_days=int(raw["reapply_wait_days"]),
            long_categories=frozenset(str(c) for c in raw.get("long_categories", ())),
            pledge=str(raw["pledge"]),
            kinds={
                k: RepairRule(int(v["months"]), int(v.get("long_months", v["months"])))
                for k, v in raw.get("kinds", {}).items()
            },
        )


@dataclass(frozen=True, slots=True)
class Rules:
    version: str
    start: float
    floor: float
    cap: float
    thresholds: dict[str, float]  # A, B, C → lowest score of the class
    events: dict[str, EventRule]
    listings: tuple[ListingRule, ...]
    decimals: int = 1  # scores are kept and compared at this precision
    # A city's table without a [repair] section offers no repair.
    repair: RepairRules | None = None

    @property
    def unit(self) -> int:
        """Nano-points per smallest step of the kept score (0.1 → 10⁸)."""
        return int(SCALE // 10**self.decimals)

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> Rules:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            version=str(raw["version"]),
            start=float(raw["start"]),
            floor=float(raw["floor"]),
            cap=float(raw["cap"]),
            decimals=int(raw.get("decimals", 1)),
            thresholds={k: float(v) for k, v in raw["classes"].items()},
            events={
                k: EventRule(float(v["points"]), v.get("half_life_days"))
                for k, v in raw["events"].items()
            },
            listings=tuple(
                ListingRule(
                    name, float(v["points"]), v["added"], v["removed"], v.get("force_class")
                )
                for name, v in raw["listings"].items()
            ),
            repair=RepairRules.parse(raw["repair"]) if "repair" in raw else None,
        )

    @property
    def kinds(self) -> set[str]:
        listing_kinds = {k for r in self.listings for k in (r.added, r.removed)}
        return {*self.events, *listing_kinds, "external_class"}


def _decayed(rules: Rules, as_of: datetime) -> pl.Expr:
    """Each ordinary event's points, faded by its half-life: p·0.5^(age/half-life); nothing
    for the other kinds (listings, the regulator's class).

    The kind is looked up once per event, and one power taken: a branch per kind would take
    every kind's power of every event."""
    age_days = (pl.lit(as_of) - pl.col("occurred_at")).dt.total_seconds() / 86_400
    kinds = list(rules.events)
    points = pl.col("kind").replace_strict(
        kinds, [rules.events[k].points for k in kinds], default=0.0, return_dtype=pl.Float64
    )
    half_life = pl.col("kind").replace_strict(
        kinds,
        [rules.events[k].half_life_days for k in kinds],
        default=None,
        return_dtype=pl.Float64,
    )
    factor = pl.lit(0.5).pow(age_days.clip(lower_bound=0) / half_life)
    return pl.when(half_life.is_null()).then(points).otherwise(points * factor)


def credit_scores(
    events: pl.DataFrame, rules: Rules, as_of: datetime, key: str = "uscc"
) -> pl.DataFrame:
    """key, score, class and the listings in force, for every merchant with events.

    events: the merchant ``key`` column, kind, occurred_at (tz-aware), class (for
    ``external_class``, else null). Events after ``as_of`` are ignored. The score is rounded
    to the rule table's decimals in integers, so it is the same bits however many merchants
    are scored together.
    """
    # Not sorted: the sums are exact in any order, and each "latest" orders its own group.
    past = events.filter(pl.col("occurred_at") <= as_of)
    points = (
        past.with_columns(_decayed(rules, as_of).alias("points"))
        .group_by(key)
        # Exact, order-free: one merchant scored alone gets bit-for-bit its batch result.
        .agg(fixed_nanos(pl.col("points")).alias("points"))
    )
    # A listing is in force when its latest add/remove event is an add.
    listing_cols = []
    for listing in rules.listings:
        latest = (
            past.filter(pl.col("kind").is_in([listing.added, listing.removed]))
            .group_by(key)
            .agg(pl.col("kind").sort_by(["occurred_at", "kind"]).last().alias("last"))
            .select(key, (pl.col("last") == listing.added).alias(f"listed_{listing.name}"))
        )
        points = points.join(latest, on=key, how="full", coalesce=True)
        listing_cols.append(listing)
    external = (
        past.filter(pl.col("kind") == "external_class")
        .group_by(key)
        .agg(pl.col("class").sort_by(["occurred_at", "class"]).last().alias("external_class"))
    )
    out = points.join(external, on=key, how="full", coalesce=True).with_columns(
        pl.col("points").fill_null(0)
    )
    # Everything in integer nano-points until the end: exact, whatever order polars adds in.
    total = pl.lit(round(rules.start * SCALE)) + pl.col("points")
    for listing in listing_cols:
        flag = pl.col(f"listed_{listing.name}").fill_null(False)
        out = out.with_columns(flag.alias(f"listed_{listing.name}"))
        total = total + pl.when(flag).then(round(listing.points * SCALE)).otherwise(0)
    # Half-up to the kept precision, then floor and cap, all in integer steps.
    steps = ((total + rules.unit // 2) // rules.unit).clip(
        round(rules.floor * SCALE) // rules.unit, round(rules.cap * SCALE) // rules.unit
    )
    out = out.with_columns(steps.alias("steps"))
    out = out.with_columns(_from_steps(rules).alias("score"))
    out = out.with_columns(_class_of(rules).alias("class"))
    return out.select(
        key, "score", "class", *[f"listed_{r.name}" for r in listing_cols], "external_class"
    ).sort(key)


def _from_steps(rules: Rules) -> pl.Expr:
    """Integer steps (tenths) to a float through its decimal text: parsing rounds correctly,
    where polars' column division by a reciprocal may miss the last bit."""
    if rules.decimals == 0:
        return pl.col("steps").cast(pl.Float64)
    base = 10**rules.decimals
    whole = (pl.col("steps") // base).cast(pl.String)
    frac = (pl.col("steps") % base).cast(pl.String).str.zfill(rules.decimals)
    return pl.concat_str(whole, pl.lit("."), frac).cast(pl.Float64)


def _class_of(rules: Rules) -> pl.Expr:
    """By thresholds; a forcing listing wins; an external class is the best allowed."""

    def at_least(cls: str) -> pl.Expr:
        return pl.col("steps") >= round(rules.thresholds[cls] * SCALE) // rules.unit

    by_points = (
        pl.when(at_least("A"))
        .then(pl.lit("A"))
        .when(at_least("B"))
        .then(pl.lit("B"))
        .when(at_least("C"))
        .then(pl.lit("C"))
        .otherwise(pl.lit("D"))
    )
    rank = {c: i for i, c in enumerate(CLASSES)}
    computed = by_points.replace_strict(rank, return_dtype=pl.Int8)
    bound = pl.col("external_class").replace_strict(rank, default=0, return_dtype=pl.Int8)
    worst = pl.max_horizontal(computed, bound)
    for listing in rules.listings:
        if listing.force_class:
            worst = (
                pl.when(pl.col(f"listed_{listing.name}"))
                .then(pl.lit(rank[listing.force_class], dtype=pl.Int8))
                .otherwise(worst)
            )
    return worst.replace_strict({i: c for c, i in rank.items()}, return_dtype=pl.String)


def event_points(
    events: pl.DataFrame, rules: Rules, as_of: datetime, key: str = "uscc"
) -> pl.DataFrame:
    """What each event weighs today, by input row: a fading deduction or recovery; a listing's
    points on the add event that keeps it in force; nothing for the rest (removals, the
    regulator's class, events not yet happened)."""
    rows = events.with_row_index("row")
    past = rows.filter(pl.col("occurred_at") <= as_of)
    out = rows.select("row").join(
        past.select("row", _decayed(rules, as_of).alias("points")), on="row", how="left"
    )
    for listing in rules.listings:
        latest = (
            past.filter(pl.col("kind").is_in([listing.added, listing.removed]))
            .group_by(key)
            .agg(
                pl.col("row").sort_by(["occurred_at", "kind"]).last(),
                pl.col("kind").sort_by(["occurred_at", "kind"]).last(),
            )
            .filter(pl.col("kind") == listing.added)
        )
        out = out.with_columns(
            pl.when(pl.col("row").is_in(latest["row"].implode()))
            .then(pl.lit(listing.points))
            .otherwise(pl.col("points"))
            .alias("points")
        )
    return out.with_columns(pl.col("points").fill_null(0.0)).sort("row")
