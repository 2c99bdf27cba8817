"""Platform events read in the reader's language: the worker (English) writes them down
untranslated, the page translates them; no raw code and no English sentence in 中文."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop
from rest_framework.test import APIClient

from core.i18n import Text
from instances import services as instance_services
from provisioning.models import Installation, InstallationEvent
from provisioning.records import add_event

pytestmark = pytest.mark.django_db

# Our own event sentences (and pieces of them) that must not reach a 中文 page.
ENGLISH_EVENTS = [
    "Now Installed",
    "Install ",
    "approval)",
    "Create Memcached",
    "applied; waiting",
    "replicas ready",
    "External access requested",
    "automatic",
]
# Raw codes a page must show as words.
RAW_CODES = ["pending_payment", "listing_review", "order.placed", "installed.", "Automatic"]


class _Text(HTMLParser):
    """What a person reads on a page: its text, not its attributes, scripts or styles."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_a_text_is_kept_untranslated_and_rendered_in_the_readers_language():
    text = Text(
        gettext_noop("Now %(status)s."), status=Text.label(Installation.Status.INSTALLED.label)
    )
    with translation.override("zh-hans"):
        assert text.english() == "Now Installed."  # even when the writer reads 中文
        assert str(text) == "当前状态：已安装。"
    assert text.to_json() == {"status": {"__text__": "Installed", "args": {}}}


def test_events_pages_speak_chinese_and_the_api_keeps_english(client, buyer, running):
    installation = running.installation
    with translation.override("zh-hans"):  # a 中文 user's request writes the event
        instance_services.set_external_access(actor=buyer.owner, instance=running, enabled=True)
    add_event(
        installation=installation,
        reason="Installed",
        message=Text(
            gettext_noop("Now %(status)s."),
            status=Text.label(Installation.Status.INSTALLED.label),
        ),
    )
    client.force_login(buyer.owner)
    pages = {
        "installation events": reverse(
            "provisioning:installation-tab", args=[installation.pk, "events"]
        ),
        "instance events": reverse("instances:instance-tab", args=[running.pk, "events"]),
    }
    for name, url in pages.items():
        english = client.get(url).content.decode()
        zh = page_text(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
        assert 'data-testid="events"' in english, name
        for sentence in ENGLISH_EVENTS:
            assert sentence not in zh, (name, sentence)
        for code in RAW_CODES:
            assert code not in zh, (name, code)
    zh = page_text(
        client.get(pages["installation events"], HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    )
    assert "当前状态：已安装。" in zh
    english = page_text(client.get(pages["instance events"]).content.decode())
    assert "External access requested" in english
    # The API's `message` stays the English sentence, whoever asked and in which language.
    api = APIClient()
    api.force_authenticate(buyer.owner)
    rows = api.get(
        f"/api/v1/installations/{installation.pk}/events/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).json()
    assert "Now Installed." in [row["message"] for row in rows]
    assert InstallationEvent.objects.filter(message_id="Now %(status)s.").exists()


def test_a_subscription_change_reads_as_words_in_each_language():
    from provisioning.services import _subscription_change_text

    text = _subscription_change_text({"approval": ["Automatic", "Manual"]})
    assert text.english() == "Approval changed from Automatic to Manual."
    with translation.override("zh-hans"):
        assert str(text) == "批准方式由自动改为手动。"
    both = _subscription_change_text({"channel": ["stable", "alpha"], "approval": ["Manual", "X"]})
    with translation.override("zh-hans"):
        assert "stable" in str(both) and "alpha" in str(both) and "手动" in str(both)
        assert "approval" not in str(both)


def test_a_translation_that_does_not_fit_its_arguments_falls_back_to_english():
    from core.i18n import render

    assert render("Now %(status)s.", {}) == translation.gettext("Now %(status)s.")
    assert render("Now %(status)s.", {"other": 1}) == "Now %(status)s."
    assert render("Retry requested.") == "Retry requested."
