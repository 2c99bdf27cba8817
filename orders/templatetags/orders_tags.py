"""Template helpers for money in T: exact Decimals, formatted, never floats."""

from decimal import Decimal

from django import template

Amount = Decimal | str | int | None

register = template.Library()


def _compact(amount: Decimal | str | int) -> str:
    text = f"{Decimal(amount):.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def t_compact(value: Amount) -> str:
    """`1 T`, `98.5 T`: the storefront card's price."""
    if value is None:
        return "-"
    return f"{_compact(value)} T"


@register.filter
def t_signed(value: Amount) -> str:
    """`+1000.00 T` / `-1.00 T`: a ledger entry."""
    if value is None:
        return "-"
    amount = Decimal(value)
    return f"{'+' if amount > 0 else ''}{amount:.2f} T"


@register.filter
def t_money(value: Amount) -> str:
    """`100.00 T`, always two places."""
    if value is None:
        return "-"
    return f"{Decimal(value):.2f} T"
