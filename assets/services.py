"""Every write of the assets app: keyword-only, one transaction each, audited.

Web forms and the REST API both call these, so they validate the same way and
report errors as Django `ValidationError`s keyed by the field names both use.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership
from accounts.permissions import is_platform_admin
from accounts.services import record_audit
from clusters.models import CatalogSource
from clusters.selectors import clusters_open_to

from . import images, selectors
from .models import (
    OTHER_INFO_FIELDS,
    Asset,
    AssetVersion,
    Category,
    ContentMode,
    Plan,
    Screenshot,
    generate_asset_code,
)
from .signals import plan_is_referenced

# Fields a provider writes on an asset (the icon and screenshots travel separately).
ASSET_FIELDS = ["delivery_type", "category", "name", "summary", "description", "website"] + [
    f"{prefix}_{part}"
    for prefix, _label in OTHER_INFO_FIELDS
    for part in ("mode", "markdown", "url")
]
PLAN_FIELDS = ["name", "price", "duration_value", "duration_unit"]
_STRIPPED = {"name", "summary", "website"} | {f"{p}_url" for p, _label in OTHER_INFO_FIELDS}


# --- helpers ------------------------------------------------------------------------------


def _require_provider_member(*, user, tenant):
    """Provider portal writes: a member (any role) of a provider tenant."""
    if not tenant.is_provider:
        raise PermissionDenied(_("Only provider tenants can register and sell assets."))
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise PermissionDenied(_("You are not a member of %(tenant)s.") % {"tenant": tenant})


def _require_platform_admin(user):
    if not is_platform_admin(user):
        raise PermissionDenied(_("Only platform administrators may do this."))


def _merge(errors, more):
    for field, messages in more.items():
        errors.setdefault(field, []).extend(messages)
    return errors


def _model_errors(instance, *, exclude=()):
    try:
        instance.full_clean(
            exclude=list(exclude), validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        return exc.message_dict
    return {}


def _short(value):
    text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _changes(instance, fields, before):
    return {
        field: [_short(before[field]), _short(getattr(instance, field))]
        for field in fields
        if before[field] != getattr(instance, field)
    }


def _delete_files_on_commit(*names):
    """Storage is not transactional: files go only once the rows that named them are gone."""
    from django.core.files.storage import default_storage

    def delete():
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)


class _SavedFiles:
    """Remembers files written during a transaction; removes them if it rolls back."""

    def __init__(self):
        self.names = []

    def add(self, fieldfile):
        if fieldfile and fieldfile.name:
            self.names.append(fieldfile.name)

    def discard(self):
        from django.core.files.storage import default_storage

        for name in self.names:
            default_storage.delete(name)


# --- assets -------------------------------------------------------------------------------


def _apply_asset_fields(asset, fields):
    unknown = set(fields) - set(ASSET_FIELDS)
    if unknown:
        raise TypeError(f"Unknown asset fields: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        if field in _STRIPPED or field.endswith("_markdown") or field == "description":
            value = (value or "").strip() if field in _STRIPPED else (value or "")
        setattr(asset, field, value)


def _asset_errors(asset, *, exclude_pk=None):
    errors = _model_errors(asset, exclude=["icon", "tenant", "created_by"])
    if "category" in errors or asset.category_id is None:
        errors["category"] = [_("Choose a category.")]
    for prefix, label in OTHER_INFO_FIELDS:
        mode = getattr(asset, f"{prefix}_mode")
        if mode == ContentMode.LINK and not getattr(asset, f"{prefix}_url"):
            errors.setdefault(f"{prefix}_url", []).append(
                _("%(field)s is set to an external link: enter its address.") % {"field": label}
            )
    if asset.name and (
        Asset.objects.filter(tenant=asset.tenant, name__iexact=asset.name)
        .exclude(pk=exclude_pk)
        .exists()
    ):
        errors.setdefault("name", []).append(
            _("%(tenant)s already has an asset called “%(name)s”.")
            % {"tenant": asset.tenant, "name": asset.name}
        )
    return errors


def _clean_upload(cleaner, upload, field, errors):
    try:
        return cleaner(upload)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return None


def _plan_instance(*, asset, name, price, duration_value, duration_unit, position=0):
    return Plan(
        asset=asset,
        name=(name or "").strip(),
        price=price,
        duration_value=duration_value,
        duration_unit=duration_unit,
        position=position,
    )


def _plan_errors(plan, *, exclude_pk=None):
    errors = _model_errors(plan, exclude=["asset"])
    try:
        price = Decimal(str(plan.price))
    except (InvalidOperation, ValueError, TypeError):
        price = None
    if price is not None and "price" not in errors and price < 0:
        errors["price"] = [_("The price cannot be negative; 0 means free.")]
    if (
        plan.asset_id
        and plan.name
        and not plan.is_archived
        and Plan.objects.filter(asset_id=plan.asset_id, name__iexact=plan.name, is_archived=False)
        .exclude(pk=exclude_pk)
        .exists()
    ):
        errors.setdefault("name", []).append(
            _("This asset already has a plan called “%(name)s”.") % {"name": plan.name}
        )
    return errors


def register_asset(*, actor, tenant, icon, plans=(), screenshots=(), **fields):
    """添加资产: the asset, its plans and screenshots in one go, or nothing at all.

    `plans` is a list of dicts with PLAN_FIELDS; `screenshots` a list of uploads (≤ 2).
    """
    _require_provider_member(user=actor, tenant=tenant)
    asset = Asset(tenant=tenant, created_by=actor)
    _apply_asset_fields(asset, fields)
    errors = _asset_errors(asset)
    clean_icon = None
    if icon is None:
        errors.setdefault("icon", []).append(_("Upload an icon: a 96×96 px JPG or PNG image."))
    else:
        clean_icon = _clean_upload(images.clean_icon, icon, "icon", errors)
    screenshots = [s for s in screenshots if s]
    clean_shots = []
    if len(screenshots) > Screenshot.MAX_PER_ASSET:
        errors.setdefault("screenshots", []).append(
            _("At most %(max)s screenshots; got %(count)s.")
            % {"max": Screenshot.MAX_PER_ASSET, "count": len(screenshots)}
        )
    else:
        for upload in screenshots:
            clean = _clean_upload(images.clean_screenshot, upload, "screenshots", errors)
            clean_shots.append(clean)
    plan_rows = []
    seen_names = set()
    for index, row in enumerate(plans):
        plan = _plan_instance(asset=None, position=index, **{k: row.get(k) for k in PLAN_FIELDS})
        for field, messages in _plan_errors(plan).items():
            errors.setdefault("plans", []).extend(
                _("Plan %(number)s, %(field)s: %(message)s")
                % {
                    "number": index + 1,
                    "field": Plan._meta.get_field(field).verbose_name,
                    "message": message,
                }
                for message in messages
            )
        if plan.name.lower() in seen_names:
            errors.setdefault("plans", []).append(
                _("Two plans are called “%(name)s”; give each plan its own name.")
                % {"name": plan.name}
            )
        seen_names.add(plan.name.lower())
        plan_rows.append(plan)
    if errors:
        raise ValidationError(errors)

    while Asset.objects.filter(code=asset.code).exists():  # ~2^-65 odds, but never a 500
        asset.code = generate_asset_code()
    saved = _SavedFiles()
    try:
        with transaction.atomic():
            asset.icon.save(clean_icon.content.name, clean_icon.content, save=False)
            saved.add(asset.icon)
            asset.save()
            for position, shot in enumerate(clean_shots):
                screenshot = Screenshot(
                    asset=asset, position=position, width=shot.width, height=shot.height
                )
                screenshot.image.save(shot.content.name, shot.content, save=False)
                saved.add(screenshot.image)
                screenshot.save()
            for plan in plan_rows:
                plan.asset = asset
                plan.save()
            record_audit(
                actor=actor,
                action="asset.created",
                obj=asset,
                tenant=tenant,
                changes={
                    "name": asset.name,
                    "delivery_type": asset.delivery_type,
                    "category": asset.category.slug,
                    "plans": [f"{p.name}: {p.price} T / {p.duration_display}" for p in plan_rows],
                    "screenshots": len(clean_shots),
                },
            )
    except IntegrityError:
        saved.discard()
        raise ValidationError(
            _asset_errors(asset)
            or {"name": [_("This asset could not be saved; please try again.")]}
        ) from None
    except BaseException:
        saved.discard()
        raise
    return asset


def update_asset(*, actor, asset, icon=None, **fields):
    """资产信息 edits; a new icon replaces the old one. The code never changes."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    with transaction.atomic():
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
        before = {field: getattr(asset, field) for field in ASSET_FIELDS}
        _apply_asset_fields(asset, fields)
        errors = _asset_errors(asset, exclude_pk=asset.pk)
        clean_icon = _clean_upload(images.clean_icon, icon, "icon", errors) if icon else None
        if errors:
            raise ValidationError(errors)
        changes = _changes(asset, ASSET_FIELDS, before)
        old_icon = asset.icon.name
        saved = _SavedFiles()
        try:
            with transaction.atomic():
                if clean_icon is not None:
                    asset.icon.save(clean_icon.content.name, clean_icon.content, save=False)
                    saved.add(asset.icon)
                    changes["icon"] = [old_icon, asset.icon.name]
                asset.save()
                if changes:
                    record_audit(
                        actor=actor,
                        action="asset.updated",
                        obj=asset,
                        tenant=asset.tenant,
                        changes=changes,
                    )
        except IntegrityError:
            saved.discard()
            raise ValidationError(
                _asset_errors(asset, exclude_pk=asset.pk)
                or {"name": [_("This asset could not be saved; please try again.")]}
            ) from None
        except BaseException:
            saved.discard()
            raise
        if clean_icon is not None:
            _delete_files_on_commit(old_icon)
    return asset


