"""The review queue (审批) at approvals/, the provider's requests, and notifications/."""

from django.urls import path

from . import views

urlpatterns = [
    path("approvals/", views.approval_list, name="approvals"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval-detail"),
    path("approvals/<int:pk>/row/", views.approval_row, name="approval-row"),
    path("approvals/<int:pk>/approve/", views.approval_approve, name="approval-approve"),
    path("approvals/<int:pk>/reject/", views.approval_reject, name="approval-reject"),
    path("approvals/<int:pk>/withdraw/", views.approval_withdraw, name="approval-withdraw"),
    path(
        "approvals/versions/<int:version_id>/submit/",
        views.version_submit,
        name="version-submit",
    ),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
    path("notifications/read-all/", views.notification_read_all, name="notifications-read-all"),
]
