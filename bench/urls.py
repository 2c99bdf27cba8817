"""The product's URLs plus the benchmarks' reference views under /bench/."""

from django.urls import path

from bench import reference
from marketplace.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("bench/bare/html/", reference.bare_html),
    path("bench/bare/json/", reference.bare_json),
    path("bench/bare/asset/<str:code>/", reference.bare_asset),
    *product_urlpatterns,
]
