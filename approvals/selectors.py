"""Reads of the approvals app, always scoped to the acting user.

Platform admins see every request; a provider sees its own tenants' requests; any
other request is a 404, never a 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import AuditEntry, Tenant, User
from accounts.permissions import is_platform_admin
from assets.models import (
    OTHER_INFO_FIELDS,
    Asset,
    AssetRevision,
    AssetVersion,
    Category,
    ContentMode,
    Plan,
    Screenshot,
)
from assets.selectors import scan_summaries
from assets.signals import buyer_tenant_counts
from core.errors import NotFound

from .models import ApprovalRequest

PENDING_FIRST = Case(
    When(status=ApprovalRequest.Status.PENDING, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


def requests_for(*, user: User | AnonymousUser) -> QuerySet[ApprovalRequest]:
    """Every column of the queue in one query (the user count comes from `attach_user_counts`)."""
    if not user.is_authenticated:
        return ApprovalRequest.objects.none()
    requests = ApprovalRequest.objects.select_related(
        "asset__category",
        "asset__tenant",
        "version",
        "tenant",
        "requested_by",
        "decided_by",
        "revision",
    )
    if not is_platform_admin(user):
        requests = requests.filter(tenant__memberships__user=user)
    return requests.order_by(PENDING_FIRST, "-created_at", "-id")


def filter_requests(
    requests: QuerySet[ApprovalRequest], *, status: str = "", kind: str = ""
) -> QuerySet[ApprovalRequest]:
    """The queue's filters; a value that is not a choice is ignored, not an error."""
    if status in ApprovalRequest.Status.values:
        requests = requests.filter(status=status)
    if kind in ApprovalRequest.Kind.values:
        requests = requests.filter(kind=kind)
    return requests


def pending_count(*, user: User | AnonymousUser) -> int:
    """The queue's "N pending" badge."""
    return requests_for(user=user).filter(status=ApprovalRequest.Status.PENDING).count()


