"""One renderer for provider Markdown: nothing executable survives it."""

import html
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils.module_loading import import_string

from assets.markdown import render_markdown

# OWASP XSS filter-evasion cheat sheet, in Markdown and raw-HTML forms.
XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<<script>alert(1);//<</script>",
    '<img src="x" onerror="alert(1)">',
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<BODY ONLOAD=alert("XSS")>',
    "<iframe src=\"javascript:alert('XSS')\"></iframe>",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<DIV STYLE=\"width: expression(alert('XSS'));\">x</DIV>",
    "<STYLE>@import'https://xss.example/xss.css';</STYLE>",
    '<a href="javascript:alert(1)">x</a>',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![img](x "onerror=alert(1)")',
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    '<https://ok.example/" onclick="alert(1)>',
    "[x](https://ok.example){: onclick=alert(1) }",
    "```\n</code><script>alert(1)</script>\n```",
    "%3Cscript%3Ealert(1)%3C/script%3E",
]

DANGEROUS_TAGS = {
    "script", "style", "iframe", "object", "embed", "svg", "math", "meta", "link", "base",
    "form", "body", "details", "template", "input", "button",
}  # fmt: skip
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _elements(markup):
    parser = _Collect()
    parser.feed(markup)
    return parser.tags


def assert_inert(markup):
    for tag, attrs in _elements(markup):
        assert tag not in DANGEROUS_TAGS, markup
        for name, value in attrs:
            assert not name.startswith("on"), markup
            assert name not in ("style", "srcdoc", "formaction", "action"), markup
            if name in ("href", "src") and value:
                normalized = re.sub(r"[\s\x00-\x1f]", "", html.unescape(value)).lower()
                assert not normalized.startswith(DANGEROUS_SCHEMES), markup


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_no_xss_vector_survives(vector):
    output = str(render_markdown(vector))
    assert_inert(output)
    assert "<script" not in output.lower()


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_no_xss_vector_survives_inside_other_markdown(vector):
    text = (
        f"# Title\n\n- item {vector}\n\n> quote {vector}\n\n| a | b |\n|---|---|\n| {vector} | x |"
    )
    assert_inert(str(render_markdown(text)))


def test_ordinary_markdown_renders():
    output = str(
        render_markdown(
            "# Memcached\n\n- **fast**\n- `simple`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "```\nkubectl apply -f memcached.yaml\n```"
        )
    )
    assert "<h1>Memcached</h1>" in output
    assert "<strong>fast</strong>" in output and "<code>simple</code>" in output
    assert "<table>" in output and "<td>1</td>" in output
    assert "kubectl apply -f memcached.yaml" in output


def test_raw_html_is_shown_as_text_not_markup():
    output = str(render_markdown("<b>bold</b> & <i>x</i>"))
    assert "&lt;b&gt;bold&lt;/b&gt;" in output
    assert "<b>" not in output


def test_external_links_get_noopener_nofollow_and_internal_ones_do_not():
    output = str(
        render_markdown("[site](https://tenxcloud.com) [help](/help/) <https://a.example>")
    )
    links = {dict(attrs)["href"]: dict(attrs) for tag, attrs in _elements(output) if tag == "a"}
    assert links["https://tenxcloud.com"]["rel"] == "noopener nofollow"
    assert links["https://a.example"]["rel"] == "noopener nofollow"
    assert "rel" not in links["/help/"]


def test_an_author_cannot_set_their_own_rel():
    output = str(render_markdown('[x](/local){: rel="opener" } <a href="/y" rel="opener">y</a>'))
    rels = [dict(attrs).get("rel") for tag, attrs in _elements(output) if tag == "a"]
    assert rels == [None]


def test_empty_and_none_render_to_nothing():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_template_filter_uses_the_same_renderer():
    template = Template("{% load assets_tags %}{{ text|markdown }}")
    output = template.render(Context({"text": "**hi** <script>alert(1)</script>"}))
    assert "<strong>hi</strong>" in output and "<script>" not in output


def test_markdownx_is_configured_to_use_our_renderer():
    assert import_string(settings.MARKDOWNX_MARKDOWNIFY_FUNCTION) is render_markdown
    from markdownx.views import markdownify_func

    assert markdownify_func is render_markdown


def test_live_preview_endpoint_sanitises_and_needs_a_login(client, make_user):
    response = client.post("/provider/assets/markdown/preview/", {"content": "**x**"})
    assert response.status_code == 302
    client.force_login(make_user("writer"))
    response = client.post(
        "/provider/assets/markdown/preview/", {"content": "**x** <img src=x onerror=alert(1)>"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<strong>x</strong>" in body and "<img" not in body
    assert client.post("/provider/assets/markdown/preview/", {}).status_code == 200


def test_markdownx_image_upload_is_refused_politely(client, make_user):
    client.force_login(make_user("writer"))
    response = client.post("/provider/assets/markdown/upload/", {})
    assert response.status_code == 400
    assert "screenshots" in response.json()["detail"]


FOREIGN_IMAGES = [
    "![pixel](https://tracker.example.net/p.gif)",
    "![pixel](http://tracker.example.net/p.gif)",
    "![pixel](//tracker.example.net/p.gif)",
    "![pixel](HTTPS://TRACKER.example.net/p.gif)",
    "![pixel](&#x2F;&#x2F;tracker.example.net/p.gif)",  # entities a browser decodes
    "![pixel](https:tracker.example.net/p.gif)",  # a browser reads https://tracker…
    "![pixel](\\\\\\\\tracker.example.net/p.gif)",  # Markdown's \\\\ is \\: a browser reads //
    "![pixel](https://user@cdn.example.com/p.gif)",  # userinfo: not the listed authority
    "![pixel][ref] after\n\n[ref]: https://tracker.example.net/p.gif",
]


@pytest.mark.parametrize("source", FOREIGN_IMAGES)
def test_images_from_other_hosts_are_dropped_by_default(source, settings):
    settings.MARKDOWN_IMAGE_HOSTS = ["cdn.example.com"]
    html = str(render_markdown(f"Before {source}" + ("" if "after" in source else " after")))
    assert "<img" not in html and "tracker" not in html, html
    assert "Before" in html and "after" in html  # the text around it stays


def test_same_origin_images_stay_and_listed_hosts_are_allowed(settings):
    source = "![a](/media/assets/a.png) ![b](shots/b.png) ![c](https://cdn.example.com/c.png)"
    settings.MARKDOWN_IMAGE_HOSTS = []
    html = str(render_markdown(source))
    assert '<img alt="a" src="/media/assets/a.png">' in html
    assert '<img alt="b" src="shots/b.png">' in html
    assert "cdn.example.com" not in html
    settings.MARKDOWN_IMAGE_HOSTS = ["CDN.example.com"]
    html = str(render_markdown(source))
    assert '<img alt="c" src="https://cdn.example.com/c.png">' in html
    # Only over https (the policy's img-src lists https:// origins), and only that host.
    assert "<img" not in str(render_markdown("![c](http://cdn.example.com/c.png)"))
    assert "<img" not in str(render_markdown("![c](https://cdn.example.com.evil.net/c.png)"))


def test_image_allow_list_is_the_policy_img_src():
    """The setting and the header are one list: hosts come from MARKDOWN_IMAGE_HOSTS."""
    from django.conf import settings as django_settings

    img_src = django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    assert img_src == ["'self'", *(f"https://{h}" for h in django_settings.MARKDOWN_IMAGE_HOSTS)]