def add_screenshot(*, actor, asset, image):
    """One more screenshot, refused past two (the database refuses too)."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    errors = {}
    if not image:
        errors["image"] = [_("Choose a JPG or PNG image.")]
        raise ValidationError(errors)
    clean = _clean_upload(images.clean_screenshot, image, "image", errors)
    if errors:
        raise ValidationError(errors)
    saved = _SavedFiles()
    try:
        with transaction.atomic():
            Asset.objects.select_for_update().filter(pk=asset.pk).first()
            taken = set(Screenshot.objects.filter(asset=asset).values_list("position", flat=True))
            free = [p for p in range(Screenshot.MAX_PER_ASSET) if p not in taken]
            if not free:
                raise ValidationError(
                    {
                        "image": [
                            _("An asset has at most %(max)s screenshots; remove one first.")
                            % {"max": Screenshot.MAX_PER_ASSET}
                        ]
                    }
                )
            screenshot = Screenshot(
                asset=asset, position=free[0], width=clean.width, height=clean.height
            )
            screenshot.image.save(clean.content.name, clean.content, save=False)
            saved.add(screenshot.image)
            screenshot.save()
            record_audit(
                actor=actor,
                action="asset.screenshot_added",
                obj=asset,
                tenant=asset.tenant,
                changes={"screenshot": screenshot.image.name},
            )
    except BaseException:
        saved.discard()
        raise
    return screenshot


def remove_screenshot(*, actor, screenshot):
    asset = screenshot.asset
    _require_provider_member(user=actor, tenant=asset.tenant)
    with transaction.atomic():
        name = screenshot.image.name
        record_audit(
            actor=actor,
            action="asset.screenshot_removed",
            obj=asset,
            tenant=asset.tenant,
            changes={"screenshot": name},
        )
        screenshot.delete()
        _delete_files_on_commit(name)


# --- plans --------------------------------------------------------------------------------


def plan_is_ordered(plan):
    """Whether any order refers to this plan, so it may only be archived, never deleted.

    The orders app answers through `signals.plan_usage`; with no receiver it is False.
    """
    return plan_is_referenced(plan)


def create_plan(*, actor, asset, name, price, duration_value, duration_unit):
    """+ 添加规格."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    plan = _plan_instance(
        asset=asset,
        name=name,
        price=price,
        duration_value=duration_value,
        duration_unit=duration_unit,
    )
    errors = _plan_errors(plan)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            plan.position = (
                Plan.objects.filter(asset=asset).aggregate(top=Max("position"))["top"] or 0
            ) + 1
            plan.save()
            record_audit(
                actor=actor,
                action="plan.created",
                obj=plan,
                tenant=asset.tenant,
                changes={
                    "asset": asset.code,
                    "price": str(plan.price),
                    "duration": plan.duration_display,
                },
            )
    except IntegrityError:
        raise ValidationError(
            _plan_errors(plan) or {"name": [_("This plan could not be saved; please try again.")]}
        ) from None
    return plan


