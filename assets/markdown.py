"""The one way provider Markdown becomes HTML: Python-Markdown, then nh3.

Two layers, so one mistake is not enough for an XSS: Markdown is rendered with raw
HTML switched off (it shows as text), and the result is sanitised by nh3 with a short
allow-list of tags, attributes and URL schemes. External links get
`rel="noopener nofollow"`. Images from other hosts are dropped unless the host is in
settings.MARKDOWN_IMAGE_HOSTS (empty by default): a buyer's browser must not fetch a
provider's third-party pixels (the Content-Security-Policy's img-src allows the same hosts). django-markdownx's live preview calls this function too
(MARKDOWNX_MARKDOWNIFY_FUNCTION), so the preview shows exactly what buyers will see.
"""

import html
import re
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import markdown
import nh3
from django.conf import settings
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


def is_external(href: str | None) -> bool:
    parts = urlsplit(href or "")
    return bool(parts.scheme or parts.netloc)


_URL_NOISE = re.compile(r"[\t\n\r]")
_URL_BLANKS = "".join(map(chr, range(0x21)))  # C0 controls and space, stripped by browsers


def image_allowed(src: str | None, hosts: tuple[str, ...]) -> bool:
    """Whether a buyer's browser may load this image: our own (a relative URL) or https
    from a host (`host` or `host:port`) in the allow-list. Read as a browser reads it: tabs and newlines dropped,
    leading and trailing blanks stripped, a backslash taken for a slash (so `\\\\evil.com`
    and `https:evil.com` are the other host they are)."""
    url = _URL_NOISE.sub("", src or "").strip(_URL_BLANKS).replace("\\", "/")
    parts = urlsplit(url)
    if not parts.scheme and not url.startswith("//"):
        return True
    # The whole authority must be listed: no userinfo, a port only if listed with it.
    return parts.scheme == "https" and parts.netloc.lower() in hosts


@lru_cache(maxsize=8)
def _cleaner(hosts: tuple[str, ...]) -> nh3.Cleaner:
    """The sanitiser for one image allow-list; its filter is the second check of image
    sources, on the value as decoded from the HTML (entities and all)."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not image_allowed(value, hosts):
            return None
        return value

    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
        attribute_filter=attribute_filter,
    )


# The base classes are reached through the package (which imports its submodules): mypy
# knows `markdown` as untyped, with no stubs for `markdown.extensions` & co. to import.
class _ExternalLinks(markdown.treeprocessors.Treeprocessor):
    def run(self, root: Element) -> None:
        for link in root.iter("a"):
            if is_external(link.get("href")):
                link.set("rel", EXTERNAL_LINK_REL)


class _ForeignImages(markdown.treeprocessors.Treeprocessor):
    """Drops images from hosts not allowed (`md.image_hosts`), keeping the text after them."""

    def run(self, root: Element) -> None:
        hosts = getattr(self.md, "image_hosts", ())
        for parent in list(root.iter()):
            for index, child in reversed(list(enumerate(parent))):
                if child.tag != "img" or image_allowed(html.unescape(child.get("src", "")), hosts):
                    continue
                tail = child.tail or ""
                parent.remove(child)
                if not tail:
                    continue
                if index:
                    previous = parent[index - 1]
                    previous.tail = (previous.tail or "") + tail
                else:
                    parent.text = (parent.text or "") + tail


class _SafeMarkdown(markdown.extensions.Extension):
    """Raw HTML is shown as text; external links are marked; foreign images dropped."""

    def extendMarkdown(self, md: Any) -> None:  # Python-Markdown's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ExternalLinks(md), "external_links", 1)
        md.treeprocessors.register(_ForeignImages(md), "foreign_images", 0)


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
def _render(text: str, image_hosts: tuple[str, ...]) -> str:
    converter = _markdown()
    converter.image_hosts = image_hosts
    return _cleaner(image_hosts).clean(converter.convert(text))


def render_markdown(text: object) -> SafeString:
    """Markdown → sanitised HTML, safe to put in a template as it is.

    The same text always gives the same HTML, so the most recently shown ones are kept
    (an asset page renders its description on every view)."""
    hosts = tuple(host.lower() for host in getattr(settings, "MARKDOWN_IMAGE_HOSTS", ()))
    return mark_safe(_render(str(text or ""), hosts))  # sanitised by nh3 in _render
