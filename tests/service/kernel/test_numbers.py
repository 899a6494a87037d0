"""Figures as officials write them (service.kernel.numbers), worked by hand."""

from __future__ import annotations

from decimal import Decimal

import jinja2

from service.kernel import numbers
from service.kernel.numbers import count, rate, wan


def test_money_is_printed_in_wan_yuan_with_two_decimals_rounded_half_up() -> None:
    # 18,919,639.8 yuan = 1891.96398 万元 → 1891.96 (the third decimal, 3, rounds down).
    assert wan(18919639.8) == "1891.96"
    assert wan(Decimal("5592624.21")) == "559.26"  # 559.262421 万元
    assert wan(Decimal("4205799")) == "420.58"  # 420.5799 → up
    # Half cases: 1250 yuan is 0.125 万元 exactly → 0.13 (half up, not half even to 0.12);
    # 1249.99 yuan is 0.124999 → 0.12; 0.005 as a float would be 0.00499… in binary.
    assert wan(1250) == "0.13"
    assert wan(Decimal("1249.99")) == "0.12"
    assert wan(50) == "0.01"
    assert wan(150) == "0.02"  # 0.015 → 0.02 (half even would keep 0.02 too: see 0.125)
    assert wan(0) == "0.00"
    assert wan(Decimal("0.4")) == "0.00"  # not "-0.00", not "0"
    assert wan(None) == "—"
    # Tables group thousands: 123,456,789,012 yuan = 12,345,678.9012 万元.
    assert wan(123456789012, grouping=True) == "12,345,678.90"
    assert wan(123456789012) == "12345678.90"  # sentences do not


def test_rates_have_one_decimal_and_counts_thousands_separators() -> None:
    assert rate(96.55) == "96.6"  # half up on the decimal value (96.55 as float is 96.549…)
    assert rate(87.25) == "87.3"
    assert rate(87.24) == "87.2"
    assert rate(100) == "100.0"
    assert rate(0) == "0.0"
    assert rate(None) == "—"
    assert count(37534) == "37,534"
    assert count(999) == "999"
    assert count(1234567) == "1,234,567"
    assert count(0) == "0"


def test_the_filters_are_registered_once_for_templates() -> None:
    env = jinja2.Environment(autoescape=True)
    numbers.install(env)
    out = env.from_string(
        "{{ a|wan }}万元 {{ b|rate }}% {{ n|grouped }}件 {{ items|count }}"
    ).render(a=18919639.8, b=96.55, n=37534, items=[1, 2])
    assert out == "1891.96万元 96.6% 37,534件 2"  # Jinja's own count (length) untouched
