"""Operator assets a provider registers: category, asset, plans, screenshots, versions."""

import copy
import secrets
import string
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import ExpressionWrapper, F, OrderBy, Value
from django.db.models.functions import Coalesce, Lower
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant
from clusters.models import CatalogSource, Cluster

BASE62 = string.digits + string.ascii_letters
ASSET_CODE_PREFIX = "ASID-"
ASSET_CODE_RE = r"^ASID-[0-9A-Za-z]{11}$"

# An example of 平台支持范围, shown as a placeholder only: its phone and e-mail are not
# real, so they are never stored for a provider (migration 0009 blanked stored copies).
SUPPORT_SCOPE_EXAMPLE = (
    "服务时间: 7*24 小时\n\n"
    "服务热线: 400-400-4400\n\n"
    "服务邮箱: xxx@ss.cc\n\n"
    "服务内容: 产品售后、技术咨询、商用配置等"
)


def generate_asset_code():
    """`ASID-` + 11 base62 characters from a CSPRNG: unguessable, ~65 bits."""
    return ASSET_CODE_PREFIX + "".join(secrets.choice(BASE62) for _ in range(11))


def _upload_path(instance, filename, kind):
    # The service re-encodes every upload, so the extension it passes is trustworthy.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "png"
    asset = instance if isinstance(instance, Asset) else instance.asset
    return f"assets/{asset.code}/{kind}-{uuid.uuid4().hex[:12]}.{extension}"


def icon_upload_path(instance, filename):
    return _upload_path(instance, filename, "icon")


def screenshot_upload_path(instance, filename):
    return _upload_path(instance, filename, "screenshot")


