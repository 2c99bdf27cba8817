"""REST twins of the provider portal: thin serializers and viewsets over the same services.

Serializers only check shapes (types, choices); the services check the rules and
raise Django ValidationErrors that core.api turns into the one error shape.
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from accounts.api_tenancy import TenantField
from accounts.models import Project
from accounts.permissions import IsPlatformAdmin
from approvals.api import TimelineEntrySerializer
from approvals.selectors import pending_revision_request, version_timelines
from clusters.models import CatalogSource, Cluster
from clusters.selectors import clusters_open_to
from core.errors import NotFound, invalid

from . import scans, selectors, services
from .errors import AssetsErrorCode
from .forms import VersionForm
from .lifecycle import lifecycle_steps
from .models import (
    MAX_DURATION,
    OTHER_INFO_FIELDS,
    SEVERITIES,
    SUPPORT_SCOPE_EXAMPLE,
    Asset,
    AssetRevision,
    AssetVersion,
    Category,
    ImageScan,
    Plan,
    Screenshot,
    VersionImage,
)

OTHER_INFO_API_FIELDS = [
    f"{prefix}_{part}"
    for prefix, _label in OTHER_INFO_FIELDS
    for part in ("mode", "markdown", "url")
]
WRITE_METHODS = ["get", "post", "patch", "delete", "head", "options"]


def _user(serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


# --- categories -----------------------------------------------------------------------------


class CategorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language.")

    class Meta:
        model = Category
        fields = ["id", "slug", "name", "name_en", "name_zh", "position"]
        validators: list[Any] = []
        extra_kwargs: dict[str, Any] = {"slug": {"validators": []}}


@extend_schema_view(
    list=extend_schema(summary="List asset categories (资产分类)"),
    create=extend_schema(summary="Create a category (platform admins)"),
    partial_update=extend_schema(summary="Change a category (platform admins)"),
    destroy=extend_schema(summary="Delete an unused category (platform admins)"),
)
class CategoryViewSet(viewsets.ModelViewSet):
    serializer_class = CategorySerializer
    queryset = Category.objects.none()
    http_method_names = WRITE_METHODS

    def get_queryset(self):
        return selectors.categories()

    def get_permissions(self):
        if self.request is not None and self.request.method not in SAFE_METHODS:
            return [IsAuthenticated(), IsPlatformAdmin()]
        return [IsAuthenticated()]

    def perform_create(self, serializer):
        serializer.instance = services.create_category(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_category(
            actor=self.request.user, category=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_category(actor=self.request.user, category=instance)


# --- plans ----------------------------------------------------------------------------------


HELD_DESCRIPTION = (
    "On an asset with a version on sale the change is not applied: it is held as the asset's "
    "pending revision (one per asset, edited in place) for a platform admin to review, and "
    "the answer is 202 with that revision; the live asset and storefront stay as they are."
)


class AssetRevisionSerializer(serializers.ModelSerializer):
    """202 of an edit of a listed asset: the changes held for review, not yet live."""

    approval_request = serializers.SerializerMethodField(
        help_text="The pending review request (GET /approvals/{id}/)."
    )

    class Meta:
        model = AssetRevision
        fields = [
            "id",
            "asset",
            "status",
            "fields",
            "icon",
            "plans",
            "screenshots",
            "plan_actions",
            "approval_request",
            "decision_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_approval_request(self, revision: AssetRevision) -> int | None:
        review = pending_revision_request(asset=revision.asset)
        return review.pk if review is not None and review.revision_id == revision.pk else None


class _HeldResponse:
    """A change of a listed asset answers 202 with the pending revision, not the live row."""

    held: AssetRevision | None = None

    def _held_response(self, response: Response) -> Response:
        if self.held is None:
            return response
        return self._revision_response(self.held)

    def _revision_response(self, revision: AssetRevision) -> Response:
        context = self.get_serializer_context()  # type: ignore[attr-defined]
        return Response(AssetRevisionSerializer(revision, context=context).data, status=202)

    def create(self, request, *args, **kwargs):
        return self._held_response(super().create(request, *args, **kwargs))

    def destroy(self, request, *args, **kwargs):
        return self._held_response(super().destroy(request, *args, **kwargs))


class _HeldForReview(_HeldResponse):
    """_HeldResponse for a viewset whose rows are also edited (PUT / PATCH)."""

    def update(self, request, *args, **kwargs):
        return self._held_response(super().update(request, *args, **kwargs))


class PlanSerializer(serializers.ModelSerializer):
    asset = serializers.PrimaryKeyRelatedField(
        queryset=Asset.objects.none(), help_text="Set on creation; a plan never moves."
    )
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, help_text="In T; 0 means free."
    )
    duration_value = serializers.IntegerField(min_value=1, max_value=MAX_DURATION)
    duration = serializers.CharField(source="duration_display", read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "asset",
            "name",
            "price",
            "duration_value",
            "duration_unit",
            "duration",
            "is_archived",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_archived", "archived_at", "created_at", "updated_at"]
        validators: list[Any] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is not None and "asset" in self.fields:
            self.fields["asset"].queryset = selectors.assets_for(user=user)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["asset"].read_only = True


@extend_schema_view(
    create=extend_schema(
        responses={201: PlanSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
    update=extend_schema(
        responses={200: PlanSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
    partial_update=extend_schema(
        responses={200: PlanSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
    destroy=extend_schema(
        responses={204: None, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
)
class PlanViewSet(_HeldForReview, viewsets.ModelViewSet):
    """规格与定价: plans are archived, never deleted once ordered."""

    serializer_class = PlanSerializer
    queryset = Plan.objects.none()
    filterset_fields = ["asset", "is_archived"]
    http_method_names = WRITE_METHODS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.plans_for(user=self.request.user)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        result = services.create_plan(actor=self.request.user, **data)
        if isinstance(result, AssetRevision):
            self.held = result
            return
        serializer.instance = result

    def perform_update(self, serializer):
        fields = {k: v for k, v in serializer.validated_data.items() if k in services.PLAN_FIELDS}
        result = services.update_plan(actor=self.request.user, plan=serializer.instance, **fields)
        if isinstance(result, AssetRevision):
            self.held = result
            return
        serializer.instance = result

    def perform_destroy(self, instance):
        self.held = services.delete_plan(actor=self.request.user, plan=instance)

    def _moved(self, result: Plan | AssetRevision) -> Response:
        if isinstance(result, AssetRevision):
            return self._revision_response(result)
        return Response(self.get_serializer(result).data)

    @extend_schema(
        request=None,
        responses={200: PlanSerializer, 202: AssetRevisionSerializer},
        summary="Archive a plan",
        description=HELD_DESCRIPTION,
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._moved(services.archive_plan(actor=request.user, plan=self.get_object()))

    @extend_schema(
        request=None,
        responses={200: PlanSerializer, 202: AssetRevisionSerializer},
        summary="Sell an archived plan again",
        description=HELD_DESCRIPTION,
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return self._moved(services.restore_plan(actor=request.user, plan=self.get_object()))


# --- screenshots ----------------------------------------------------------------------------


class ScreenshotSerializer(serializers.ModelSerializer):
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.none())
    image = serializers.FileField(help_text="JPG or PNG; 264×146 px recommended.")

    class Meta:
        model = Screenshot
        fields = ["id", "asset", "image", "width", "height", "position", "created_at"]
        read_only_fields = ["width", "height", "position", "created_at"]
        validators: list[Any] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is not None:
            self.fields["asset"].queryset = selectors.assets_for(user=user)


@extend_schema_view(
    create=extend_schema(
        responses={201: ScreenshotSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
    destroy=extend_schema(
        responses={204: None, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
)
class ScreenshotViewSet(
    _HeldResponse,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """资产截图: multipart uploads, at most two per asset."""

    serializer_class = ScreenshotSerializer
    queryset = Screenshot.objects.none()
    filterset_fields = ["asset"]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.screenshots_for(user=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        result = services.add_screenshot(
            actor=self.request.user, asset=data["asset"], image=data["image"]
        )
        if isinstance(result, AssetRevision):
            self.held = result
            return
        serializer.instance = result

    def perform_destroy(self, instance):
        self.held = services.remove_screenshot(actor=self.request.user, screenshot=instance)


# --- versions -------------------------------------------------------------------------------


class LifecycleStepSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    state = serializers.ChoiceField(choices=["done", "current", "todo"])
    at = serializers.DateTimeField(allow_null=True)


class VersionSerializer(serializers.ModelSerializer):
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.none())
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    catalog_source = serializers.PrimaryKeyRelatedField(queryset=CatalogSource.objects.none())
    channels = serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False)
    provided_apis = serializers.ListField(child=serializers.DictField(), read_only=True)
    lifecycle = serializers.SerializerMethodField()

    class Meta:
        model = AssetVersion
        fields = [
            "id",
            "asset",
            "project",
            "cluster",
            "catalog_source",
            "package_name",
            "channels",
            "default_channel",
            "version",
            "csv_name",
            "provided_apis",
            "status",
            "review_reason",
            "lifecycle",
            "created_at",
            "submitted_at",
            "listed_at",
            "delisting_requested_at",
            "delisted_at",
            "updated_at",
        ]
        read_only_fields = [
            "version",
            "csv_name",
            "status",
            "review_reason",
            "created_at",
            "submitted_at",
            "listed_at",
            "delisting_requested_at",
            "delisted_at",
            "updated_at",
        ]
        validators: list[Any] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is not None:
            self.fields["asset"].queryset = selectors.assets_for(user=user)
            self.fields["project"].queryset = selectors.version_projects_for(user=user)
            self.fields["cluster"].queryset = clusters_open_to(
                tenants=selectors.provider_tenants_for(user=user)
            )
            self.fields["catalog_source"].queryset = selectors.version_catalog_sources_for(
                user=user
            )
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["asset"].read_only = True

    @extend_schema_field(LifecycleStepSerializer(many=True))
    def get_lifecycle(self, version: AssetVersion) -> list[dict[str, Any]]:
        return list(LifecycleStepSerializer(lifecycle_steps(version), many=True).data)


class OptionProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    namespace = serializers.CharField()


class OptionClusterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_default = serializers.BooleanField()


class OptionCatalogSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    display_name = serializers.CharField()


class OptionChannelSerializer(serializers.Serializer):
    name = serializers.CharField()
    current_csv = serializers.CharField()
    version = serializers.CharField(allow_blank=True)


class OptionPackageSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    default_channel = serializers.CharField()
    channels = OptionChannelSerializer(many=True)


class VersionOptionsSerializer(serializers.Serializer):
    projects = OptionProjectSerializer(many=True)
    clusters = OptionClusterSerializer(many=True)
    catalog_sources = OptionCatalogSerializer(many=True)
    packages = OptionPackageSerializer(many=True)


OPTION_PARAMETERS = [
    OpenApiParameter("asset", int, required=True, description="The asset the version is for."),
    OpenApiParameter("project", int, description="Narrows the clusters."),
    OpenApiParameter("cluster", int, description="Narrows the CatalogSources."),
    OpenApiParameter("catalog_source", int, description="Lists its packages."),
]


class ImageScanSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()
    image_id = serializers.CharField(source="artifact_id")

    class Meta:
        model = ImageScan
        fields = [
            "source",
            "artifact_name",
            "image_id",
            "report_created_at",
            "created_at",
            "counts",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_counts(self, scan: ImageScan) -> dict[str, int]:
        return dict(scan.counts())


class VersionImageSerializer(serializers.ModelSerializer):
    scan = serializers.SerializerMethodField()

    class Meta:
        model = VersionImage
        fields = ["id", "name", "reference", "digest", "role", "scan_error", "scan"]

    @extend_schema_field(ImageScanSerializer(allow_null=True))
    def get_scan(self, image: VersionImage) -> dict[str, Any] | None:
        """null: not scanned."""
        scan = selectors.scan_of(image)
        return dict(ImageScanSerializer(scan).data) if scan else None


class FindingSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The vulnerability ID (CVE-…, GHSA-…).")
    pkg = serializers.CharField()
    installed = serializers.CharField()
    fixed = serializers.CharField(allow_blank=True)
    severity = serializers.ChoiceField(choices=list(SEVERITIES))
    title = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    target = serializers.CharField(allow_blank=True)


class ScanReportUploadSerializer(serializers.Serializer):
    report = serializers.FileField(help_text="Trivy's JSON report (trivy image --format json).")


class VersionViewSet(viewsets.ModelViewSet):
    """Operator 定义: drafts are created, edited and deleted here; reviews move them later."""

    serializer_class = VersionSerializer
    queryset = AssetVersion.objects.none()
    filterset_fields = ["asset", "status"]
    http_method_names = WRITE_METHODS
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.versions_for(user=self.request.user)

    @staticmethod
    def _choices(data):
        return {
            name: data[name]
            for name in (
                "project",
                "cluster",
                "catalog_source",
                "package_name",
                "channels",
                "default_channel",
            )
        }

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_version(
            actor=self.request.user, asset=data["asset"], **self._choices(data)
        )

    def perform_update(self, serializer):
        version = serializer.instance
        current = {
            "project": version.project,
            "cluster": version.cluster,
            "catalog_source": version.catalog_source,
            "package_name": version.package_name,
            "channels": version.channels,
            "default_channel": version.default_channel,
        }
        current.update({k: v for k, v in serializer.validated_data.items() if k in current})
        serializer.instance = services.update_version(
            actor=self.request.user, version=version, **current
        )

    def perform_destroy(self, instance):
        services.delete_version(actor=self.request.user, version=instance)

    @extend_schema(
        responses=TimelineEntrySerializer(many=True),
        summary="The version's timeline: who moved it, when, from → to, and why",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        version = self.get_object()
        entries = version_timelines(version_ids=[version.pk])[version.pk]
        return Response(TimelineEntrySerializer(entries, many=True).data)

    @extend_schema(
        responses=VersionImageSerializer(many=True),
        summary="The version's images with their scan results (scan null: not scanned)",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def images(self, request, pk=None):
        version = self.get_object()
        return Response(
            VersionImageSerializer(selectors.version_images(version=version), many=True).data
        )

    @extend_schema(
        request={
            "multipart/form-data": ScanReportUploadSerializer,
            "application/json": {"type": "object", "description": "The Trivy report itself."},
        },
        responses={201: VersionImageSerializer},
        summary="Upload a Trivy JSON report onto the version's image it is of",
        description="Multipart with a `report` file, or the report itself as the JSON body. "
        "A malformed (`scan_report_invalid`), oversized (`scan_report_too_large`) or foreign "
        "(`scan_report_no_image`) report is refused and nothing is stored.",
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def scans(self, request, pk=None):
        version = self.get_object()
        if request.content_type.startswith("multipart/"):
            raw = scans.report_from_upload(request.FILES.get("report"))
        else:
            try:
                raw = request.body
            except RequestDataTooBig:
                raise invalid(
                    _(
                        "The report is larger than this server accepts in a request body; "
                        "upload it as a multipart file."
                    ),
                    code=AssetsErrorCode.SCAN_REPORT_TOO_LARGE,
                    field="report",
                ) from None
        scan = scans.upload_report(
            actor=request.user, version=version, raw=raw, source=ImageScan.Source.API
        )
        return Response(VersionImageSerializer(scan.image).data, status=201)

    @extend_schema(
        responses=FindingSerializer(many=True),
        summary="One image's findings (CVE, package, installed and fixed version), worst first",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"images/(?P<image_id>[0-9]+)/findings",
        filter_backends=[],
    )
    def findings(self, request, pk=None, image_id=None):
        version = self.get_object()
        image = selectors.get_image_for(
            user=request.user, image_id=image_id or "", asset_code=version.asset.code
        )
        if image.version_id != version.pk:
            raise NotFound("No such image.")
        scan = selectors.scan_of(image)
        page = self.paginate_queryset(scan.findings if scan else [])
        return self.get_paginated_response(FindingSerializer(page, many=True).data)

    @extend_schema(
        parameters=OPTION_PARAMETERS,
        responses=VersionOptionsSerializer,
        summary="What a version of this asset may point at",
        description="Projects of the asset's tenant; clusters of the chosen project (and the "
        "default cluster); READY CatalogSources of the tenant on the chosen cluster; packages "
        "and channels of the chosen CatalogSource.",
    )
    # The URL stays /versions/options/, but the method must not be called `options`: that
    # name is DRF's handler of the HTTP OPTIONS method, which it would shadow on every route.
    @action(
        detail=False,
        methods=["get"],
        url_path="options",
        url_name="options",
        pagination_class=None,
        filter_backends=[],
    )
    def version_options(self, request):
        params = request.query_params
        if not params.get("asset"):
            raise serializers.ValidationError({"asset": [_("This query parameter is required.")]})
        if not params["asset"].isdigit():
            raise serializers.ValidationError({"asset": [_("A valid integer is required.")]})
        asset = selectors.get_asset_for(user=request.user, asset_id=params["asset"])
        form = VersionForm(
            initial={k: params.get(k) for k in ("project", "cluster", "catalog_source")},
            asset=asset,
        )
        explicit = {k for k in ("project", "cluster", "catalog_source") if params.get(k)}
        data = {
            "projects": list(form.fields["project"].queryset),
            "clusters": list(form.fields["cluster"].queryset)
            if "project" in explicit or form.project
            else [],
            "catalog_sources": list(form.fields["catalog_source"].queryset),
            "packages": [
                {
                    "name": p.name,
                    "display_name": p.display_name,
                    "default_channel": p.default_channel,
                    "channels": [
                        {
                            "name": c["name"],
                            "current_csv": c.get("current_csv", ""),
                            "version": c.get("version", ""),
                        }
                        for c in p.channels
                    ],
                }
                for p in form.packages
            ],
        }
        return Response(VersionOptionsSerializer(data).data)


# --- assets ---------------------------------------------------------------------------------


class VersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssetVersion
        fields = ["id", "version", "status", "package_name", "default_channel", "listed_at"]


class ScreenshotBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Screenshot
        fields = ["id", "image", "width", "height", "position"]


class AssetSerializer(serializers.ModelSerializer):
    tenant = TenantField(providers_only=True)
    category = serializers.PrimaryKeyRelatedField(queryset=selectors.categories())
    icon = serializers.FileField(
        required=False, help_text="Exactly 96×96 px, JPG or PNG. Required on creation."
    )
    current_version = VersionBriefSerializer(read_only=True, allow_null=True)
    screenshots = ScreenshotBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Asset
        fields = [
            "id",
            "code",
            "tenant",
            "delivery_type",
            "category",
            "name",
            "summary",
            "description",
            "icon",
            "website",
            *OTHER_INFO_API_FIELDS,
            "screenshots",
            "current_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["code", "created_at", "updated_at"]
        validators: list[Any] = []
        extra_kwargs: dict[str, Any] = {
            "support_scope_markdown": {
                "help_text": "平台支持范围 in Markdown; empty unless given. For example: "
                + SUPPORT_SCOPE_EXAMPLE.replace("\n\n", " · ")
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["tenant"].read_only = True


class AssetCreateSerializer(AssetSerializer):
    """`POST /assets/` as the schema documents it: multipart/form-data, the icon a file."""

    icon = serializers.FileField(help_text="Required: exactly 96×96 px, JPG or PNG.")


class AssetFilter(filters.FilterSet):
    search = filters.CharFilter(method="filter_search", label="Name or code contains")
    status = filters.ChoiceFilter(
        method="filter_status",
        choices=[(selectors.NO_VERSION, "No version yet"), *AssetVersion.Status.choices],
        label="Status of the current version",
    )
    tenant = filters.NumberFilter(field_name="tenant")
    category = filters.NumberFilter(field_name="category")
    delivery_type = filters.ChoiceFilter(choices=Asset.DeliveryType.choices)

    class Meta:
        model = Asset
        fields = ["search", "status", "tenant", "category", "delivery_type"]

    def filter_search(self, queryset, name, value):
        return selectors.search_assets(queryset, query=value)

    def filter_status(self, queryset, name, value):
        return selectors.search_assets(queryset, status=value)


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": AssetCreateSerializer},
        responses={201: AssetSerializer},
        description="添加资产: a multipart/form-data upload (the icon is a file); a request "
        "without an icon, JSON included, is a 400 naming `icon`.",
    ),
    partial_update=extend_schema(
        responses={200: AssetSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
    update=extend_schema(
        responses={200: AssetSerializer, 202: AssetRevisionSerializer},
        description=HELD_DESCRIPTION,
    ),
)
class AssetViewSet(_HeldForReview, viewsets.ModelViewSet):
    """资产管理: a provider's assets; another tenant's asset is a 404."""

    serializer_class = AssetSerializer
    queryset = Asset.objects.none()
    filterset_class = AssetFilter
    # Assets are not deleted: orders and buyers refer to them; versions are delisted instead.
    http_method_names = ["get", "post", "patch", "head", "options"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.with_screenshots(selectors.assets_for(user=self.request.user))

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return selectors.attach_current_versions(page) if page is not None else None

    def get_object(self):
        asset = super().get_object()
        selectors.attach_current_versions([asset])
        return asset

    def _reload(self, asset: Asset) -> Asset:
        """As the list shows it: with its current version and screenshots."""
        reloaded = selectors.get_asset_for(user=self.request.user, asset_id=asset.pk)
        return selectors.attach_current_versions([reloaded])[0]

    def _fields(self, data):
        return {k: v for k, v in data.items() if k in services.ASSET_FIELDS}

    def perform_create(self, serializer):
        data = serializer.validated_data
        asset = services.register_asset(
            actor=self.request.user,
            tenant=data["tenant"],
            icon=data.get("icon"),
            **self._fields(data),
        )
        serializer.instance = self._reload(asset)

    def perform_update(self, serializer):
        data = serializer.validated_data
        result = services.update_asset(
            actor=self.request.user,
            asset=serializer.instance,
            icon=data.get("icon"),
            **self._fields(data),
        )
        if isinstance(result, AssetRevision):
            self.held = result
            result = serializer.instance
        serializer.instance = self._reload(result)

    @extend_schema(
        request=None,
        responses={202: AssetRevisionSerializer, 204: None},
        summary="Take back one held screenshot change",
        description="`key` is an entry of the pending revision's `screenshots`: a held new "
        "screenshot is dropped (its file too), a held removal is cancelled. 202 with the "
        "revision, or 204 once nothing is left to review (the revision is withdrawn).",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"held-screenshots/(?P<key>[0-9a-f]+)/undo",
        filter_backends=[],
    )
    def undo_screenshot_change(self, request, pk=None, key=None):
        revision = services.undo_screenshot_change(
            actor=request.user, asset=self.get_object(), key=key or ""
        )
        if revision is None:
            return Response(status=204)
        return self._revision_response(revision)
