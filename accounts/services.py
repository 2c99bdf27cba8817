"""Every write of the accounts app: keyword-only, one transaction each."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.errors import FieldErrors, messages_by_field

from .backends import UNREAD_CACHE_ATTR
from .errors import AccountsErrorCode
from .guards import require_owner, require_platform_admin
from .models import RESERVED_NAMESPACES, AuditEntry, Membership, Notification, Project, Tenant, User
from .permissions import ADMIN_CACHE_ATTR, PLATFORM_ADMIN_GROUP, ensure_platform_admin_group

logger = logging.getLogger(__name__)


def record_audit(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model,
    tenant: Tenant | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Written inside the caller's transaction, so the trail never disagrees with the data."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        tenant=tenant,
        action=action,
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        changes=changes or {},
    )


def _login_subject(*, username: str, ip_address: str | None = None) -> models.Model | None:
    """What a lockout's audit row is about: the account, or, for a username nobody has, the
    attempts row axes keeps (its id stays in the trail after an unlock deletes it)."""
    from axes.models import AccessAttempt

    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    attempts = AccessAttempt.objects.filter(username=username)
    if ip_address:
        attempts = attempts.filter(ip_address=ip_address)
    return attempts.order_by("-attempt_time").first()


def record_login_lockout(
    *, username: str, ip_address: str, failures: int, until: datetime | None
) -> AuditEntry | None:
    """Axes locked a username for one client address: the trail says who, from where, how
    many failures and until when (platform admins read it, and may unlock sooner)."""
    with transaction.atomic():
        subject = _login_subject(username=username, ip_address=ip_address)
        if subject is None:
            return None
        return record_audit(
            actor=None,
            action="login.locked_out",
            obj=subject,
            to_state="locked",
            changes={
                "username": username,
                "ip_address": ip_address,
                "failures": failures,
                "until": until.isoformat() if until else None,
            },
        )


def unlock_login(
    *,
    actor: User | None,
    username: str,
    ip_address: str | None = None,
    reason: str = "",
) -> int:
    """Lifts a lockout before its cool-off ends: the failed attempts of `username` (from one
    address, or from all) are forgotten. `actor` None is the operator's shell (the
    `unlock_login` command); anyone else must be a platform admin. Returns the rows cleared."""
    from axes.utils import reset

    if actor is not None:
        require_platform_admin(user=actor)
    if not username:
        raise ValueError("unlock_login needs a username (an empty one would unlock everyone)")
    with transaction.atomic():
        subject = _login_subject(username=username, ip_address=ip_address)
        cleared = reset(username=username, ip=ip_address or None)
        if subject is not None and cleared:
            record_audit(
                actor=actor,
                action="login.unlocked",
                obj=subject,
                from_state="locked",
                to_state="unlocked",
                reason=reason,
                changes={
                    "username": username,
                    "ip_address": ip_address or "",
                    "attempts_cleared": cleared,
                },
            )
    return cleared


def _project_clashes(
    *, tenant: Tenant, name: str, namespace: str
) -> list[tuple[str, str, AccountsErrorCode]]:
    """(field, message, code) of every clash with another project; empty when there is none."""
    clashes = []
    others = Project.objects.all()
    if namespace in RESERVED_NAMESPACES:
        clashes.append(
            (
                "namespace",
                _("The namespace “%(namespace)s” is reserved by the platform.")
                % {"namespace": namespace},
                AccountsErrorCode.NAMESPACE_RESERVED,
            )
        )
    elif others.filter(namespace=namespace).exists():
        clashes.append(
            (
                "namespace",
                _("The namespace “%(namespace)s” is already used by another project.")
                % {"namespace": namespace},
                AccountsErrorCode.NAMESPACE_TAKEN,
            )
        )
    if others.filter(tenant=tenant, name__iexact=name).exists():
        clashes.append(
            (
                "name",
                _("%(tenant)s already has a project called “%(name)s”.")
                % {"tenant": tenant, "name": name},
                AccountsErrorCode.PROJECT_NAME_TAKEN,
            )
        )
    return clashes


def create_project(
    *, actor: User, tenant: Tenant, name: str, namespace: str, description: str = ""
) -> Project:
    """A project maps to one namespace; names clash per tenant, namespaces platform-wide."""
    require_owner(user=actor, tenant=tenant)
    name = (name or "").strip()
    namespace = (namespace or "").strip()
    project = Project(
        tenant=tenant, name=name, namespace=namespace, description=description, created_by=actor
    )
    errors = FieldErrors()
    try:
        project.full_clean(validate_constraints=False)
    except ValidationError as exc:
        for field, messages in messages_by_field(exc).items():
            errors.extend(field, messages, code=AccountsErrorCode.PROJECT_INVALID)
    # A field the model already refused keeps that one message.
    for field, message, code in _project_clashes(tenant=tenant, name=name, namespace=namespace):
        if field not in errors:
            errors.add(field, message, code=code)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            project.save()
            record_audit(actor=actor, action="project.created", obj=project, tenant=tenant)
    except IntegrityError:
        # Lost a race with another request for the same name or namespace.
        raced = FieldErrors()
        for field, message, code in _project_clashes(tenant=tenant, name=name, namespace=namespace):
            raced.add(field, message, code=code)
        if not raced:
            raced.add(
                "namespace",
                _("This project could not be saved; please try again."),
                code=AccountsErrorCode.PROJECT_NOT_SAVED,
            )
        raise raced.error() from None
    return project


@transaction.atomic
def create_tenant(
    *,
    name: str,
    owner: User,
    is_provider: bool = False,
    is_certified: bool = False,
    slug: str | None = None,
) -> Tenant:
    """A tenant and its first owner, together: no tenant is ever left without one."""
    tenant = Tenant.objects.create(
        name=name,
        slug=slug or slugify(name) or f"tenant-{Tenant.objects.count() + 1}",
        is_provider=is_provider,
        is_certified=is_certified,
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.Role.OWNER)
    record_audit(actor=owner, action="tenant.created", obj=tenant, tenant=tenant)
    return tenant


@transaction.atomic
def add_member(
    *, actor: User, tenant: Tenant, user: User, role: str = Membership.Role.MEMBER
) -> Membership:
    """Owners add people (or change their role); the change is audited."""
    require_owner(user=actor, tenant=tenant)
    membership, _created = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    record_audit(
        actor=actor, action="membership.changed", obj=membership, tenant=tenant, to_state=role
    )
    return membership


def grant_platform_admin(*, user: User) -> None:
    """Platform admins are a group, so the grant is visible and revocable in one place."""
    ensure_platform_admin_group()
    user.groups.add(Group.objects.get(name=PLATFORM_ADMIN_GROUP))
    user.__dict__.pop(ADMIN_CACHE_ATTR, None)


# --- notifications ------------------------------------------------------------------------


def _absolute(url: str) -> str:
    """E-mails need a full link; the site's address is SITE_URL, else the first trusted origin."""
    if not url or "://" in url:
        return url
    base = getattr(settings, "SITE_URL", "") or next(iter(settings.CSRF_TRUSTED_ORIGINS), "")
    return base.rstrip("/") + url if base else url


