"""The approval timeline in 中文: words, never the audit's codes or English labels."""

import pytest

from approvals import services
from tests.instances.test_event_language import page_text

pytestmark = pytest.mark.django_db

RAW_CODES = ["listing_review", "version.created", "approval.", "draft", "on_sale"]
ENGLISH = ["Listing review", "Listing rejected", "Version created", "Draft", "the platform"]


def test_the_approval_timeline_speaks_chinese(client, provider, admin, draft, submit):
    approval = submit(draft)
    services.reject_request(actor=admin, approval=approval, reason="图标模糊")
    pages = {
        "provider version card": (provider.owner, f"/provider/assets/{draft.asset.code}/"),
        "approval detail": (admin, f"/approvals/{approval.pk}/"),
    }
    for name, (user, url) in pages.items():
        client.force_login(user)
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert 'data-testid="timeline"' in html, name
        timeline = page_text(html[html.index('data-testid="timeline"') :])
        timeline = timeline[: timeline.index("图标模糊") + 200]
        for text in RAW_CODES + ENGLISH:
            assert text not in timeline, (name, text)
