"""Template helpers that put the review state on the provider's version cards."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from assets.models import AssetVersion

from ..selectors import version_reviews, version_timelines

register = template.Library()


@register.simple_tag
def attach_reviews(
    versions: Iterable[AssetVersion] | None, checklist: Iterable[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`{% attach_reviews versions checklist as review_state %}` on the asset page.

    Sets `version.review` ({"pending", "last_decision"}) and `version.timeline` on every
    card in two queries, however many versions there are, and says whether the asset may
    ask for listing (the portal's checklist) and what is missing.
    """
    versions = list(versions or [])
    ids = [version.pk for version in versions]
    reviews = version_reviews(version_ids=ids)
    timelines = version_timelines(version_ids=ids)
    for version in versions:
        version.review = reviews[version.pk]  # type: ignore[attr-defined]
        version.timeline = timelines[version.pk]  # type: ignore[attr-defined]
    missing = [str(item["label"]) for item in checklist or [] if not item["done"]]
    return {"listing_ready": not missing, "missing": missing}