def _send_notification_mail(notes: list[Notification]) -> None:
    """One message per person (nobody sees the other recipients); a mail outage is logged,
    never raised: the change it reports has already committed."""
    messages = [
        mail.EmailMessage(
            subject=note.title,
            body="\n\n".join(part for part in (note.body, _absolute(note.url)) if part),
            to=[note.user.email],
        )
        for note in notes
        if note.user.email
    ]
    if not messages:
        return
    try:
        mail.get_connection().send_messages(messages)
    except Exception:
        logger.exception("could not e-mail %s notifications", len(messages))


@transaction.atomic
def notify(
    *, users: Iterable[User | None], title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """Tell people something happened: an in-app notification each, written with the change,
    and an e-mail once the transaction commits, so a rolled-back change tells nobody."""
    unique = {user.pk: user for user in users if user is not None}
    notes = Notification.objects.bulk_create(
        [
            Notification(user=user, title=str(title)[:200], body=str(body), url=url)
            for user in unique.values()
        ]
    )
    if notes:
        transaction.on_commit(lambda: _send_notification_mail(notes))
    return notes


def mark_notifications_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Marks the user's unread notifications (all, or those ids) read; returns how many."""
    user.__dict__.pop(UNREAD_CACHE_ATTR, None)  # the header's count, read with the user
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
