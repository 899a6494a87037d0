"""Figures written as officials write them, the same in the PDF, the page and the
spreadsheets: money in 万元 with two decimals (1891.96万元), rates in percent with one
(87.5%), counts with thousands separators (12,345). Rounding is half up, as people round
by hand, on the exact decimal value (never on a binary float: 0.125 → 0.13).

The exact figures stay where programs read them: yuan in JSON and in the XLSX cells (the
cell format only shows them rounded). Jinja filters ``wan``, ``rate`` and ``grouped`` are
registered by ``install`` (``grouped`` for ``count``: Jinja's own ``count`` is ``length``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import jinja2
from babel.numbers import format_decimal

from service.kernel.i18n import current_locale

# What a figure that cannot be computed (a rate of nothing) shows.
MISSING: Final = "—"
_WAN: Final = Decimal(10000)


def _exact(value: Decimal | float | int) -> Decimal:
    # A float through its shortest repr: 18919639.8 is 18919639.8, not …7999998.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _fixed(value: Decimal, places: int, grouping: bool) -> str:
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # -0.001 rounds to 0.00, not -0.00
    pattern = ("#,##0" if grouping else "0") + ("." + "0" * places if places else "")
    # The value is already rounded: babel only lays it out (its own rounding is half even).
    return format_decimal(rounded, format=pattern, locale=_locale(), decimal_quantization=False)


def _locale() -> str:
    # zh_CN and en write numbers alike (1,234.5); the request's, should that change.
    return current_locale()


def wan(yuan: Decimal | float | int | None, places: int = 2, grouping: bool = False) -> str:
    """Yuan as 万元, ``places`` decimals rounded half up: 18919639.8 → ``1891.96``; tables
    may ask for thousands separators (``grouping``)."""
    if yuan is None:
        return MISSING
    return _fixed(_exact(yuan) / _WAN, places, grouping)


def rate(percent: Decimal | float | int | None, places: int = 1) -> str:
    """A rate already in percent, one decimal rounded half up: 87.25 → ``87.3``; none (no
    denominator) → ``—``."""
    if percent is None:
        return MISSING
    return _fixed(_exact(percent), places, grouping=False)


def count(n: int | None) -> str:
    """A count with thousands separators: 12345 → ``12,345``."""
    if n is None:
        return MISSING
    return _fixed(Decimal(n), 0, grouping=True)


def install(env: jinja2.Environment) -> None:
    """Give a template environment the ``wan``, ``rate`` and ``grouped`` (``count``)
    filters."""
    env.filters["wan"] = wan
    env.filters["rate"] = rate
    env.filters["grouped"] = count