def update_plan(*, actor, plan, **fields):
    """A new price applies to new orders only: orders keep the price they were placed at."""
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown plan fields: {', '.join(sorted(unknown))}")
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        before = {field: getattr(plan, field) for field in PLAN_FIELDS}
        for field, value in fields.items():
            setattr(plan, field, value.strip() if field == "name" and value else value)
        errors = _plan_errors(plan, exclude_pk=plan.pk)
        if errors:
            raise ValidationError(errors)
        plan.price = Decimal(str(plan.price)).quantize(Decimal("0.01"))
        changes = _changes(plan, PLAN_FIELDS, before)
        try:
            with transaction.atomic():
                plan.save()
        except IntegrityError:
            raise ValidationError(_plan_errors(plan, exclude_pk=plan.pk)) from None
        if changes:
            record_audit(
                actor=actor,
                action="plan.updated",
                obj=plan,
                tenant=plan.asset.tenant,
                changes=changes,
            )
    return plan


def archive_plan(*, actor, plan):
    """Archived plans are no longer sold; existing orders keep pointing at them."""
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        if plan.is_archived:
            return plan
        plan.is_archived = True
        plan.archived_at = timezone.now()
        plan.save(update_fields=["is_archived", "archived_at", "updated_at"])
        record_audit(
            actor=actor,
            action="plan.archived",
            obj=plan,
            tenant=plan.asset.tenant,
            from_state="active",
            to_state="archived",
        )
    return plan


