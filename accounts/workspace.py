"""The tenant and project a signed-in user is acting for, kept in the session."""

from dataclasses import dataclass, field

from .models import Membership

SESSION_TENANT_KEY = "active_tenant_id"
SESSION_PROJECT_KEY = "active_project_id"


@dataclass
class Workspace:
    memberships: list = field(default_factory=list)
    membership: Membership | None = None
    projects: list = field(default_factory=list)
    project: object = None

    @property
    def tenant(self):
        return self.membership.tenant if self.membership else None

    @property
    def role(self):
        return self.membership.role if self.membership else None

    @property
    def is_owner(self):
        return self.role == Membership.Role.OWNER

    @property
    def is_provider(self):
        return bool(self.tenant and self.tenant.is_provider)


def resolve_workspace(request):
    """Two queries: the user's memberships, then the active tenant's projects."""
    from .selectors import memberships_for, projects_for

    user = request.user
    if not user.is_authenticated:
        return Workspace()
    memberships = list(memberships_for(user=user))
    if not memberships:
        return Workspace()
    wanted = request.session.get(SESSION_TENANT_KEY)
    membership = next((m for m in memberships if m.tenant_id == wanted), memberships[0])
    projects = list(projects_for(user=user, tenant=membership.tenant))
    wanted_project = request.session.get(SESSION_PROJECT_KEY)
    project = next(
        (p for p in projects if p.pk == wanted_project), projects[0] if projects else None
    )
    return Workspace(
        memberships=memberships, membership=membership, projects=projects, project=project
    )


def activate(request, *, tenant_id, project_id=None):
    request.session[SESSION_TENANT_KEY] = tenant_id
    if project_id is None:
        request.session.pop(SESSION_PROJECT_KEY, None)
    else:
        request.session[SESSION_PROJECT_KEY] = project_id
