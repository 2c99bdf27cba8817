"""The one way provider Markdown becomes HTML: Python-Markdown, then nh3.

Two layers, so one mistake is not enough for an XSS: Markdown is rendered with raw
HTML switched off (it shows as text), and the result is sanitised by nh3 with a short
allow-list of tags, attributes and URL schemes. External links get
`rel="noopener nofollow"`. django-markdownx's live preview calls this function too
(MARKDOWNX_MARKDOWNIFY_FUNCTION), so the preview shows exactly what buyers will see.
"""

import threading
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTERNAL_LINK_REL = "noopener nofollow"

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
# The only `rel` that survives is the one our own tree processor writes.
ALLOWED_ATTRIBUTE_VALUES = {"a": {"rel": {EXTERNAL_LINK_REL}}}
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped together with their content, not just unwrapped.
DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "svg", "math", "template"}

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=DROPPED_WITH_CONTENT,
    attributes=ALLOWED_ATTRIBUTES,
    tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
    url_schemes=URL_SCHEMES,
    link_rel=None,
    strip_comments=True,
)


def is_external(href: str | None) -> bool:
    parts = urlsplit(href or "")
    return bool(parts.scheme or parts.netloc)


# The base classes are reached through the package (which imports its submodules): mypy
# knows `markdown` as untyped, with no stubs for `markdown.extensions` & co. to import.
class _ExternalLinks(markdown.treeprocessors.Treeprocessor):
    def run(self, root: Element) -> None:
        for link in root.iter("a"):
            if is_external(link.get("href")):
                link.set("rel", EXTERNAL_LINK_REL)


class _SafeMarkdown(markdown.extensions.Extension):
    """Raw HTML is shown as text; external links are marked."""

    def extendMarkdown(self, md: Any) -> None:  # Python-Markdown's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ExternalLinks(md), "external_links", 1)


_local = threading.local()


def _markdown() -> Any:
    """One converter per thread, reset between documents (building one, with its
    extensions, cost as much as converting a page's description)."""
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = markdown.Markdown(
            extensions=["tables", "fenced_code", "sane_lists", _SafeMarkdown()],
            output_format="html",
        )
    return converter.reset()


@lru_cache(maxsize=256)
def _render(text: str) -> str:
    return _cleaner.clean(_markdown().convert(text))


def render_markdown(text: object) -> SafeString:
    """Markdown → sanitised HTML, safe to put in a template as it is.

    The same text always gives the same HTML, so the most recently shown ones are kept
    (an asset page renders its description on every view)."""
    return mark_safe(_render(str(text or "")))  # sanitised by nh3 in _render