def restore_plan(*, actor, plan):
    """Sell an archived plan again, unless an active plan took its name meanwhile."""
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        if not plan.is_archived:
            return plan
        plan.is_archived = False
        errors = _plan_errors(plan, exclude_pk=plan.pk)
        if errors:
            raise ValidationError(errors)
        plan.archived_at = None
        plan.save(update_fields=["is_archived", "archived_at", "updated_at"])
        record_audit(
            actor=actor,
            action="plan.restored",
            obj=plan,
            tenant=plan.asset.tenant,
            from_state="archived",
            to_state="active",
        )
    return plan


def delete_plan(*, actor, plan):
    """Only a plan nobody ordered can go; an ordered one is archived instead."""
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    refusal = ValidationError(
        {"plan": [_("This plan has been ordered, so it cannot be deleted; archive it instead.")]},
        code="plan_ordered",
    )
    if plan_is_ordered(plan):
        raise refusal
    try:
        with transaction.atomic():
            record_audit(
                actor=actor,
                action="plan.deleted",
                obj=plan,
                tenant=plan.asset.tenant,
                changes={"name": plan.name, "price": str(plan.price)},
            )
            plan.delete()
    except ProtectedError:
        raise refusal from None


# --- versions -----------------------------------------------------------------------------


def _version_errors(
    *, asset, project, cluster, catalog_source, package_name, channels, default_channel
):
    """Each choice must fit the ones before it; returns (errors, package)."""
    errors = {}
    required = _("This field is required.")
    if not asset.is_operator:
        errors["non_field_errors"] = [
            _("Only Operator assets have versions backed by a CatalogSource.")
        ]
        return errors, None
    if project is None:
        errors["project"] = [required]
    elif project.tenant_id != asset.tenant_id:
        errors["project"] = [_("Choose a project of %(tenant)s.") % {"tenant": asset.tenant}]
    if cluster is None:
        errors["cluster"] = [required]
    elif (
        "project" not in errors
        and not clusters_open_to(project=project).filter(pk=cluster.pk).exists()
    ):
        errors["cluster"] = [
            _("The project %(project)s may not use the cluster %(cluster)s.")
            % {"project": project.name, "cluster": cluster.name}
        ]
    if catalog_source is None:
        errors["catalog_source"] = [required]
    elif catalog_source.tenant_id != asset.tenant_id:
        errors["catalog_source"] = [
            _("Choose a CatalogSource of %(tenant)s.") % {"tenant": asset.tenant}
        ]
    elif cluster is not None and catalog_source.cluster_id != cluster.pk:
        errors["catalog_source"] = [
            _("This CatalogSource is not on the cluster %(cluster)s.") % {"cluster": cluster.name}
        ]
    elif catalog_source.state != CatalogSource.State.READY:
        errors["catalog_source"] = [
            _("This CatalogSource is not READY (it is %(state)s); wait until it is.")
            % {"state": catalog_source.get_state_display()}
        ]
    package = None
    if not package_name:
        errors["package_name"] = [required]
    elif "catalog_source" not in errors and catalog_source is not None:
        package = (
            selectors.version_packages(catalog_source=catalog_source)
            .filter(name=package_name)
            .first()
        )
        if package is None:
            errors["package_name"] = [
                _("The CatalogSource %(catalog)s does not serve a package “%(package)s”.")
                % {"catalog": catalog_source.name, "package": package_name}
            ]
    channels = list(channels or [])
    if not channels:
        errors["channels"] = [_("Choose at least one channel.")]
    elif package is not None:
        known = {c["name"] for c in package.channels}
        unknown = [c for c in channels if c not in known]
        if unknown:
            errors["channels"] = [
                _("The package %(package)s has no channel %(channels)s.")
                % {"package": package.name, "channels": ", ".join(unknown)}
            ]
    if not default_channel:
        errors["default_channel"] = [required]
    elif channels and default_channel not in channels:
        errors["default_channel"] = [_("The default channel must be one of the chosen channels.")]
    elif package is not None and not (package.channel(default_channel) or {}).get("current_csv"):
        errors["default_channel"] = [
            _("The channel %(channel)s has no current CSV.") % {"channel": default_channel}
        ]
    return errors, package


