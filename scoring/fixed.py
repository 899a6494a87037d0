"""Fixed-point sums for polars: what satisfaction scores and credit points both add up.

Runs must be bit-identical, but a float sum depends on the order of its terms, and polars'
streaming engine adds a group's values in whatever order its morsels arrive. So sums that
feed a score are taken in fixed point: each term is rounded to an integer number of
nano-units (exact and order-free to add), and the total converted back once. The rounding,
1e-9 of a point per term, is far below anything a score shows.
"""

from __future__ import annotations

import polars as pl

SCALE = 1_000_000_000
SQUARE_SCALE = 1_000_000  # squares reach 10⁴ per term: keep the sum well inside int64


def fixed_sum(expr: pl.Expr, scale: int = SCALE) -> pl.Expr:
    return _fixed(expr, scale).cast(pl.Float64) / scale


def _fixed(expr: pl.Expr, scale: int = SCALE) -> pl.Expr:
    return (expr * scale).round(0).cast(pl.Int64).sum()


def fixed_nanos(expr: pl.Expr) -> pl.Expr:
    """The exact sum of a group's values, in integer nano-units."""
    return _fixed(expr)


def weighted_mean(values: pl.Expr, weights: pl.Expr) -> pl.Expr:
    """Σ w·x / Σ w with both sums exact; the one division is the only rounding."""
    return _fixed(values * weights).cast(pl.Float64) / _fixed(weights).cast(pl.Float64)


def exact_mean(expr: pl.Expr) -> pl.Expr:
    return fixed_sum(expr) / expr.count()


def exact_sd(expr: pl.Expr) -> pl.Expr:
    """Sample standard deviation (n − 1) from exact sums; null below two values."""
    n = expr.count().cast(pl.Float64)
    total = fixed_sum(expr)
    squares = fixed_sum(expr**2, SQUARE_SCALE)
    variance = ((squares - total * total / n) / (n - 1)).clip(lower_bound=0.0)
    return pl.when(n >= 2).then(variance.sqrt())
