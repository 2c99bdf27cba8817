"""The review queue (审批) and the providers' requests, under /approvals/."""

from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.approval_list, name="approvals"),
    path("<int:pk>/", views.approval_detail, name="approval-detail"),
    path("<int:pk>/row/", views.approval_row, name="approval-row"),
    path("<int:pk>/approve/", views.approval_approve, name="approval-approve"),
    path("<int:pk>/reject/", views.approval_reject, name="approval-reject"),
    path("<int:pk>/withdraw/", views.approval_withdraw, name="approval-withdraw"),
    path("versions/<int:version_id>/submit/", views.version_submit, name="version-submit"),
]