def _version_from_csv(channel):
    """The version number is the channel head's: its `version`, else the CSV name's `.vX`."""
    csv_name = channel.get("current_csv", "")
    version = channel.get("version") or ""
    if not version and ".v" in csv_name:
        version = csv_name.rsplit(".v", 1)[1]
    return version or csv_name, csv_name


def _fill_version(version, *, package, channels, default_channel):
    channel = package.channel(default_channel)
    version.package_name = package.name
    version.channels = [c["name"] for c in package.channels if c["name"] in set(channels)]
    version.default_channel = default_channel
    version.version, version.csv_name = _version_from_csv(channel)
    version.provided_apis = list(channel.get("provided_apis") or [])


VERSION_FIELDS = [
    "project_id",
    "cluster_id",
    "catalog_source_id",
    "package_name",
    "channels",
    "default_channel",
    "version",
    "csv_name",
]


def create_version(
    *, actor, asset, project, cluster, catalog_source, package_name, channels, default_channel
):
    """创建版本: a draft pointing at a READY catalog's package; listing is the approvals issue's."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    errors, package = _version_errors(
        asset=asset,
        project=project,
        cluster=cluster,
        catalog_source=catalog_source,
        package_name=package_name,
        channels=channels,
        default_channel=default_channel,
    )
    if errors:
        raise ValidationError(errors)
    version = AssetVersion(
        asset=asset,
        project=project,
        cluster=cluster,
        catalog_source=catalog_source,
        created_by=actor,
    )
    _fill_version(version, package=package, channels=channels, default_channel=default_channel)
    with transaction.atomic():
        version.save()
        record_audit(
            actor=actor,
            action="version.created",
            obj=version,
            tenant=asset.tenant,
            to_state=version.status,
            changes={field: _short(getattr(version, field)) for field in VERSION_FIELDS},
        )
    return version


def update_version(
    *, actor, version, project, cluster, catalog_source, package_name, channels, default_channel
):
    """编辑: only a draft changes; what was submitted or sold stays as reviewed."""
    _require_provider_member(user=actor, tenant=version.asset.tenant)
    with transaction.atomic():
        version = (
            AssetVersion.objects.select_for_update()
            .select_related("asset__tenant")
            .get(pk=version.pk)
        )
        if not version.is_editable:
            raise ValidationError(
                {
                    "non_field_errors": [
                        _("Only a draft version can be edited; this one is “%(status)s”.")
                        % {"status": version.get_status_display()}
                    ]
                }
            )
        errors, package = _version_errors(
            asset=version.asset,
            project=project,
            cluster=cluster,
            catalog_source=catalog_source,
            package_name=package_name,
            channels=channels,
            default_channel=default_channel,
        )
        if errors:
            raise ValidationError(errors)
        before = {field: getattr(version, field) for field in VERSION_FIELDS}
        version.project, version.cluster, version.catalog_source = project, cluster, catalog_source
        _fill_version(version, package=package, channels=channels, default_channel=default_channel)
        changes = _changes(version, VERSION_FIELDS, before)
        version.save()
        if changes:
            record_audit(
                actor=actor,
                action="version.updated",
                obj=version,
                tenant=version.asset.tenant,
                changes=changes,
            )
    return version


def delete_version(*, actor, version):
    """删除版本: drafts and delisted versions only; anything in review or on sale stays."""
    _require_provider_member(user=actor, tenant=version.asset.tenant)
    with transaction.atomic():
        version = (
            AssetVersion.objects.select_for_update()
            .select_related("asset__tenant")
            .get(pk=version.pk)
        )
        if not version.is_deletable:
            raise ValidationError(
                {
                    "non_field_errors": [
                        _(
                            "Only draft or delisted versions can be deleted; this one is “%(status)s”."
                        )
                        % {"status": version.get_status_display()}
                    ]
                }
            )
        record_audit(
            actor=actor,
            action="version.deleted",
            obj=version,
            tenant=version.asset.tenant,
            from_state=version.status,
            changes={"version": version.version, "package": version.package_name},
        )
        try:
            with transaction.atomic():
                version.delete()
        except ProtectedError:
            raise ValidationError(
                {
                    "non_field_errors": [
                        _("This version is still referenced (orders or installations); it stays.")
                    ]
                }
            ) from None


# --- categories (platform admins) ---------------------------------------------------------

CATEGORY_FIELDS = ["slug", "name_en", "name_zh", "position"]


def _category_errors(category):
    errors = _model_errors(category)
    if category.slug and (
        Category.objects.filter(slug=category.slug).exclude(pk=category.pk).exists()
    ):
        errors.setdefault("slug", []).append(
            _("A category with the slug “%(slug)s” exists.") % {"slug": category.slug}
        )
    return errors


def create_category(*, actor, slug, name_en, name_zh, position=0):
    _require_platform_admin(actor)
    category = Category(slug=slug, name_en=name_en, name_zh=name_zh, position=position)
    errors = _category_errors(category)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        category.save()
        record_audit(actor=actor, action="category.created", obj=category)
    return category


def update_category(*, actor, category, **fields):
    _require_platform_admin(actor)
    with transaction.atomic():
        category = Category.objects.select_for_update().get(pk=category.pk)
        before = {field: getattr(category, field) for field in CATEGORY_FIELDS}
        for field, value in fields.items():
            if field not in CATEGORY_FIELDS:
                raise TypeError(f"Unknown category field: {field}")
            setattr(category, field, value)
        errors = _category_errors(category)
        if errors:
            raise ValidationError(errors)
        category.save()
        record_audit(
            actor=actor,
            action="category.updated",
            obj=category,
            changes=_changes(category, CATEGORY_FIELDS, before),
        )
    return category


def delete_category(*, actor, category):
    """A category that assets use stays: they would lose their shelf."""
    _require_platform_admin(actor)
    try:
        with transaction.atomic():
            record_audit(actor=actor, action="category.deleted", obj=category)
            category.delete()
    except ProtectedError:
        raise ValidationError(
            {
                "non_field_errors": [
                    _("Assets use the category “%(name)s”; move them to another category first.")
                    % {"name": category.name}
                ]
            }
        ) from None
