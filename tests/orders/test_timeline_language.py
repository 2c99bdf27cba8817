"""The order timeline in 中文: words, never the audit's codes or English labels."""

import pytest
from django.urls import reverse

from tests.instances.test_event_language import page_text

pytestmark = pytest.mark.django_db

RAW_CODES = ["pending_payment", "order.placed", "order.paid", "paid →", "→ paid"]
ENGLISH = ["Order placed", "Pending payment", "Paid", "the platform"]


def test_the_order_timeline_speaks_chinese(
    client, buyer, mem1, place, fund, django_capture_on_commit_callbacks
):
    fund(buyer, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(buyer, mem1, pay_now=True)
    client.force_login(buyer.owner)
    html = client.get(
        reverse("orders:order-detail", args=[order.code]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    timeline = page_text(html[html.index('data-testid="timeline"') :])
    for text in RAW_CODES + ENGLISH:
        assert text not in timeline, text
