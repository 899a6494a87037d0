"""A share of answers with its 95% Wilson score interval.

Wilson rather than the normal approximation p ± 1.96·√(p(1−p)/n): with shares near 100%
(follow-up satisfaction usually is) and small n the normal interval runs past 100% or shrinks
to nothing at k = n; Wilson's stays inside 0–1 and keeps a width at the edges.
"""

from __future__ import annotations

from math import sqrt

Z95 = 1.959964  # the two-sided 95% normal quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The 95% Wilson interval (low, high) of the share k/n, as fractions in 0–1.

    centre = (p + z²/2n) / (1 + z²/n);  half = z·√(p(1−p)/n + z²/4n²) / (1 + z²/n)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"no share of {k} in {n}")
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