class Category(models.Model):
    """资产分类: a storefront shelf. Platform admins manage the list."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name_en = models.CharField(_("English name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name_en"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self):
        return self.name

    @property
    def name(self):
        """Categories are data, not msgids: the name follows the active language."""
        language = get_language() or ""
        return self.name_zh if language.lower().startswith("zh") else self.name_en


class ContentMode(models.TextChoices):
    """Each "other info" field is Markdown or a link (支持 Markdown 编辑模式和外部链接模式)."""

    MARKDOWN = "markdown", _("Markdown")
    LINK = "link", _("External link")


# (prefix, label) of the "other info" fields; each has `<prefix>_mode/_markdown/_url`.
OTHER_INFO_FIELDS = [
    ("usage_help", _("Usage help")),
    ("terms", _("Terms of use")),
    ("customer_cases", _("Customer cases")),
    ("support_scope", _("Platform support scope")),
]


def _mode_field():
    return models.CharField(
        max_length=10, choices=ContentMode.choices, default=ContentMode.MARKDOWN
    )


class ShelfIndex(models.Index):
    """An index with a NULLS FIRST/LAST order, which SQLite does not accept in an index:
    there it is the same columns without it. (Migration 0005's price indexes; 0007 put
    the price sorts on `shelf_price`.)"""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "sqlite":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = copy.deepcopy(self)
        for expression in plain.expressions:
            if isinstance(expression, OrderBy):
                expression.nulls_first = expression.nulls_last = None
        return models.Index.create_sql(plain, model, schema_editor, using=using, **kwargs)


# The price sorts put an asset with no plan on sale (min_price null) last in both
# directions by sorting on a stand-in for it: above any price going up, below any going
# down. One expression per direction, indexed, so every page of a price sort (the last
# one too) is one index range scan.
NO_PLAN_PRICE_UP = Decimal("10000000000")  # above max_digits=12, decimal_places=2
NO_PLAN_PRICE_DOWN = Decimal("-1")


def shelf_price(stand_in: Decimal) -> Any:
    """The price sort's key: the cheapest plan on sale, else the direction's stand-in;
    going up, negated, so that every sort reads its index in one direction (key, then
    id, both descending) and a cursor is one row comparison `(key, id) < (value, id)`."""
    price = Coalesce(
        F("min_price"),
        Value(stand_in),
        output_field=models.DecimalField(max_digits=12, decimal_places=2),
    )
    if stand_in == NO_PLAN_PRICE_UP:
        return ExpressionWrapper(
            price * Value(Decimal("-1")),
            output_field=models.DecimalField(max_digits=13, decimal_places=2),
        )
    return price


class Asset(models.Model):
    """An operator (or image, chart, API) a provider tenant registers for sale."""

    class DeliveryType(models.TextChoices):
        OPERATOR = "operator", _("Operator")
        CONTAINER_IMAGE = "container_image", _("Container image")
        HELM_CHART = "helm_chart", _("Helm chart")
        API_SERVICE = "api_service", _("API service")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="assets", verbose_name=_("tenant")
    )
    code = models.CharField(
        _("asset code"), max_length=16, unique=True, default=generate_asset_code, editable=False
    )
    delivery_type = models.CharField(
        _("delivery type"),
        max_length=20,
        choices=DeliveryType.choices,
        default=DeliveryType.OPERATOR,
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="assets", verbose_name=_("category")
    )
    name = models.CharField(_("asset name"), max_length=100)
    summary = models.CharField(_("summary"), max_length=200)
    description = models.TextField(_("description"))
    icon = models.ImageField(_("asset icon"), upload_to=icon_upload_path, max_length=200)
    website = models.URLField(_("provider website"), max_length=300, blank=True)

    usage_help_mode = _mode_field()
    usage_help_markdown = models.TextField(blank=True)
    usage_help_url = models.URLField(max_length=500, blank=True)
    terms_mode = _mode_field()
    terms_markdown = models.TextField(blank=True)
    terms_url = models.URLField(max_length=500, blank=True)
    customer_cases_mode = _mode_field()
    customer_cases_markdown = models.TextField(blank=True)
    customer_cases_url = models.URLField(max_length=500, blank=True)
    support_scope_mode = _mode_field()
    support_scope_markdown = models.TextField(blank=True)
    support_scope_url = models.URLField(max_length=500, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # 浏览量: storefront page views, at most one per visitor session per hour (F() update).
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    # What the storefront filters and sorts on, stored so a page reads 12 rows through an
    # index instead of computing them per asset: the cheapest plan not archived (null: no
    # plan) and when the version on sale was listed (null: nothing on sale, not listed).
    # Kept by `assets.shelf.refresh_storefront_fields`, which every service that changes
    # plans or moves a version calls in its transaction.
    min_price = models.DecimalField(
        _("lowest price"), max_digits=12, decimal_places=2, null=True, blank=True, editable=False
    )
    listed_at = models.DateTimeField(_("listed at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        # One index per storefront sort, over listed assets only, in the sort's exact order
        # (the id breaks ties and is the keyset's last key).
        indexes = [
            models.Index(
                F("listed_at").desc(),
                F("id").desc(),
                name="asset_shelf_newest",
                condition=models.Q(listed_at__isnull=False),
            ),
            models.Index(
                shelf_price(NO_PLAN_PRICE_UP).desc(),
                F("id").desc(),
                name="asset_shelf_price_up",
                condition=models.Q(listed_at__isnull=False),
            ),
            models.Index(
                shelf_price(NO_PLAN_PRICE_DOWN).desc(),
                F("id").desc(),
                name="asset_shelf_price_down",
                condition=models.Q(listed_at__isnull=False),
            ),
            models.Index(
                F("updated_at").desc(),
                F("id").desc(),
                name="asset_shelf_updated",
                condition=models.Q(listed_at__isnull=False),
            ),
            models.Index(
                F("view_count").desc(),
                F("id").desc(),
                name="asset_shelf_views",
                condition=models.Q(listed_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="asset_unique_name_per_tenant"),
            models.CheckConstraint(
                condition=models.Q(code__regex=ASSET_CODE_RE), name="asset_code_format"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    delivery_type__in=["operator", "container_image", "helm_chart", "api_service"]
                ),
                name="asset_delivery_type_valid",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        """The code is the asset's public identity (orders, URLs): it never changes."""
        loaded = getattr(self, "_loaded_code", None)
        if loaded is not None and self.code != loaded:
            raise ValueError("An asset's code is immutable.")
        super().save(*args, **kwargs)
        self._loaded_code = self.code

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_code = instance.__dict__.get("code")
        return instance

    @property
    def is_operator(self):
        return self.delivery_type == self.DeliveryType.OPERATOR

    def other_info(self):
        """[(prefix, label, mode, markdown, url)] for the 资产信息 tab and the storefront."""
        return [
            (
                prefix,
                label,
                getattr(self, f"{prefix}_mode"),
                getattr(self, f"{prefix}_markdown"),
                getattr(self, f"{prefix}_url"),
            )
            for prefix, label in OTHER_INFO_FIELDS
        ]


