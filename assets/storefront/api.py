"""REST twin of the storefront (云市场): the same filters, sorts and pages as the screen.

Bad query values are a 400 naming the parameter (the screen falls back to "all").
Views (浏览量) are counted by the asset page, per browser session, not by API reads.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from assets import selectors
from assets.markdown import render_markdown
from assets.models import OTHER_INFO_FIELDS, Asset, AssetVersion, Category, Plan, Screenshot
from orders import selectors as order_selectors

from . import selectors as market


class ProviderBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_certified = serializers.BooleanField(help_text="已认证: certified by the platform admins.")


class CategoryBriefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language.")

    class Meta:
        model = Category
        fields = ["id", "slug", "name"]


class StorefrontAssetSerializer(serializers.ModelSerializer):
    provider = ProviderBriefSerializer(source="tenant", read_only=True)
    category = CategoryBriefSerializer(read_only=True)
    min_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The cheapest plan on sale, in T (a string); null when no plan is on sale.",
    )
    is_free = serializers.SerializerMethodField()
    listed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    entitled = serializers.SerializerMethodField(
        help_text="Your tenant holds an active entitlement (the card shows 安装, not 购买)."
    )

    class Meta:
        model = Asset
        fields = [
            "id",
            "code",
            "name",
            "summary",
            "icon",
            "delivery_type",
            "category",
            "provider",
            "min_price",
            "is_free",
            "view_count",
            "listed_at",
            "updated_at",
            "entitled",
        ]
        read_only_fields = fields

    def get_is_free(self, asset) -> bool:
        return asset.min_price is not None and asset.min_price == 0

    def get_entitled(self, asset) -> bool:
        return bool(getattr(asset, "entitled", False))

    def to_representation(self, asset: Asset) -> dict[str, Any]:
        """The fields above, written out: DRF's field-by-field machinery cost more than the
        rest of a list page. Same output (a test compares it with `field_representation`)."""
        request = self.context.get("request")
        icon = asset.icon.url if asset.icon else None
        category, tenant = asset.category, asset.tenant
        price = asset.min_price
        return {
            "id": asset.pk,
            "code": asset.code,
            "name": asset.name,
            "summary": asset.summary,
            "icon": request.build_absolute_uri(icon) if icon and request else icon,
            "delivery_type": asset.delivery_type,
            "category": {"id": category.pk, "slug": category.slug, "name": str(category.name)},
            "provider": {
                "id": tenant.pk,
                "name": tenant.name,
                "is_certified": bool(tenant.is_certified),
            },
            "min_price": None if price is None else f"{price.quantize(CENTS):f}",
            "is_free": self.get_is_free(asset),
            "view_count": asset.view_count,
            "listed_at": _iso(asset.listed_at),
            "updated_at": _iso(asset.updated_at),
            "entitled": self.get_entitled(asset),
        }

    def field_representation(self, asset: Asset) -> dict[str, Any]:
        """DRF's own rendering of the declared fields (what the schema describes)."""
        return dict(super().to_representation(asset))


CENTS = Decimal("0.01")


def _iso(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it: ISO 8601 in the current time zone, UTC as Z."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StorefrontPlanSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    duration = serializers.CharField(source="duration_display", read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "name", "price", "duration_value", "duration_unit", "duration"]
        read_only_fields = fields


class StorefrontVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssetVersion
        fields = [
            "id",
            "version",
            "package_name",
            "channels",
            "default_channel",
            "csv_name",
            "provided_apis",
            "listed_at",
        ]
        read_only_fields = fields


class StorefrontScreenshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Screenshot
        fields = ["id", "image", "width", "height", "position"]
        read_only_fields = fields


class OtherInfoSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["markdown", "link"])
    html = serializers.CharField(help_text="Sanitised HTML of the Markdown (empty for a link).")
    url = serializers.CharField(allow_blank=True)


class StorefrontAssetDetailSerializer(StorefrontAssetSerializer):
    description_html = serializers.SerializerMethodField()
    other_info = serializers.SerializerMethodField(
        help_text="usage_help, terms, customer_cases and support_scope: Markdown or a link."
    )
    plans = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField(help_text="The version on sale, with its channels.")
    screenshots = StorefrontScreenshotSerializer(many=True, read_only=True)

    def to_representation(self, asset: Asset) -> dict[str, Any]:
        return dict(serializers.ModelSerializer.to_representation(self, asset))

    class Meta(StorefrontAssetSerializer.Meta):
        fields = [
            *StorefrontAssetSerializer.Meta.fields,
            "description",
            "description_html",
            "website",
            "other_info",
            "plans",
            "version",
            "screenshots",
        ]
        read_only_fields = fields

    def get_description_html(self, asset) -> str:
        return str(render_markdown(asset.description))

    @extend_schema_field(serializers.DictField(child=OtherInfoSerializer()))
    def get_other_info(self, asset) -> dict:
        info = {}
        for prefix, _label in OTHER_INFO_FIELDS:
            mode = getattr(asset, f"{prefix}_mode")
            text = getattr(asset, f"{prefix}_markdown")
            info[prefix] = {
                "mode": mode,
                "html": str(render_markdown(text)) if mode == "markdown" else "",
                "url": getattr(asset, f"{prefix}_url") if mode == "link" else "",
            }
        return info

    @extend_schema_field(StorefrontPlanSerializer(many=True))
    def get_plans(self, asset: Asset) -> list[dict[str, Any]]:
        return list(StorefrontPlanSerializer(market.plans_on_sale(asset), many=True).data)

    @extend_schema_field(StorefrontVersionSerializer(allow_null=True))
    def get_version(self, asset) -> dict | None:
        version = market.on_sale_version(asset)
        return StorefrontVersionSerializer(version).data if version else None


class StorefrontQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100)
    category = serializers.SlugField(required=False, allow_blank=True)
    price = serializers.ChoiceField(
        required=False, allow_blank=True, choices=[v for v, _label in market.PRICE_CHOICES]
    )
    sort = serializers.ChoiceField(
        required=False, allow_blank=True, choices=[v for v, _label in market.SORT_CHOICES]
    )

    def validate_category(self, value):
        """The slug; the list filters on it in its own query and asks whether the category
        exists only when nothing matched (see `StorefrontViewSet.list`)."""
        return value or ""


def _unknown_category(slug: str) -> ValidationError:
    return ValidationError({"category": [_("No category “%(slug)s”.") % {"slug": slug}]})


STOREFRONT_PARAMETERS = [
    OpenApiParameter("q", str, description="Keyword over name, summary and provider."),
    OpenApiParameter("category", str, description="A category slug, e.g. basic-apps."),
    OpenApiParameter(
        "price",
        str,
        enum=[v for v, _label in market.PRICE_CHOICES if v],
        description="On the cheapest plan: free, 1-98, 99-998, 999-9998 or 9999+ (T).",
    ),
    OpenApiParameter(
        "sort",
        str,
        enum=[v for v, _label in market.SORT_CHOICES if v],
        description="Default: newest listed first (best match first when searching and "
        "at most 1000 assets match); price / -price, updated (newest first), views (most first).",
    ),
    OpenApiParameter("page", int, description="A page number inside the counted 1000."),
    OpenApiParameter(
        "after", str, description="Beyond them: the cursor of a `next` link (opaque)."
    ),
    OpenApiParameter("before", str, description="The cursor of a `previous` link (opaque)."),
]


class StorefrontPagination(BasePagination):
    """The storefront's pages: a count bounded at 1,000 (`count_capped` says it stopped),
    `page=N` inside it and a cursor (`after` / `before`) beyond, so no page costs more
    on a large catalogue (see `storefront_page`). `next` / `previous` are the links."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        try:
            size = int(request.query_params.get(self.page_size_query_param) or 0)
        except ValueError:
            size = 0
        default = settings.REST_FRAMEWORK.get("PAGE_SIZE") or 20
        size = min(size, self.max_page_size) if size > 0 else default
        self.request = request
        self.page = market.storefront_page(
            queryset,
            sort=getattr(view, "storefront_sort", market.SORT_DEFAULT),
            page=request.query_params.get("page"),
            after=request.query_params.get("after") or "",
            before=request.query_params.get("before") or "",
            per_page=size,
        )
        return self.page.items

    def _link(self, params: dict[str, str] | None) -> str | None:
        if params is None:
            return None
        url = self.request.build_absolute_uri()
        for key in ("after", "before", "page"):
            url = remove_query_param(url, key)
        for key, value in params.items():
            url = replace_query_param(url, key, value)
        return url

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.count,
                "count_capped": self.page.count_capped,
                "next": self._link(self.page.next_params),
                "previous": self._link(self.page.previous_params),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "count_capped", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": "Matches, counted up to 1000 (see count_capped).",
                },
                "count_capped": {
                    "type": "boolean",
                    "description": "True when there are more than `count` matches.",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class StorefrontViewSet(viewsets.ReadOnlyModelViewSet):
    """云市场: assets on sale, by code."""

    queryset = Asset.objects.none()
    lookup_field = "code"
    lookup_value_regex = r"ASID-[0-9A-Za-z]{11}"
    filter_backends = []
    pagination_class = StorefrontPagination
    storefront_sort = market.SORT_DEFAULT

    def get_serializer_class(self):
        if self.action == "retrieve":
            return StorefrontAssetDetailSerializer
        return StorefrontAssetSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        if self.action == "retrieve":
            assets = market.listed_assets()
        else:
            query = StorefrontQuerySerializer(data=self.request.query_params)
            if not query.is_valid():
                raise ValidationError(query.errors)
            data = query.validated_data
            self.storefront_sort = data.get("sort") or market.SORT_DEFAULT
            self.category_slug = data.get("category") or ""
            assets = market.search_storefront(
                query=data.get("q") or "",
                category_slug=self.category_slug,
                price=data.get("price") or market.PRICE_ALL,
                sort=data.get("sort") or market.SORT_DEFAULT,
            )
        workspace = getattr(self.request._request, "workspace", None)
        return order_selectors.with_entitlement_flag(
            assets, tenant=workspace.tenant if workspace is not None else None
        )

    @extend_schema(parameters=STOREFRONT_PARAMETERS, summary="Search the storefront (云市场)")
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        slug = getattr(self, "category_slug", "")
        if slug and not response.data["results"] and selectors.category_by_slug(slug) is None:
            raise _unknown_category(slug)
        return response

    @extend_schema(summary="An asset on sale: plans, channels, other information")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
