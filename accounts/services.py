"""Every write of the accounts app: keyword-only, one transaction each."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from .models import RESERVED_NAMESPACES, AuditEntry, Membership, Notification, Project, Tenant, User


def record_audit(
    *, actor, action, obj, tenant=None, from_state="", to_state="", reason="", changes=None
):
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


def _require_owner(*, user, tenant):
    if not Membership.objects.filter(user=user, tenant=tenant, role=Membership.Role.OWNER).exists():
        raise PermissionDenied(_("Only an owner of %(tenant)s can do this.") % {"tenant": tenant})


def _project_errors(*, tenant, name, namespace, exclude_pk=None):
    errors = {}
    others = Project.objects.exclude(pk=exclude_pk)
    if namespace in RESERVED_NAMESPACES:
        errors["namespace"] = [
            _("The namespace “%(namespace)s” is reserved by the platform.")
            % {"namespace": namespace}
        ]
    elif others.filter(namespace=namespace).exists():
        errors["namespace"] = [
            _("The namespace “%(namespace)s” is already used by another project.")
            % {"namespace": namespace}
        ]
    if others.filter(tenant=tenant, name__iexact=name).exists():
        errors["name"] = [
            _("%(tenant)s already has a project called “%(name)s”.")
            % {"tenant": tenant, "name": name}
        ]
    return errors


def create_project(*, actor, tenant, name, namespace, description=""):
    """A project maps to one namespace; names clash per tenant, namespaces platform-wide."""
    _require_owner(user=actor, tenant=tenant)
    name = (name or "").strip()
    namespace = (namespace or "").strip()
    project = Project(
        tenant=tenant, name=name, namespace=namespace, description=description, created_by=actor
    )
    try:
        project.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    else:
        errors = {}
    for field, messages in _project_errors(tenant=tenant, name=name, namespace=namespace).items():
        errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            project.save()
            record_audit(actor=actor, action="project.created", obj=project, tenant=tenant)
    except IntegrityError:
        # Lost a race with another request for the same name or namespace.
        raise ValidationError(
            _project_errors(tenant=tenant, name=name, namespace=namespace)
            or {"namespace": [_("This project could not be saved; please try again.")]}
        ) from None
    return project


@transaction.atomic
def create_tenant(*, name, owner, is_provider=False, is_certified=False, slug=None):
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
def add_member(*, actor, tenant, user, role=Membership.Role.MEMBER):
    _require_owner(user=actor, tenant=tenant)
    membership, _created = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    record_audit(
        actor=actor, action="membership.changed", obj=membership, tenant=tenant, to_state=role
    )
    return membership


def grant_platform_admin(*, user: User):
    """Platform admins are a group, so the grant is visible and revocable in one place."""
    from django.contrib.auth.models import Group

    from .permissions import PLATFORM_ADMIN_GROUP, ensure_platform_admin_group

    ensure_platform_admin_group()
    user.groups.add(Group.objects.get(name=PLATFORM_ADMIN_GROUP))


# --- notifications ------------------------------------------------------------------------


def _absolute(url):
    """E-mails need a full link; the site's address is SITE_URL, else the first trusted origin."""
    if not url or "://" in url:
        return url
    from django.conf import settings

    base = getattr(settings, "SITE_URL", "") or next(iter(settings.CSRF_TRUSTED_ORIGINS), "")
    return base.rstrip("/") + url if base else url


def _send_notification_mail(notes):
    """One message per person (nobody sees the other recipients); a mail outage is logged,
    never raised: the change it reports has already committed."""
    import logging

    from django.core import mail

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
        logging.getLogger(__name__).exception("could not e-mail %s notifications", len(messages))


@transaction.atomic
def notify(*, users, title, body="", url=""):
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


def mark_notifications_read(*, user, ids=None):
    """Marks the user's unread notifications (all, or those ids) read; returns how many."""
    from django.utils import timezone

    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