# Plans last at most this many units (100 years, or 36,500 days): far beyond any real plan.
MAX_DURATION = 36500


class Plan(models.Model):
    """规格与定价: a price in T for a duration. Orders copy the price, so edits never reach them."""

    class DurationUnit(models.TextChoices):
        YEAR = "year", _("years")
        DAY = "day", _("days")

    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="plans", verbose_name=_("asset")
    )
    name = models.CharField(_("plan name"), max_length=100)
    price = models.DecimalField(
        _("price"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=_("In T, two decimal places; 0 means free."),
    )
    duration_value = models.PositiveIntegerField(
        _("duration"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION)],
        default=1,
    )
    duration_unit = models.CharField(
        _("duration unit"), max_length=4, choices=DurationUnit.choices, default=DurationUnit.YEAR
    )
    is_archived = models.BooleanField(_("archived"), default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="plan_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_value__gte=1), name="plan_duration_at_least_one"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_unit__in=["year", "day"]), name="plan_duration_unit"
            ),
            models.UniqueConstraint(
                "asset",
                Lower("name"),
                condition=models.Q(is_archived=False),
                name="plan_unique_active_name_per_asset",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.price} T / {self.duration_display})"

    @property
    def is_free(self):
        return self.price == 0

    @property
    def duration_display(self):
        if self.duration_unit == self.DurationUnit.YEAR:
            return ngettext("%(count)s year", "%(count)s years", self.duration_value) % {
                "count": self.duration_value
            }
        return ngettext("%(count)s day", "%(count)s days", self.duration_value) % {
            "count": self.duration_value
        }


class Screenshot(models.Model):
    """资产截图: at most two per asset, enforced by the database (position 0 or 1, unique)."""

    MAX_PER_ASSET = 2

    asset = models.ForeignKey(
        Asset, on_delete=models.CASCADE, related_name="screenshots", verbose_name=_("asset")
    )
    image = models.ImageField(_("image"), upload_to=screenshot_upload_path, max_length=200)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        verbose_name = _("screenshot")
        verbose_name_plural = _("screenshots")
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "position"], name="screenshot_unique_position"
            ),
            models.CheckConstraint(
                condition=models.Q(position__lt=2), name="screenshot_at_most_two"
            ),
        ]

    def __str__(self):
        return f"{self.asset.name} #{self.position + 1}"