def get_request_for(*, user: User | AnonymousUser, request_id: int | str) -> ApprovalRequest:
    """One request the user may see; any other is "not found" (never "forbidden")."""
    try:
        return requests_for(user=user).get(pk=request_id)
    except (ApprovalRequest.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such approval request.") from None


def attach_user_counts(requests: Iterable[ApprovalRequest]) -> list[ApprovalRequest]:
    """资产用户量 for a whole page in one question to the apps above assets (orders)."""
    requests = list(requests)
    counts = buyer_tenant_counts({r.asset_id for r in requests})
    for request in requests:
        request.user_count = counts.get(request.asset_id, 0)  # type: ignore[attr-defined]
    return requests


def attach_scan_summaries(requests: Iterable[ApprovalRequest]) -> list[ApprovalRequest]:
    """扫描结果 for a whole page in one query: each request's version's image scans."""
    requests = list(requests)
    summaries = scan_summaries(version_ids={r.version_id for r in requests if r.version_id})
    for request in requests:
        summary = summaries.get(request.version_id) if request.version_id else None
        request.scan_summary = summary  # type: ignore[attr-defined]
    return requests


def own_tenant_ids(*, user: User | AnonymousUser) -> set[int]:
    """The tenants whose requests this admin may not decide (their own)."""
    return set(account_selectors.roles_of(user=user))


def deciders(*, tenant: Tenant) -> QuerySet[User]:
    """Who is told of a new request: every platform admin but the asking tenant's members."""
    return account_selectors.platform_admins(excluding_tenant=tenant)


def tenant_contacts(*, tenant: Tenant, also: User | None = None) -> list[User]:
    """Who hears about a decision: the tenant's owners and the applicant."""
    users = {user.pk: user for user in account_selectors.tenant_owners(tenant=tenant)}
    if also is not None:
        users.setdefault(also.pk, also)
    return list(users.values())


# --- what the reviewer looks at --------------------------------------------------------------


class ReviewMaterial(TypedDict):
    plans: list[Plan]
    screenshots: list[Screenshot]
    version: AssetVersion | None
    history: list[ApprovalRequest]


def review_material(*, approval: ApprovalRequest) -> ReviewMaterial:
    """The detail page: the asset's plans on sale, its screenshots, the version as it is now."""
    asset = approval.asset
    version = None
    if approval.version_id is not None:  # None once a draft or delisted version is deleted
        version = (
            AssetVersion.objects.select_related("catalog_source", "cluster", "project")
            .filter(pk=approval.version_id)
            .first()
        )
    return {
        "plans": list(Plan.objects.filter(asset=asset, is_archived=False).order_by("position")),
        "screenshots": list(Screenshot.objects.filter(asset=asset).order_by("position")),
        "version": version,
        "history": list(
            ApprovalRequest.objects.filter(asset=asset)
            .exclude(pk=approval.pk)
            .select_related("requested_by", "decided_by")
            .order_by("-created_at", "-id")[:10]
        ),
    }


# --- the provider's side: the version card ----------------------------------------------------

TIMELINE_LABELS = {
    "version.created": _("Version created"),
    "version.updated": _("Version edited"),
    "version.listing_requested": _("Listing requested"),
    "version.listed": _("Listing approved: on sale"),
    "version.listing_rejected": _("Listing rejected"),
    "version.listing_withdrawn": _("Listing request withdrawn"),
    "version.delisting_requested": _("Delisting requested"),
    "version.delisted": _("Delisting approved: delisted"),
    "version.delisting_rejected": _("Delisting rejected"),
    "version.delisting_withdrawn": _("Delisting request withdrawn"),
    "version.superseded": _("Superseded by a newer version"),
}


class TimelineEntry(TypedDict):
    at: datetime
    action: str
    label: str | Promise
    actor: str
    from_state: str
    from_label: str | Promise
    to_state: str
    to_label: str | Promise
    reason: str


class VersionReview(TypedDict):
    pending: ApprovalRequest | None
    last_decision: ApprovalRequest | None


def _status_label(value: str) -> str | Promise:
    try:
        return AssetVersion.Status(value).label
    except ValueError:
        return value


def version_timelines(*, version_ids: Iterable[int]) -> dict[int, list[TimelineEntry]]:
    """{version id: [entry, …]} oldest first, from the audit trail: who, when, from → to, why."""
    object_ids = [str(pk) for pk in version_ids]
    timelines: dict[int, list[TimelineEntry]] = {int(pk): [] for pk in object_ids}
    if not object_ids:
        return timelines
    entries = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(AssetVersion),
            object_id__in=object_ids,
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    for entry in entries:
        timelines[int(entry.object_id)].append(
            {
                "at": entry.created_at,
                "action": entry.action,
                "label": TIMELINE_LABELS.get(entry.action, entry.action),
                "actor": str(entry.actor) if entry.actor else "",
                "from_state": entry.from_state,
                "from_label": _status_label(entry.from_state) if entry.from_state else "",
                "to_state": entry.to_state,
                "to_label": _status_label(entry.to_state) if entry.to_state else "",
                "reason": entry.reason,
            }
        )
    return timelines


def version_reviews(*, version_ids: Iterable[int]) -> dict[int, VersionReview]:
    """{version id: {"pending": request | None, "last_decision": request | None}}."""
    reviews: dict[int, VersionReview] = {
        pk: {"pending": None, "last_decision": None} for pk in version_ids
    }
    if not reviews:
        return reviews
    requests = (
        ApprovalRequest.objects.filter(version_id__in=list(reviews))
        .select_related("requested_by", "decided_by")
        .order_by("-created_at", "-id")
    )
    decided = {ApprovalRequest.Status.APPROVED, ApprovalRequest.Status.REJECTED}
    for request in requests:
        if request.version_id is None:
            continue
        review = reviews[request.version_id]
        if request.is_pending and review["pending"] is None:
            review["pending"] = request
        elif request.status in decided and review["last_decision"] is None:
            review["last_decision"] = request
    return reviews


# --- revisions: what changes on a listed asset's page --------------------------------------


class FieldChange(TypedDict):
    field: str
    label: str | Promise
    old: str
    new: str
    markdown: bool


class PlanChange(TypedDict):
    is_new: bool
    name: str
    old: str
    new: str


class ScreenshotChange(TypedDict):
    action: str  # "add" | "remove"
    key: str
    screenshot: int | None  # the live one a removal is about
    url: str
    width: int
    height: int


class PlanMove(TypedDict):
    action: str  # "archive" | "restore" | "delete"
    plan: int
    name: str
    text: str
    label: str | Promise


class RevisionDiff(TypedDict):
    fields: list[FieldChange]
    plans: list[PlanChange]
    icon_old: str
    icon_new: str
    screenshots: list[ScreenshotChange]
    plan_actions: list[PlanMove]


PLAN_MOVE_LABELS = {
    "archive": _("Plan archived"),
    "restore": _("Plan back on sale"),
    "delete": _("Plan deleted"),
}


def _field_label(field: str) -> str | Promise:
    for prefix, label in OTHER_INFO_FIELDS:
        if field.startswith(prefix + "_"):
            part = field.removeprefix(prefix + "_")
            suffix = {"mode": _("mode"), "markdown": _("Markdown"), "url": _("link")}[part]
            return format_lazy("{} ({})", label, suffix)
    return str(getattr(Asset._meta.get_field(field), "verbose_name", field))


def _field_text(field: str, value: Any) -> str:
    if field == "category":
        category = Category.objects.filter(pk=value).first()
        return category.name if category else "-"
    if field == "delivery_type":
        return str(dict(Asset.DeliveryType.choices).get(value, value))
    if field.endswith("_mode"):
        return str(dict(ContentMode.choices).get(value, value))
    return "" if value is None else str(value)


def _plan_text(plan: Plan) -> str:
    price = _("Free") if plan.price == 0 else f"{plan.price} T"
    return f"{plan.name} · {price} / {plan.duration_display}"


def revision_diff(*, revision: AssetRevision) -> RevisionDiff:
    """old → new of every held change: the reviewer's diff and the provider's summary."""
    asset = revision.asset
    fields: list[FieldChange] = [
        {
            "field": field,
            "label": _field_label(field),
            "old": _field_text(
                field, asset.category_id if field == "category" else getattr(asset, field)
            ),
            "new": _field_text(field, value),
            "markdown": field == "description" or field.endswith("_markdown"),
        }
        for field, value in revision.fields.items()
    ]
    current = {p.pk: p for p in Plan.objects.filter(asset=asset)}
    plans: list[PlanChange] = []
    for entry in revision.plans:
        new = Plan(
            name=entry["name"],
            price=Decimal(str(entry["price"])),
            duration_value=entry["duration_value"],
            duration_unit=entry["duration_unit"],
        )
        old = current.get(entry.get("plan")) if entry.get("plan") is not None else None
        plans.append(
            {
                "is_new": old is None,
                "name": str(entry["name"]),
                "old": _plan_text(old) if old is not None else "",
                "new": _plan_text(new),
            }
        )
    live_shots = {shot.pk: shot for shot in Screenshot.objects.filter(asset=asset)}
    screenshots: list[ScreenshotChange] = []
    for entry in revision.screenshots:
        if entry["action"] == "add":
            url, width, height = (
                default_storage.url(entry["image"]),
                entry["width"],
                entry["height"],
            )
            screenshot = None
        else:
            shot = live_shots.get(entry["screenshot"])
            if shot is None:
                continue  # already gone
            url, width, height, screenshot = shot.image.url, shot.width, shot.height, shot.pk
        screenshots.append(
            {
                "action": entry["action"],
                "key": entry["key"],
                "screenshot": screenshot,
                "url": url,
                "width": width,
                "height": height,
            }
        )
    plan_actions: list[PlanMove] = [
        {
            "action": entry["action"],
            "plan": plan.pk,
            "name": plan.name,
            "text": _plan_text(plan),
            "label": PLAN_MOVE_LABELS[entry["action"]],
        }
        for entry in revision.plan_actions
        if (plan := current.get(entry["plan"])) is not None
    ]
    return {
        "fields": fields,
        "plans": plans,
        "icon_old": asset.icon.url if revision.icon and asset.icon else "",
        "icon_new": revision.icon.url if revision.icon else "",
        "screenshots": screenshots,
        "plan_actions": plan_actions,
    }


def pending_revision_request(*, asset: Asset) -> ApprovalRequest | None:
    """The open review of this asset's held changes, if any (the provider's banner)."""
    return (
        ApprovalRequest.objects.select_related("revision")
        .filter(
            asset=asset, kind=ApprovalRequest.Kind.REVISION, status=ApprovalRequest.Status.PENDING
        )
        .first()
    )
