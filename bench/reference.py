"""What a page costs at the least: the same rows, read with one `.values()` query and
rendered with a bare template (or a bare JsonResponse), behind the same middleware and
the same sign-in check. `?ids=` names the rows (the product page's); without it, the 12
(or `n`) newest listed assets. `bare_asset`: the same for one asset's page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.template import engines

from assets.markdown import render_markdown
from assets.models import Asset

FIELDS = [
    "id", "code", "name", "summary", "icon", "min_price", "view_count", "listed_at",
    "tenant__name", "category__name_en",
]  # fmt: skip
TEMPLATE = engines["django"].from_string(
    '<!DOCTYPE html><html><body><main>{% for a in rows %}<article data-code="{{ a.code }}">'
    '<img src="/media/{{ a.icon }}" alt=""><h3><a href="/market/{{ a.code }}/">{{ a.name }}'
    "</a></h3><span>{{ a.category__name_en }}</span><span>{{ a.tenant__name }}</span>"
    "<span>{{ a.view_count }}</span><p>{{ a.summary }}</p><span>{{ a.min_price }} T</span>"
    "</article>{% endfor %}</main></body></html>"
)


ASSET_FIELDS = [*FIELDS, "description", "delivery_type", "website", "tenant__is_certified"]
ASSET_TEMPLATE = engines["django"].from_string(
    '<!DOCTYPE html><html><body><main><img src="/media/{{ a.icon }}" alt=""><h1>{{ a.name }}'
    "{% if a.tenant__is_certified %} <span>Certified</span>{% endif %}</h1><p>{{ a.summary }}</p>"
    "<dl><dt>Provider</dt><dd>{{ a.tenant__name }}</dd><dt>Category</dt>"
    "<dd>{{ a.category__name_en }}</dd><dt>Delivery</dt><dd>{{ a.delivery_type }}</dd>"
    "<dt>Views</dt><dd>{{ a.view_count }}</dd></dl><div>from {{ a.min_price }} T</div>"
    '<a href="/orders/buy/{{ a.code }}/">Buy</a><div>{{ description }}</div></main></body></html>'
)


def _rows(request):
    ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()]
    if ids:
        by_id = {row["id"]: row for row in Asset.objects.filter(pk__in=ids).values(*FIELDS)}
        return [by_id[i] for i in ids if i in by_id]
    n = int(request.GET.get("n") or 12)
    listed = Asset.objects.filter(listed_at__isnull=False).order_by("-listed_at", "-id")
    return list(listed.values(*FIELDS)[:n])


@login_required
def bare_html(request):
    return HttpResponse(TEMPLATE.render({"rows": _rows(request)}, request))


@login_required
def bare_json(request):
    rows = _rows(request)
    for row in rows:
        row["min_price"] = None if row["min_price"] is None else str(row["min_price"])
        row["listed_at"] = row["listed_at"].isoformat() if row["listed_at"] else None
    return JsonResponse({"results": rows})


@login_required
def bare_asset(request, code):
    """The asset page's least: its row in one `.values()`, its description through the
    same Markdown renderer, a bare template."""
    row = Asset.objects.filter(code=code, listed_at__isnull=False).values(*ASSET_FIELDS).get()
    context = {"a": row, "description": render_markdown(row["description"])}
    return HttpResponse(ASSET_TEMPLATE.render(context, request))