class AssetVersion(models.Model):
    """A version of an Operator asset: which catalog, package and channels buyers get.

    Its status follows DESIGN.md's lifecycle; `assets.lifecycle` holds the transitions.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LISTING_REVIEW = "listing_review", _("Listing review")
        ON_SALE = "on_sale", _("On sale")
        DELISTING_REVIEW = "delisting_review", _("Delisting review")
        DELISTED = "delisted", _("Delisted")

    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="versions", verbose_name=_("asset")
    )
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="asset_versions", verbose_name=_("project")
    )
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, related_name="asset_versions", verbose_name=_("cluster")
    )
    catalog_source = models.ForeignKey(
        CatalogSource,
        on_delete=models.PROTECT,
        related_name="asset_versions",
        verbose_name=_("CatalogSource"),
    )
    package_name = models.CharField(_("package"), max_length=253)
    channels = models.JSONField(_("channels"), default=list)
    default_channel = models.CharField(_("default channel"), max_length=100)
    version = models.CharField(_("version"), max_length=64)
    csv_name = models.CharField(_("ClusterServiceVersion"), max_length=253)
    # The APIs (CRDs) the default channel's CSV owns, copied when the version was saved.
    provided_apis = models.JSONField(default=list, blank=True)
    # What each offered channel served when the version was defined: {channel: {"csv",
    # "version", "install_modes"}}. The listed CSV is what a purchase installs (OLM's
    # startingCSV); later ones in the channel arrive as upgrades.
    channel_heads = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    review_reason = models.TextField(
        _("review reason"), blank=True, help_text=_("The reviewer's reason for the last rejection.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted for listing at"), null=True, blank=True)
    listed_at = models.DateTimeField(_("listed at"), null=True, blank=True)
    delisting_requested_at = models.DateTimeField(
        _("delisting requested at"), null=True, blank=True
    )
    delisted_at = models.DateTimeField(_("delisted at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("asset version")
        verbose_name_plural = _("asset versions")
        constraints = [
            models.UniqueConstraint(
                fields=["asset"],
                condition=models.Q(status="on_sale"),
                name="assetversion_one_on_sale_per_asset",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "draft",
                        "listing_review",
                        "on_sale",
                        "delisting_review",
                        "delisted",
                    ]
                ),
                name="assetversion_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.asset.name} {self.version}"

    def starting_csv(self, channel: str) -> str:
        """The CSV a purchase on `channel` installs: the one listed, not today's head."""
        head = (self.channel_heads or {}).get(channel) or {}
        if head.get("csv"):
            return str(head["csv"])
        return self.csv_name if channel == self.default_channel else ""

    def install_modes(self, channel: str) -> list[str]:
        head = (self.channel_heads or {}).get(channel or self.default_channel) or {}
        return list(head.get("install_modes") or [])

    @property
    def is_deletable(self):
        return self.status in (self.Status.DRAFT, self.Status.DELISTED)

    @property
    def is_editable(self):
        return self.status == self.Status.DRAFT

    @property
    def approval_display(self):
        """审批状态 as the list shows it; the approvals issue owns the requests themselves."""
        if self.status == self.Status.LISTING_REVIEW:
            return _("Listing pending review")
        if self.status == self.Status.DELISTING_REVIEW:
            return _("Delisting pending review")
        if self.status == self.Status.DRAFT and self.review_reason:
            return _("Rejected")
        if self.status == self.Status.ON_SALE:
            return _("Approved")
        return ""

    @property
    def api_kinds(self):
        return [api.get("kind", "") for api in self.provided_apis if api.get("kind")]


# --- 资产镜像安全扫描结果: a version's images and their scan results ---------------------------

# Trivy's severities, lowest first (trivy-db pkg/types SeverityNames).
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class VersionImage(models.Model):
    """An image the version's bundle runs (clusters.bundle_images), or its catalog image."""

    class Role(models.TextChoices):
        OPERATOR = "operator", _("Operator")
        OPERAND = "operand", _("Operand")
        ROUTER = "router", _("Router")
        PROXY = "proxy", _("Proxy")
        BUNDLE = "bundle", _("Bundle")
        CATALOG = "catalog", _("Catalog (registry)")

    version = models.ForeignKey(
        AssetVersion, on_delete=models.CASCADE, related_name="images", verbose_name=_("version")
    )
    name = models.CharField(_("name"), max_length=253)
    reference = models.CharField(_("image"), max_length=500)
    digest = models.CharField(_("digest"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=0)
    # Why the configured scanner command could not scan it (its last run); "" otherwise.
    scan_error = models.TextField(_("scanner error"), blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("version image")
        verbose_name_plural = _("version images")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "reference"], name="versionimage_unique_reference"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    role__in=["operator", "operand", "router", "proxy", "bundle", "catalog"]
                ),
                name="versionimage_role_valid",
            ),
        ]

    def __str__(self):
        return self.reference


