"""The `tenant` of every API create endpoint, chosen the same way everywhere.

Left out, it is the caller's only tenant of the kind the endpoint needs (a provider tenant
for what providers create); a caller with several must name one, and one with none is told
so. A tenant the caller does not belong to is refused on the field with the same words
whether it exists or not (another tenant's existence is not ours to reveal). One of the
caller's tenants of the wrong kind goes on to the service, whose refusal has its own code
(`not_a_provider`, a 403): the services keep the rules, this is the shape of the request.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import SkipField

from .models import Tenant
from .selectors import tenants_for


class InferredTenant:
    """The default of a TenantField: the caller's only tenant of the field's kind."""

    requires_context = True

    def __call__(self, field: TenantField) -> Tenant:
        parent = field.parent
        if getattr(parent, "instance", None) is not None:
            raise SkipField()  # an update never moves the object to another tenant
        tenants = list(field.inferable()[:2])
        if len(tenants) == 1:
            return tenants[0]
        if not tenants:
            raise serializers.ValidationError(
                _("tenant is required, and you are not a member of any provider tenant.")
                if field.providers_only
                else _("tenant is required, and you are not a member of any tenant.")
            )
        raise serializers.ValidationError(
            _("tenant is required: you are a member of several provider tenants; name one.")
            if field.providers_only
            else _("tenant is required: you are a member of several tenants; name one.")
        )

    def __repr__(self) -> str:
        return "<the caller's only tenant>"


class TenantField(serializers.PrimaryKeyRelatedField):
    """`tenant`: one of the caller's tenants; optional when the caller has exactly one of the
    kind the endpoint needs (a provider tenant when `providers_only`)."""

    def __init__(self, *, providers_only: bool = False, **kwargs: Any) -> None:
        self.providers_only = providers_only
        kwargs.setdefault("queryset", Tenant.objects.none())  # the schema's; see get_queryset
        kwargs.setdefault("default", InferredTenant())
        kwargs.setdefault(
            "help_text",
            f"The id of a {'provider ' if providers_only else ''}tenant you are a member of; "
            "may be left out when you are a member of exactly one.",
        )
        kwargs.setdefault(
            "error_messages",
            {
                "does_not_exist": _("You are not a member of a tenant with id {pk_value}."),
                "incorrect_type": _("tenant is the id (a number) of a tenant, not {data_type}."),
            },
        )
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Tenant]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None:
            return Tenant.objects.none()
        return tenants_for(user=user)

    def inferable(self) -> QuerySet[Tenant]:
        """The tenants a request that leaves `tenant` out may mean."""
        tenants = self.get_queryset()
        return tenants.filter(is_provider=True) if self.providers_only else tenants
