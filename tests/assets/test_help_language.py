"""Help texts of the asset forms in the reader's language: a class-level `_() % {...}` is
translated once at import, in English, so 中文 readers got English icon/screenshot help."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ENGLISH_HELP = [
    "The icon is 96×96 px",
    "JPG or PNG",
    "Recommended ",
    "At least one is needed before listing",
]


@pytest.fixture
def provider_client(client, provider):
    client.force_login(provider.owner)
    return client


def test_icon_and_screenshot_help_is_chinese_in_chinese(provider_client, provider, make_asset):
    asset = make_asset(provider)
    pages = [
        reverse("assets:asset-create"),
        reverse("assets:asset-edit", args=[asset.code]),
        reverse("assets:asset-info", args=[asset.code]),
    ]
    for url in pages:
        zh = provider_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        for english in ENGLISH_HELP:
            assert english not in zh, (url, english)
    zh = provider_client.get(pages[0], HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "资产图标尺寸为 96×96 px" in zh
    assert "建议图片" in zh
    english = provider_client.get(pages[0], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The icon is 96×96 px, JPG or PNG." in english