class ImageScan(models.Model):
    """The latest scan report of one image: counts by severity and its findings."""

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Uploaded in the portal")
        API = "api", _("Uploaded over the API")
        SCANNER = "scanner", _("Scanner command")

    image = models.OneToOneField(
        VersionImage, on_delete=models.CASCADE, related_name="scan", verbose_name=_("image")
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    artifact_name = models.CharField(_("artifact name"), max_length=500)
    artifact_id = models.CharField(_("image ID"), max_length=100, blank=True)
    report_created_at = models.DateTimeField(_("report created at"), null=True, blank=True)
    critical = models.PositiveIntegerField(default=0)
    high = models.PositiveIntegerField(default=0)
    medium = models.PositiveIntegerField(default=0)
    low = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    # [{"id", "pkg", "installed", "fixed", "severity", "title", "url", "target"}], worst first.
    findings = models.JSONField(default=list, blank=True)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("scanned at"), auto_now_add=True)

    class Meta:
        verbose_name = _("image scan")
        verbose_name_plural = _("image scans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=["upload", "api", "scanner"]),
                name="imagescan_source_valid",
            ),
        ]

    def __str__(self):
        return f"{self.image.reference} ({self.created_at:%Y-%m-%d})"

    def counts(self) -> list[tuple[str, int]]:
        """[(severity, count)], worst first, as the table shows them."""
        return [(s, getattr(self, s.lower())) for s in reversed(SEVERITIES)]

    @property
    def short_image_id(self) -> str:
        """镜像id as `docker images` prints it: the first 12 hex digits."""
        return self.artifact_id.split(":", 1)[-1][:12]

    @property
    def worst(self) -> str:
        """The highest severity with a finding; "" when there is none."""
        for severity, count in self.counts():
            if count:
                return severity
        return ""


# --- 待审核的资产变更: edits of a listed asset held for review ----------------------------------


class AssetRevision(models.Model):
    """Changes to a listed asset's public page, held until a platform admin approves them.

    Buyers read the live asset; once an asset has a version on sale, `update_asset`,
    `create_plan`, `update_plan`, the screenshot services and archiving, restoring or
    deleting a plan write here instead (one pending revision per asset, edited in place)
    and the approvals queue reviews it. `fields` maps an ASSET_FIELDS name to its new value
    (the category by id); `plans` lists new plans (`plan` None) and changed plans (`plan` =
    its id) with PLAN_FIELDS, prices as strings; `screenshots` and `plan_actions` as below.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        APPLIED = "applied", _("Approved and applied")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    asset = models.ForeignKey(
        Asset, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("asset")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    fields = models.JSONField(_("changed fields"), default=dict, blank=True)
    icon = models.ImageField(
        _("new asset icon"), upload_to=icon_upload_path, max_length=200, blank=True
    )
    plans = models.JSONField(_("new and changed plans"), default=list, blank=True)
    # Held screenshot changes: {"action": "add", "key", "image" (a file already stored,
    # not yet shown), "width", "height"} or {"action": "remove", "screenshot": its id}.
    screenshots = models.JSONField(_("screenshot changes"), default=list, blank=True)
    # Held plan moves: {"plan": its id, "action": "archive" | "restore" | "delete"}.
    plan_actions = models.JSONField(
        _("archived, restored and deleted plans"), default=list, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reviewer's reason"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("asset revision")
        verbose_name_plural = _("asset revisions")
        constraints = [
            models.UniqueConstraint(
                fields=["asset"],
                condition=models.Q(status="pending"),
                name="assetrevision_one_pending_per_asset",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "applied", "rejected", "withdrawn"]),
                name="assetrevision_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.asset.name} #{self.pk} ({self.status})"

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING

    @property
    def is_empty(self):
        return (
            not self.fields
            and not self.plans
            and not self.icon
            and not self.screenshots
            and not self.plan_actions
        )
