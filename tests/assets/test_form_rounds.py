"""添加资产 / 编辑资产: every error in one round, and chosen images survive a failed submit."""

import re

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from assets import uploads
from assets.models import Asset

from .test_views import _asset_post


@pytest.fixture
def provider_client(client, provider):
    client.force_login(provider.owner)
    client.tenant = provider
    return client


def _errors(html):
    """{field: [messages]} of the rendered error lists."""
    found = {}
    for field, items in re.findall(r'<ul class="errorlist" data-field="([^"]+)">(.*?)</ul>', html):
        found[field] = re.findall(r"<li>(.*?)</li>", items)
    return found


def _token(html, name):
    tokens = re.findall(rf'name="{name}" value="([^"]+)"', html)
    assert tokens, f"no {name} on the page"
    return tokens


def test_every_field_error_shows_in_one_response(provider_client, category, image_file):
    """Shape errors (price, name) and the service's checks (icon size, link address, a
    screenshot that is no image) at once: before, the icon came only on the next submit."""
    data = _asset_post(
        category,
        image_file,
        name="",
        icon=image_file(120, 80, "GIF"),
        terms_url="",
        **{"plans-0-price": "-5", "plans-1-name": "x" * 101},
    )
    data["screenshots"] = [image_file(264, 146, "GIF")]
    response = provider_client.post(reverse("assets:asset-create"), data)
    assert response.status_code == 200
    errors = _errors(response.content.decode())
    assert errors["name"] == ["This field is required."]  # once, not also the service's
    assert "got 120×80 GIF" in errors["icon"][0]
    assert "enter its address" in errors["terms_url"][0]
    assert "Screenshots must be JPG or PNG" in errors["screenshots"][0]
    assert "greater than or equal to 0" in errors["plans-0-price"][0]
    assert "at most 100 characters" in errors["plans-1-name"][0]
    assert not Asset.objects.exists()


def test_edit_shows_shape_and_icon_errors_at_once(provider_client, make_asset, image_file):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:asset-edit", args=[asset.code])
    data = _asset_post(asset.category, image_file, name="", icon=image_file(120, 80, "GIF"))
    data.pop("screenshots")
    errors = _errors(provider_client.post(url, data).content.decode())
    assert errors["name"] == ["This field is required."]
    assert "got 120×80 GIF" in errors["icon"][0]
    asset.refresh_from_db()
    assert asset.name == "mem1"


def test_a_good_icon_and_screenshots_survive_a_failed_submit(provider_client, category, image_file):
    url = reverse("assets:asset-create")
    first = provider_client.post(
        url, _asset_post(category, image_file, **{"plans-0-price": "abc"})
    ).content.decode()
    assert "plans-0-price" in _errors(first) and not Asset.objects.exists()
    assert 'data-testid="kept-icon"' in first and "kept — choose another to replace it" in first
    (icon_token,) = _token(first, "icon_kept")
    shot_tokens = _token(first, "screenshots_kept")
    assert len(shot_tokens) == 2
    kept_names = [
        provider_client.session[uploads.SESSION_KEY][t]["name"] for t in [icon_token, *shot_tokens]
    ]
    assert all(name.startswith("pending/") and default_storage.exists(name) for name in kept_names)
    preview = provider_client.get(reverse("assets:kept-upload", args=[icon_token]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"

    # The second submit re-sends the tokens, not the files (a browser cannot).
    data = _asset_post(category, image_file)
    del data["icon"], data["screenshots"]
    data["icon_kept"] = icon_token
    data["screenshots_kept"] = shot_tokens
    response = provider_client.post(url, data)
    assert response.status_code == 302, _errors(response.content.decode())
    asset = Asset.objects.get()
    assert asset.icon.name.startswith(f"assets/{asset.code}/icon-")
    assert asset.icon.width == 96 and asset.icon.height == 96
    assert asset.screenshots.count() == 2
    assert not any(default_storage.exists(name) for name in kept_names)  # used, so gone
    assert provider_client.session[uploads.SESSION_KEY] == {}


def test_a_bad_icon_is_not_kept(provider_client, category, image_file):
    data = _asset_post(category, image_file, icon=image_file(120, 80, "GIF"))
    html = provider_client.post(reverse("assets:asset-create"), data).content.decode()
    assert 'name="icon_kept"' not in html and 'name="screenshots_kept"' in html


def test_another_users_token_is_ignored(provider_client, other_provider, category, image_file):
    first = provider_client.post(
        reverse("assets:asset-create"),
        _asset_post(category, image_file, **{"plans-0-price": "abc"}),
    ).content.decode()
    (icon_token,) = _token(first, "icon_kept")

    intruder = Client()
    intruder.force_login(other_provider.owner)
    assert intruder.get(reverse("assets:kept-upload", args=[icon_token])).status_code == 404
    data = _asset_post(category, image_file)
    del data["icon"]
    data["icon_kept"] = icon_token
    html = intruder.post(reverse("assets:asset-create"), data).content.decode()
    assert _errors(html)["icon"] == ["This field is required."]
    assert not Asset.objects.exists()


def test_the_edit_form_keeps_a_new_icon(provider_client, make_asset, image_file):
    asset = make_asset(provider_client.tenant)
    old_icon = asset.icon.name
    url = reverse("assets:asset-edit", args=[asset.code])
    data = _asset_post(asset.category, image_file, name="")
    data.pop("screenshots")
    (token,) = _token(provider_client.post(url, data).content.decode(), "icon_kept")
    data = _asset_post(asset.category, image_file, name="mem2")
    data.pop("screenshots")
    del data["icon"]
    data["icon_kept"] = token
    assert provider_client.post(url, data).status_code == 302
    asset.refresh_from_db()
    assert asset.name == "mem2" and asset.icon.name != old_icon


def test_abandoned_kept_files_are_purged(provider_client, category, image_file):
    provider_client.post(
        reverse("assets:asset-create"),
        _asset_post(category, image_file, **{"plans-0-price": "abc"}),
    )
    names = [e["name"] for e in provider_client.session[uploads.SESSION_KEY].values()]
    assert len(names) == 3
    assert uploads.purge_kept_uploads() == 0  # younger than the TTL: kept
    assert all(default_storage.exists(name) for name in names)
    assert uploads.purge_kept_uploads(older_than=-1) == 3
    assert not any(default_storage.exists(name) for name in names)


def test_the_new_strings_are_translated():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert translation.gettext("%(name)s kept — choose another to replace it.") == (
            "已保留 %(name)s — 如需替换，请重新选择。"
        )
        assert translation.gettext("Under 99") == "低于 99"
        assert translation.gettext(
            "Please fix the marked fields; every problem found is shown."
        ).startswith("请修改")
