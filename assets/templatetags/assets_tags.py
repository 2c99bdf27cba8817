"""Template helpers of the provider portal."""

from django import template

from ..markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    """`{{ asset.description|markdown }}`: the one sanitising renderer."""
    return render_markdown(text)


@register.filter
def price_t(value):
    """`100.00 T`, the platform credit, always with two places."""
    if value is None:
        return "-"
    return f"{value:.2f} T"
