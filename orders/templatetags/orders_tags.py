"""Template helpers for money in T: exact Decimals, formatted, never floats."""

from decimal import Decimal

from django import template

register = template.Library()


def _compact(amount):
    text = f"{Decimal(amount):.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def t_compact(value):
    """`1 T`, `98.5 T`: the storefront card's price."""
    if value is None:
        return "-"
    return f"{_compact(value)} T"


@register.filter
def t_signed(value):
    """`+1000.00 T` / `-1.00 T`: a ledger entry."""
    if value is None:
        return "-"
    value = Decimal(value)
    return f"{'+' if value > 0 else ''}{value:.2f} T"


@register.filter
def t_money(value):
    """`100.00 T`, always two places."""
    if value is None:
        return "-"
    return f"{Decimal(value):.2f} T"
