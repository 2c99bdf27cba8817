"""A URLconf with views that fail, to see what a user gets on a server error."""

from django.urls import path

from marketplace.urls import urlpatterns as real_urlpatterns


def boom(request):
    return 1 / 0


urlpatterns = [path("boom/", boom), path("api/boom/", boom), *real_urlpatterns]

handler404 = "marketplace.views.page_not_found"
handler500 = "marketplace.views.server_error"
