"""The tenant and project a signed-in user is acting for, kept in the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import Membership, Project, Tenant, User
from .selectors import memberships_for

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails
    from rest_framework.request import Request

SESSION_TENANT_KEY = "active_tenant_id"
SESSION_PROJECT_KEY = "active_project_id"


@dataclass
class Workspace:
    memberships: list[Membership] = field(default_factory=list)
    membership: Membership | None = None
    projects: list[Project] = field(default_factory=list)
    project: Project | None = None

    @property
    def tenant(self) -> Tenant | None:
        return self.membership.tenant if self.membership else None

    @property
    def role(self) -> str | None:
        return self.membership.role if self.membership else None

    @property
    def is_owner(self) -> bool:
        return self.role == Membership.Role.OWNER

    @property
    def is_provider(self) -> bool:
        return bool(self.tenant and self.tenant.is_provider)


class WorkspaceRequest(HttpRequest):
    """For type checkers: a page request behind `login_required`, `ActiveTenantMiddleware`
    and django-htmx's middleware."""

    user: User
    workspace: Workspace
    htmx: HtmxDetails


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a request that `login_required` / `IsAuthenticated` let through, typed
    as such for the services (an anonymous one never gets this far)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


# The header's workspace, read with the user (accounts.backends) as JSON rows of the
# same layout as the query below: membership, tenant, then project columns (none: nulls).
WORKSPACE_ROWS_ATTR = "_workspace_rows_cached"
_MODELS = (Membership, Tenant, Project)


def workspace_rows_sql(vendor: str) -> str:
    """A subquery of the user query (on `accounts_user.id`): the user's memberships, their
    tenants and those tenants' projects as one JSON array of rows, in the switcher's order."""
    from django.db import connection

    quote = connection.ops.quote_name
    aliases = ("m", "t", "p")
    columns = ", ".join(
        f"{alias}.{quote(f.column)}"
        for alias, model in zip(aliases, _MODELS, strict=True)
        for f in model._meta.concrete_fields
    )
    joins = (
        f"FROM {quote(Membership._meta.db_table)} m "
        f"INNER JOIN {quote(Tenant._meta.db_table)} t ON t.id = m.tenant_id "
        f"LEFT OUTER JOIN {quote(Project._meta.db_table)} p ON p.tenant_id = t.id "
        f'WHERE m.user_id = {quote(User._meta.db_table)}."id"'
    )
    order = "t.name, t.id, p.name, p.id"
    if vendor == "postgresql":
        return f"SELECT json_agg(json_build_array({columns}) ORDER BY {order}) {joins}"
    return (
        "SELECT json_group_array(json(r)) FROM "
        f"(SELECT json_array({columns}) AS r {joins} ORDER BY {order})"
    )


def rows_from_json(value: Any) -> list[tuple[Any, ...]]:
    """`workspace_rows_sql`'s answer as rows of Python values (JSON has no dates)."""
    import json

    from django.conf import settings
    from django.db import models
    from django.utils import timezone

    rows = json.loads(value) if isinstance(value, str) else (value or [])
    fields = [f for model in _MODELS for f in model._meta.concrete_fields]
    converted = []
    for row in rows:
        values = []
        for column, raw in zip(fields, row, strict=True):
            item = None if raw is None else column.to_python(raw)
            if (
                isinstance(item, datetime)
                and isinstance(column, models.DateTimeField)
                and timezone.is_naive(item)
                and settings.USE_TZ
            ):
                item = timezone.make_aware(item, UTC)  # SQLite keeps UTC without offset
            values.append(item)
        converted.append(tuple(values))
    return converted


def _from_row(model: Any, row: tuple[Any, ...], start: int) -> tuple[Any, int]:
    """An instance of `model` from its columns at `start` of a row."""
    names = [f.attname for f in model._meta.concrete_fields]
    return model.from_db(None, names, row[start : start + len(names)]), start + len(names)


def _rows(user: User) -> list[tuple[Any, ...]]:
    cached = getattr(user, WORKSPACE_ROWS_ATTR, None)
    if cached is not None:
        return list(cached)
    columns = [
        *(f.attname for f in Membership._meta.concrete_fields),
        *(f"tenant__{f.attname}" for f in Tenant._meta.concrete_fields),
        *(f"tenant__projects__{f.attname}" for f in Project._meta.concrete_fields),
    ]
    return list(
        memberships_for(user=user)
        .order_by("tenant__name", "tenant_id", "tenant__projects__name", "tenant__projects__id")
        .values_list(*columns)
    )


def resolve_workspace(request: HttpRequest) -> Workspace:
    """The user's memberships with their tenants and those tenants' projects (a LEFT JOIN,
    so a tenant without a project still comes), picked by the session: read with the user
    (accounts.backends), else one query."""
    user = request.user
    if not user.is_authenticated:
        return Workspace()
    tenant_at = [f.attname for f in Membership._meta.concrete_fields].index("tenant_id")
    project_at = len(Membership._meta.concrete_fields) + len(Tenant._meta.concrete_fields)
    memberships: list[Membership] = []
    projects_of: dict[int, list[Project]] = {}
    for row in _rows(user):
        if not memberships or memberships[-1].tenant_id != row[tenant_at]:
            membership, _at = _from_row(Membership, row, 0)
            tenant, _at = _from_row(Tenant, row, _at)
            membership.tenant = tenant
            memberships.append(membership)
            projects_of[tenant.pk] = []
        if row[project_at] is not None:
            project, _end = _from_row(Project, row, project_at)
            project.tenant = memberships[-1].tenant
            projects_of[project.tenant_id].append(project)
    if not memberships:
        return Workspace()
    wanted = request.session.get(SESSION_TENANT_KEY)
    membership = next((m for m in memberships if m.tenant_id == wanted), memberships[0])
    projects = projects_of[membership.tenant_id]
    wanted_project = request.session.get(SESSION_PROJECT_KEY)
    project = next(
        (p for p in projects if p.pk == wanted_project), projects[0] if projects else None
    )
    return Workspace(
        memberships=memberships, membership=membership, projects=projects, project=project
    )


def activate(request: HttpRequest, *, tenant_id: int, project_id: int | None = None) -> None:
    """Make this tenant (and project, else none) the one the user acts for."""
    request.session[SESSION_TENANT_KEY] = tenant_id
    if project_id is None:
        request.session.pop(SESSION_PROJECT_KEY, None)
    else:
        request.session[SESSION_PROJECT_KEY] = project_id
