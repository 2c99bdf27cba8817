"""Every write of the assets app: keyword-only, one transaction each, audited.

Web forms and the REST API both call these, so they validate the same way and
report errors as Django `ValidationError`s keyed by the field names both use, each
message with its `AssetsErrorCode` (the API's `code`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import IntegrityError, models, transaction
from django.db.models import Max, ProtectedError
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.guards import require_member, require_platform_admin
from accounts.models import Project, Tenant, User
from accounts.services import record_audit
from clusters.models import CatalogPackage, CatalogSource, Cluster
from clusters.selectors import clusters_open_to
from core.errors import NON_FIELD, FieldErrors, NotFound, NotPermitted, invalid

from . import images, scans, selectors
from .errors import AssetsErrorCode
from .images import CleanImage
from .models import (
    OTHER_INFO_FIELDS,
    Asset,
    AssetRevision,
    AssetVersion,
    Category,
    ContentMode,
    Plan,
    Screenshot,
    generate_asset_code,
)
from .shelf import refresh_storefront_fields
from .signals import (
    plan_is_referenced,
    revision_discarded,
    revision_locking,
    revision_submitted,
)

# Fields a provider writes on an asset (the icon and screenshots travel separately).
ASSET_FIELDS = ["delivery_type", "category", "name", "summary", "description", "website"] + [
    f"{prefix}_{part}"
    for prefix, _label in OTHER_INFO_FIELDS
    for part in ("mode", "markdown", "url")
]
PLAN_FIELDS = ["name", "price", "duration_value", "duration_unit"]
_STRIPPED = {"name", "summary", "website"} | {f"{p}_url" for p, _label in OTHER_INFO_FIELDS}


# --- helpers ------------------------------------------------------------------------------


def _require_provider_member(*, user: User | None, tenant: Tenant) -> None:
    """Provider portal writes: a member (any role) of a provider tenant."""
    if not tenant.is_provider:
        raise NotPermitted(
            _("Only provider tenants can register and sell assets."),
            code=AssetsErrorCode.NOT_A_PROVIDER,
        )
    require_member(
        user=user,
        tenant=tenant,
        message=_("You are not a member of %(tenant)s.") % {"tenant": tenant},
    )


def _require_platform_admin(user: User | None) -> None:
    require_platform_admin(user=user, message=_("Only platform administrators may do this."))


def _model_messages(instance: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """The model's own field checks (blank, choices, lengths, URLs), by field."""
    try:
        instance.full_clean(
            exclude=list(exclude), validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        return exc.message_dict
    return {}


def _model_errors(
    instance: models.Model, *, code: AssetsErrorCode, exclude: Iterable[str] = ()
) -> FieldErrors:
    errors = FieldErrors()
    for field, messages in _model_messages(instance, exclude=exclude).items():
        errors.extend(field, messages, code=code)
    return errors


def _each(errors: FieldErrors) -> Iterator[tuple[str, str, AssetsErrorCode]]:
    """(field, message, code) of every error collected, in order."""
    for field, items in errors.error().error_dict.items():
        for item in items:
            for message in item.messages:
                yield field, message, AssetsErrorCode(str(item.code))


def _on_field(exc: ValidationError, field: str) -> ValidationError:
    """An image check's refusal (no field of its own) on the field the upload came in,
    each message keeping its code."""
    return ValidationError({field: exc.error_list})


def _short(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _changes(
    instance: models.Model, fields: Iterable[str], before: Mapping[str, Any]
) -> dict[str, list[str]]:
    return {
        field: [_short(before[field]), _short(getattr(instance, field))]
        for field in fields
        if before[field] != getattr(instance, field)
    }


def _delete_files_on_commit(*names: str) -> None:
    """Storage is not transactional: files go only once the rows that named them are gone."""
    from django.core.files.storage import default_storage

    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)


class _SavedFiles:
    """Remembers files written during a transaction; removes them if it rolls back."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, fieldfile: FieldFile) -> None:
        if fieldfile and fieldfile.name:
            self.names.append(fieldfile.name)

    def discard(self) -> None:
        from django.core.files.storage import default_storage

        for name in self.names:
            default_storage.delete(name)


# --- assets -------------------------------------------------------------------------------


def _apply_asset_fields(asset: Asset, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(ASSET_FIELDS)
    if unknown:
        raise TypeError(f"Unknown asset fields: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        if field in _STRIPPED or field.endswith("_markdown") or field == "description":
            value = (value or "").strip() if field in _STRIPPED else (value or "")
        setattr(asset, field, value)


def _asset_errors(asset: Asset, *, exclude_pk: int | None = None) -> FieldErrors:
    errors = FieldErrors()
    for field, messages in _model_messages(asset, exclude=["icon", "tenant", "created_by"]).items():
        if field == "category":
            errors.add("category", _("Choose a category."), code=AssetsErrorCode.CATEGORY_REQUIRED)
        else:
            errors.extend(field, messages, code=AssetsErrorCode.ASSET_INVALID)
    if asset.category_id is None and "category" not in errors:
        errors.add("category", _("Choose a category."), code=AssetsErrorCode.CATEGORY_REQUIRED)
    for prefix, label in OTHER_INFO_FIELDS:
        mode = getattr(asset, f"{prefix}_mode")
        if mode == ContentMode.LINK and not getattr(asset, f"{prefix}_url"):
            errors.add(
                f"{prefix}_url",
                _("%(field)s is set to an external link: enter its address.") % {"field": label},
                code=AssetsErrorCode.LINK_URL_REQUIRED,
            )
    same_name = Asset.objects.filter(tenant=asset.tenant, name__iexact=asset.name)
    if exclude_pk is not None:
        same_name = same_name.exclude(pk=exclude_pk)
    if asset.name and same_name.exists():
        errors.add(
            "name",
            _("%(tenant)s already has an asset called “%(name)s”.")
            % {"tenant": asset.tenant, "name": asset.name},
            code=AssetsErrorCode.ASSET_NAME_TAKEN,
        )
    return errors


def _not_saved(errors: FieldErrors, *, message: str, code: AssetsErrorCode) -> ValidationError:
    """After an IntegrityError (a race the checks lost): say why if we can, else "try again"."""
    if not errors:
        errors.add("name", message, code=code)
    return errors.error()


def _clean_upload(
    cleaner: Callable[[File], CleanImage], upload: File, field: str, errors: FieldErrors
) -> CleanImage | None:
    try:
        return cleaner(upload)
    except ValidationError as exc:
        errors.merge(_on_field(exc, field))
        return None


def _plan_instance(
    *,
    asset: Asset | None,
    name: str | None,
    price: Any,
    duration_value: Any,
    duration_unit: Any,
    position: int = 0,
) -> Plan:
    plan = Plan(
        name=(name or "").strip(),
        price=price,
        duration_value=duration_value,
        duration_unit=duration_unit,
        position=position,
    )
    if asset is not None:
        plan.asset = asset
    return plan


def _plan_errors(plan: Plan, *, exclude_pk: int | None = None) -> FieldErrors:
    errors = _model_errors(plan, code=AssetsErrorCode.PLAN_INVALID, exclude=["asset"])
    price: Decimal | None
    try:
        price = Decimal(str(plan.price))
    except (InvalidOperation, ValueError, TypeError):
        price = None
    if price is not None and "price" not in errors and price < 0:
        errors.add(
            "price",
            _("The price cannot be negative; 0 means free."),
            code=AssetsErrorCode.PRICE_NEGATIVE,
        )
    same_name = Plan.objects.filter(
        asset_id=plan.asset_id, name__iexact=plan.name, is_archived=False
    )
    if exclude_pk is not None:
        same_name = same_name.exclude(pk=exclude_pk)
    if plan.asset_id and plan.name and not plan.is_archived and same_name.exists():
        errors.add(
            "name",
            _("This asset already has a plan called “%(name)s”.") % {"name": plan.name},
            code=AssetsErrorCode.PLAN_NAME_TAKEN,
        )
    return errors


@dataclass
class _Registration:
    asset: Asset
    errors: FieldErrors
    clean_icon: CleanImage | None
    clean_shots: list[CleanImage]
    plan_rows: list[Plan]


def _registration(
    *,
    tenant: Tenant,
    actor: User,
    icon: File | None,
    plans: Sequence[Mapping[str, Any]],
    screenshots: Sequence[File | None],
    fields: Mapping[str, Any],
) -> _Registration:
    """Every check of 添加资产 at once (fields, icon, screenshots, plans), nothing saved:
    a provider fixes all of them in one round."""
    asset = Asset(tenant=tenant, created_by=actor)
    _apply_asset_fields(asset, fields)
    errors = _asset_errors(asset)
    clean_icon = None
    if icon is None:
        errors.add(
            "icon",
            _("Upload an icon: a 96×96 px JPG or PNG image."),
            code=AssetsErrorCode.ICON_REQUIRED,
        )
    else:
        clean_icon = _clean_upload(images.clean_icon, icon, "icon", errors)
    uploads = [s for s in screenshots if s]
    clean_shots: list[CleanImage] = []
    if len(uploads) > Screenshot.MAX_PER_ASSET:
        errors.add(
            "screenshots",
            _("At most %(max)s screenshots; got %(count)s.")
            % {"max": Screenshot.MAX_PER_ASSET, "count": len(uploads)},
            code=AssetsErrorCode.TOO_MANY_SCREENSHOTS,
        )
    else:
        for upload in uploads:
            clean = _clean_upload(images.clean_screenshot, upload, "screenshots", errors)
            if clean is not None:
                clean_shots.append(clean)
    plan_rows = []
    seen_names = set()
    for index, row in enumerate(plans):
        plan = _plan_instance(asset=None, position=index, **{k: row.get(k) for k in PLAN_FIELDS})
        for field, message, code in _each(_plan_errors(plan)):
            errors.add(
                "plans",
                _("Plan %(number)s, %(field)s: %(message)s")
                % {
                    "number": index + 1,
                    "field": getattr(Plan._meta.get_field(field), "verbose_name", field),
                    "message": message,
                },
                code=code,
            )
        if plan.name.lower() in seen_names:
            errors.add(
                "plans",
                _("Two plans are called “%(name)s”; give each plan its own name.")
                % {"name": plan.name},
                code=AssetsErrorCode.PLAN_NAME_DUPLICATE,
            )
        seen_names.add(plan.name.lower())
        plan_rows.append(plan)
    return _Registration(asset, errors, clean_icon, clean_shots, plan_rows)


def validate_registration(
    *,
    actor: User,
    tenant: Tenant,
    icon: File | None,
    plans: Sequence[Mapping[str, Any]] = (),
    screenshots: Sequence[File | None] = (),
    **fields: Any,
) -> None:
    """register_asset's checks without saving, for a form some of whose fields did not
    even parse: the rest are still checked, so every error shows in one round."""
    _require_provider_member(user=actor, tenant=tenant)
    _registration(
        tenant=tenant,
        actor=actor,
        icon=icon,
        plans=plans,
        screenshots=screenshots,
        fields=fields,
    ).errors.raise_if_any()


def register_asset(
    *,
    actor: User,
    tenant: Tenant,
    icon: File | None,
    plans: Sequence[Mapping[str, Any]] = (),
    screenshots: Sequence[File | None] = (),
    **fields: Any,
) -> Asset:
    """添加资产: the asset, its plans and screenshots in one go, or nothing at all.

    `plans` is a list of dicts with PLAN_FIELDS; `screenshots` a list of uploads (≤ 2).
    """
    _require_provider_member(user=actor, tenant=tenant)
    checked = _registration(
        tenant=tenant,
        actor=actor,
        icon=icon,
        plans=plans,
        screenshots=screenshots,
        fields=fields,
    )
    asset, errors, clean_icon = checked.asset, checked.errors, checked.clean_icon
    clean_shots, plan_rows = checked.clean_shots, checked.plan_rows
    errors.raise_if_any()
    assert clean_icon is not None  # a missing or refused icon was an error above

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
            refresh_storefront_fields(asset_id=asset.pk)
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
        raise _not_saved(
            _asset_errors(asset),
            message=_("This asset could not be saved; please try again."),
            code=AssetsErrorCode.ASSET_NOT_SAVED,
        ) from None
    except BaseException:
        saved.discard()
        raise
    return asset


def validate_asset_update(
    *, actor: User, asset: Asset, icon: File | None = None, **fields: Any
) -> None:
    """update_asset's field and icon checks without saving, for a form some of whose
    fields did not parse: the rest are still checked, so every error shows at once."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    draft = copy.copy(asset)
    _apply_asset_fields(draft, fields)
    errors = _asset_errors(draft, exclude_pk=asset.pk)
    if icon:
        _clean_upload(images.clean_icon, icon, "icon", errors)
    errors.raise_if_any()


def update_asset(
    *, actor: User, asset: Asset, icon: File | None = None, **fields: Any
) -> Asset | AssetRevision:
    """资产信息 edits; a new icon replaces the old one. The code never changes.

    A listed asset (a version on sale) is not written: the changes are held as its pending
    AssetRevision, which is returned, until a platform admin approves them.
    """
    _require_provider_member(user=actor, tenant=asset.tenant)
    with transaction.atomic():
        live = _lock_reviews(asset=asset)
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
        if live or is_live(asset=asset):
            return _hold_asset_changes(actor=actor, asset=asset, icon=icon, fields=fields)
        before = {field: getattr(asset, field) for field in ASSET_FIELDS}
        _apply_asset_fields(asset, fields)
        errors = _asset_errors(asset, exclude_pk=asset.pk)
        clean_icon = _clean_upload(images.clean_icon, icon, "icon", errors) if icon else None
        errors.raise_if_any()
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
            raise _not_saved(
                _asset_errors(asset, exclude_pk=asset.pk),
                message=_("This asset could not be saved; please try again."),
                code=AssetsErrorCode.ASSET_NOT_SAVED,
            ) from None
        except BaseException:
            saved.discard()
            raise
        if clean_icon is not None:
            _delete_files_on_commit(old_icon)
    return asset


def _screenshot_room(*, asset: Asset, revision: AssetRevision | None) -> int:
    """How many more screenshots fit: the live ones, less held removals, plus held adds."""
    count = Screenshot.objects.filter(asset=asset).count()
    for entry in revision.screenshots if revision is not None else []:
        count += 1 if entry["action"] == "add" else -1
    return Screenshot.MAX_PER_ASSET - count


def _too_many_screenshots() -> ValidationError:
    return invalid(
        _("An asset has at most %(max)s screenshots; remove one first.")
        % {"max": Screenshot.MAX_PER_ASSET},
        code=AssetsErrorCode.TOO_MANY_SCREENSHOTS,
        field="image",
    )


def add_screenshot(*, actor: User, asset: Asset, image: File | None) -> Screenshot | AssetRevision:
    """One more screenshot, refused past two (the database refuses too).

    On a listed asset the screenshot is stored with its pending revision (returned) and
    shown to buyers only once approved.
    """
    _require_provider_member(user=actor, tenant=asset.tenant)
    if not image:
        raise invalid(
            _("Choose a JPG or PNG image."), code=AssetsErrorCode.IMAGE_REQUIRED, field="image"
        )
    try:
        clean = images.clean_screenshot(image)
    except ValidationError as exc:
        raise _on_field(exc, "image") from None
    saved = _SavedFiles()
    try:
        with transaction.atomic():
            live = _lock_reviews(asset=asset)
            asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
            if live or is_live(asset=asset):
                revision = _pending_revision(asset=asset, actor=actor)
                if _screenshot_room(asset=asset, revision=revision) < 1:
                    raise _too_many_screenshots()
                held = Screenshot(asset=asset, width=clean.width, height=clean.height)
                held.image.save(clean.content.name, clean.content, save=False)
                saved.add(held.image)
                revision.screenshots = [
                    *revision.screenshots,
                    {
                        "action": "add",
                        "key": uuid.uuid4().hex[:12],
                        "image": held.image.name,
                        "width": clean.width,
                        "height": clean.height,
                    },
                ]
                _store_revision(
                    actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
                )
                return revision
            taken = set(Screenshot.objects.filter(asset=asset).values_list("position", flat=True))
            free = [p for p in range(Screenshot.MAX_PER_ASSET) if p not in taken]
            if not free:
                raise _too_many_screenshots()
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


def remove_screenshot(*, actor: User, screenshot: Screenshot) -> AssetRevision | None:
    """A screenshot goes at once; its file once the transaction commits.

    On a listed asset buyers keep seeing it: the removal waits in the pending revision
    (returned) until approved.
    """
    asset = screenshot.asset
    _require_provider_member(user=actor, tenant=asset.tenant)
    with transaction.atomic():
        live = _lock_reviews(asset=asset)
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
        if live or is_live(asset=asset):
            revision = _pending_revision(asset=asset, actor=actor)
            if not any(entry.get("screenshot") == screenshot.pk for entry in revision.screenshots):
                revision.screenshots = [
                    *revision.screenshots,
                    {
                        "action": "remove",
                        "key": uuid.uuid4().hex[:12],
                        "screenshot": screenshot.pk,
                    },
                ]
                _store_revision(
                    actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
                )
            return revision
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
    return None


def undo_screenshot_change(*, actor: User, asset: Asset, key: str) -> AssetRevision | None:
    """Takes one held screenshot change back: a held new screenshot goes (its file too), a
    held removal is cancelled. Returns the revision, None once nothing is left to review."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    with transaction.atomic():
        _lock_reviews(asset=asset)
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
        revision = _pending_revision(asset=asset, actor=actor)
        entry = next((e for e in revision.screenshots if e.get("key") == key), None)
        if entry is None:
            raise NotFound(_("No such screenshot change is waiting for review."))
        revision.screenshots = [e for e in revision.screenshots if e.get("key") != key]
        if entry["action"] == "add":
            _delete_files_on_commit(entry["image"])
        held = _store_revision(
            actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
        )
    return revision if held else None


# --- plans --------------------------------------------------------------------------------


def plan_is_ordered(plan: Plan) -> bool:
    """Whether any order refers to this plan, so it may only be archived, never deleted.

    The orders app answers through `signals.plan_usage`; with no receiver it is False.
    """
    return bool(plan_is_referenced(plan))


def create_plan(
    *,
    actor: User,
    asset: Asset,
    name: str,
    price: Decimal,
    duration_value: int,
    duration_unit: str,
) -> Plan | AssetRevision:
    """+ 添加规格: a new plan goes last on the asset's page.

    On a listed asset the plan is held in its pending revision (returned) until approved.
    """
    _require_provider_member(user=actor, tenant=asset.tenant)
    plan = _plan_instance(
        asset=asset,
        name=name,
        price=price,
        duration_value=duration_value,
        duration_unit=duration_unit,
    )
    if is_live(asset=asset):
        return _hold_plan(actor=actor, asset=asset, plan=plan, original=None)
    _plan_errors(plan).raise_if_any()
    try:
        with transaction.atomic():
            plan.position = (
                Plan.objects.filter(asset=asset).aggregate(top=Max("position"))["top"] or 0
            ) + 1
            plan.save()
            refresh_storefront_fields(asset_id=asset.pk)
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
        raise _not_saved(
            _plan_errors(plan),
            message=_("This plan could not be saved; please try again."),
            code=AssetsErrorCode.PLAN_NOT_SAVED,
        ) from None
    return plan


def update_plan(*, actor: User, plan: Plan, **fields: Any) -> Plan | AssetRevision:
    """A new price applies to new orders only: orders keep the price they were placed at.

    On a listed asset the change is held in its pending revision (returned) until approved.
    """
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown plan fields: {', '.join(sorted(unknown))}")
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    if is_live(asset=plan.asset):
        changed = copy.copy(plan)
        for field, value in fields.items():
            setattr(changed, field, value.strip() if field == "name" and value else value)
        return _hold_plan(actor=actor, asset=plan.asset, plan=changed, original=plan)
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        before = {field: getattr(plan, field) for field in PLAN_FIELDS}
        for field, value in fields.items():
            setattr(plan, field, value.strip() if field == "name" and value else value)
        _plan_errors(plan, exclude_pk=plan.pk).raise_if_any()
        plan.price = Decimal(str(plan.price)).quantize(Decimal("0.01"))
        changes = _changes(plan, PLAN_FIELDS, before)
        try:
            with transaction.atomic():
                plan.save()
        except IntegrityError:
            raise _not_saved(
                _plan_errors(plan, exclude_pk=plan.pk),
                message=_("This plan could not be saved; please try again."),
                code=AssetsErrorCode.PLAN_NOT_SAVED,
            ) from None
        if "price" in changes:
            refresh_storefront_fields(asset_id=plan.asset_id)
        if changes:
            record_audit(
                actor=actor,
                action="plan.updated",
                obj=plan,
                tenant=plan.asset.tenant,
                changes=changes,
            )
    return plan


PLAN_ACTIONS = {"archive": "archived", "restore": "active", "delete": "deleted"}


def _hold_plan_action(*, actor: User, plan: Plan, action: str) -> Plan | AssetRevision:
    """archive_plan / restore_plan / delete_plan on a listed asset: the plan's new state
    waits in the revision (returned); asking for the state it has live drops the held
    move (the live plan is returned when nothing is left to review)."""
    with transaction.atomic():
        _lock_reviews(asset=plan.asset)
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=plan.asset_id)
        revision = _pending_revision(asset=asset, actor=actor)
        plan = Plan.objects.select_related("asset__tenant").get(pk=plan.pk)
        if action == "restore" and plan.is_archived:
            restored = copy.copy(plan)
            restored.is_archived = False
            errors = _plan_errors(restored, exclude_pk=plan.pk)
            if "name" not in errors and any(
                str(entry["name"]).lower() == plan.name.lower()
                for entry in revision.plans
                if entry.get("plan") != plan.pk
            ):
                errors.add(
                    "name",
                    _("Your changes waiting for review already have a plan called “%(name)s”.")
                    % {"name": plan.name},
                    code=AssetsErrorCode.PLAN_NAME_TAKEN,
                )
            errors.raise_if_any()
        others = [entry for entry in revision.plan_actions if entry["plan"] != plan.pk]
        live_state = "archived" if plan.is_archived else "active"
        moved = PLAN_ACTIONS[action] != live_state
        revision.plan_actions = others + ([{"plan": plan.pk, "action": action}] if moved else [])
        if action == "delete":  # a plan that goes takes its held edit with it
            revision.plans = [entry for entry in revision.plans if entry.get("plan") != plan.pk]
        held = _store_revision(
            actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
        )
    return revision if held else plan


def archive_plan(*, actor: User, plan: Plan) -> Plan | AssetRevision:
    """Archived plans are no longer sold; existing orders keep pointing at them.

    On a listed asset the plan stays on sale until the archiving (held in the pending
    revision, returned) is approved.
    """
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    if is_live(asset=plan.asset):
        return _hold_plan_action(actor=actor, plan=plan, action="archive")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        if plan.is_archived:
            return plan
        plan.is_archived = True
        plan.archived_at = timezone.now()
        plan.save(update_fields=["is_archived", "archived_at", "updated_at"])
        refresh_storefront_fields(asset_id=plan.asset_id)
        record_audit(
            actor=actor,
            action="plan.archived",
            obj=plan,
            tenant=plan.asset.tenant,
            from_state="active",
            to_state="archived",
        )
    return plan


def restore_plan(*, actor: User, plan: Plan) -> Plan | AssetRevision:
    """Sell an archived plan again, unless an active plan took its name meanwhile.

    On a listed asset it goes back on sale once the held restoring is approved.
    """
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    if is_live(asset=plan.asset):
        return _hold_plan_action(actor=actor, plan=plan, action="restore")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("asset__tenant").get(pk=plan.pk)
        if not plan.is_archived:
            return plan
        plan.is_archived = False
        _plan_errors(plan, exclude_pk=plan.pk).raise_if_any()
        plan.archived_at = None
        plan.save(update_fields=["is_archived", "archived_at", "updated_at"])
        refresh_storefront_fields(asset_id=plan.asset_id)
        record_audit(
            actor=actor,
            action="plan.restored",
            obj=plan,
            tenant=plan.asset.tenant,
            from_state="archived",
            to_state="active",
        )
    return plan


def _plan_ordered_refusal() -> ValidationError:
    return invalid(
        _("This plan has been ordered, so it cannot be deleted; archive it instead."),
        code=AssetsErrorCode.PLAN_ORDERED,
        field="plan",
    )


def delete_plan(*, actor: User, plan: Plan) -> AssetRevision | None:
    """Only a plan nobody ordered can go; an ordered one is archived instead.

    On a listed asset buyers keep seeing it until the held deletion (in the pending
    revision, returned) is approved.
    """
    _require_provider_member(user=actor, tenant=plan.asset.tenant)
    refusal = _plan_ordered_refusal()
    if plan_is_ordered(plan):
        raise refusal
    if is_live(asset=plan.asset):
        held = _hold_plan_action(actor=actor, plan=plan, action="delete")
        return held if isinstance(held, AssetRevision) else None
    asset_id = plan.asset_id
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
            refresh_storefront_fields(asset_id=asset_id)
    except ProtectedError:
        raise refusal from None
    return None


# --- revisions: edits of a listed asset held for review -----------------------------------

LIVE_STATUSES = (AssetVersion.Status.ON_SALE, AssetVersion.Status.DELISTING_REVIEW)


def is_live(*, asset: Asset) -> bool:
    """Buyers can see it (a version on sale): its public page changes only through review."""
    return AssetVersion.objects.filter(asset_id=asset.pk, status__in=LIVE_STATUSES).exists()


def _lock_reviews(*, asset: Asset) -> bool:
    """Before a held edit locks the asset: the approvals app locks its pending requests
    (the lock order of a decision). Returns whether the asset is live."""
    live = is_live(asset=asset)
    if live:
        revision_locking.send(sender=AssetRevision, asset_id=asset.pk)
    return live


def _revised_asset(asset: Asset, revision: AssetRevision) -> Asset:
    """The asset as it would read with the revision's fields applied (not saved)."""
    revised = copy.copy(asset)
    revised._state = copy.copy(asset._state)
    revised._state.fields_cache = {}  # its own related-object cache: the category may change
    for field, value in revision.fields.items():
        setattr(revised, "category_id" if field == "category" else field, value)
    return revised


def _pending_revision(*, asset: Asset, actor: User) -> AssetRevision:
    """The asset's one pending revision, locked, or a new one (not yet saved)."""
    revision = (
        AssetRevision.objects.select_for_update()
        .filter(asset_id=asset.pk, status=AssetRevision.Status.PENDING)
        .first()
    )
    return revision or AssetRevision(asset=asset, created_by=actor)


def _store_revision(*, actor: User, asset: Asset, revision: AssetRevision, action: str) -> bool:
    """Save, audit, tell approvals: True. Once nothing differs from the live asset, drop
    it (a pending one is withdrawn with its request): False."""
    if revision.is_empty:
        if revision.pk is not None:
            revision.status = AssetRevision.Status.WITHDRAWN
            revision.decided_at = timezone.now()
            revision.save(update_fields=["status", "decided_at", "updated_at"])
            revision_discarded.send(sender=AssetRevision, revision=revision, actor=actor)
        return False
    revision.save()
    record_audit(
        actor=actor,
        action=action,
        obj=asset,
        tenant=asset.tenant,
        changes={"revision": revision.pk, "fields": sorted(revision.fields)}
        | ({"plans": len(revision.plans)} if revision.plans else {})
        | ({"screenshots": len(revision.screenshots)} if revision.screenshots else {})
        | ({"plan_actions": revision.plan_actions} if revision.plan_actions else {}),
    )
    revision_submitted.send(sender=AssetRevision, revision=revision, actor=actor)
    return True


def _hold_asset_changes(
    *, actor: User, asset: Asset, icon: File | None, fields: Mapping[str, Any]
) -> Asset | AssetRevision:
    """update_asset on a listed asset: validate as a direct edit would, keep the difference
    (the live asset when no difference is left)."""
    revision = _pending_revision(asset=asset, actor=actor)
    revised = _revised_asset(asset, revision)
    _apply_asset_fields(revised, fields)
    errors = _asset_errors(revised, exclude_pk=asset.pk)
    clean_icon = _clean_upload(images.clean_icon, icon, "icon", errors) if icon else None
    errors.raise_if_any()
    attnames = {field: "category_id" if field == "category" else field for field in ASSET_FIELDS}
    revision.fields = {
        field: getattr(revised, attname)
        for field, attname in attnames.items()
        if getattr(revised, attname) != getattr(asset, attname)
    }
    saved = _SavedFiles()
    try:
        with transaction.atomic():
            if clean_icon is not None:
                old_icon = revision.icon.name if revision.icon else ""
                revision.icon.save(clean_icon.content.name, clean_icon.content, save=False)
                saved.add(revision.icon)
                _delete_files_on_commit(old_icon)
            held = _store_revision(
                actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
            )
    except BaseException:
        saved.discard()
        raise
    return revision if held else asset


def _plan_entry(plan: Plan, original: Plan | None) -> dict[str, Any]:
    return {
        "plan": original.pk if original is not None else None,
        "name": plan.name,
        "price": str(Decimal(str(plan.price)).quantize(Decimal("0.01"))),
        "duration_value": int(plan.duration_value),
        "duration_unit": str(plan.duration_unit),
    }


def _hold_plan(
    *, actor: User, asset: Asset, plan: Plan, original: Plan | None
) -> Plan | AssetRevision:
    """create_plan / update_plan on a listed asset: the plan waits in the revision (the
    live plan when an edit leaves nothing to review)."""
    with transaction.atomic():
        _lock_reviews(asset=asset)
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=asset.pk)
        revision = _pending_revision(asset=asset, actor=actor)
        errors = _plan_errors(plan, exclude_pk=original.pk if original is not None else None)
        others = [
            entry
            for entry in revision.plans
            if original is None or entry.get("plan") != original.pk
        ]
        if "name" not in errors and any(
            str(entry["name"]).lower() == plan.name.lower() for entry in others
        ):
            errors.add(
                "name",
                _("Your changes waiting for review already have a plan called “%(name)s”.")
                % {"name": plan.name},
                code=AssetsErrorCode.PLAN_NAME_TAKEN,
            )
        errors.raise_if_any()
        entry = _plan_entry(plan, original)
        unchanged = original is not None and entry == _plan_entry(original, original)
        revision.plans = others + ([] if unchanged else [entry])
        held = _store_revision(
            actor=actor, asset=asset, revision=revision, action="asset.revision_submitted"
        )
    if held or original is None:
        return revision
    return original


def pending_revision(*, asset: Asset) -> AssetRevision | None:
    """The changes of this asset waiting for review, if any."""
    return AssetRevision.objects.filter(
        asset_id=asset.pk, status=AssetRevision.Status.PENDING
    ).first()


def _locked_pending(revision: AssetRevision) -> AssetRevision:
    locked = AssetRevision.objects.select_for_update().select_related("asset").get(pk=revision.pk)
    if not locked.is_pending:
        raise invalid(
            _("These changes are no longer waiting for review."),
            code=AssetsErrorCode.REVISION_CLOSED,
        )
    return locked


def apply_revision(*, actor: User, revision: AssetRevision) -> Asset:
    """Approved: write the held fields, icon, plans, plan moves and screenshots to the live
    asset in one transaction, and recompute the storefront keys (the search document is a
    generated column)."""
    _require_platform_admin(actor)
    with transaction.atomic():
        asset = Asset.objects.select_for_update().select_related("tenant").get(pk=revision.asset_id)
        revision = _locked_pending(revision)
        before = {field: getattr(asset, field) for field in ASSET_FIELDS}
        values = dict(revision.fields)
        if "category" in values:
            values["category"] = Category.objects.filter(pk=values["category"]).first()
        _apply_asset_fields(asset, values)
        errors = _asset_errors(asset, exclude_pk=asset.pk)
        plans: list[tuple[Plan, Plan | None]] = []
        position = Plan.objects.filter(asset=asset).aggregate(top=Max("position"))["top"] or 0
        for entry in revision.plans:
            original = None
            if entry.get("plan") is not None:
                original = (
                    Plan.objects.select_for_update().filter(pk=entry["plan"], asset=asset).first()
                )
                if original is None:
                    continue  # deleted meanwhile: nothing left to change
                plan = original
            else:
                position += 1
                plan = Plan(asset=asset, position=position)
            for field in PLAN_FIELDS:
                setattr(plan, field, entry[field])
            plan.price = Decimal(str(entry["price"]))
            for _field, message, code in _each(
                _plan_errors(plan, exclude_pk=original.pk if original else None)
            ):
                errors.add("plans", f"{plan.name}: {message}", code=code)
            plans.append((plan, original))
        moves = _plan_moves(asset=asset, revision=revision, errors=errors)
        removed, added = _screenshot_changes(asset=asset, revision=revision, errors=errors)
        if errors:
            raise invalid(
                _(
                    "These changes can no longer be applied: %(reasons)s Reject them with the reason."
                )
                % {"reasons": " ".join(message for _f, message, _c in _each(errors))},
                code=AssetsErrorCode.REVISION_NOT_APPLICABLE,
            )
        changes = _changes(asset, ASSET_FIELDS, before)
        old_icon = ""
        if revision.icon:
            old_icon = asset.icon.name
            asset.icon.name = revision.icon.name
            changes["icon"] = [old_icon, asset.icon.name]
        try:
            with transaction.atomic():
                asset.save()
                for plan, _original in plans:
                    plan.save()
                _move_plans(moves)
                _replace_screenshots(asset=asset, removed=removed, added=added)
        except (IntegrityError, ProtectedError):
            raise invalid(
                _("These changes could not be applied; please try again."),
                code=AssetsErrorCode.REVISION_NOT_APPLICABLE,
            ) from None
        if old_icon:
            _delete_files_on_commit(old_icon)
        _delete_files_on_commit(*(shot.image.name for shot in removed))
        refresh_storefront_fields(asset_id=asset.pk)
        revision.status = AssetRevision.Status.APPLIED
        revision.decided_at = timezone.now()
        revision.save(update_fields=["status", "decided_at", "updated_at"])
        record_audit(
            actor=actor,
            action="asset.revision_applied",
            obj=asset,
            tenant=asset.tenant,
            changes=changes
            | {"revision": revision.pk}
            | ({"plans": [f"{p.name}: {p.price} T" for p, _o in plans]} if plans else {})
            | ({"plan_actions": [f"{p.name}: {a}" for p, a in moves]} if moves else {})
            | (
                {"screenshots": {"added": len(added), "removed": len(removed)}}
                if added or removed
                else {}
            ),
        )
    return asset


def _plan_moves(
    *, asset: Asset, revision: AssetRevision, errors: FieldErrors
) -> list[tuple[Plan, str]]:
    """The held archive / restore / delete moves still to make, (plan, action), locked;
    a plan deleted meanwhile is skipped, one that can no longer move is an error."""
    wanted = {entry["plan"]: entry["action"] for entry in revision.plan_actions}
    moves = []
    for plan in Plan.objects.select_for_update().filter(asset=asset, pk__in=wanted):
        action = wanted[plan.pk]
        if action == "delete" and plan_is_ordered(plan):
            errors.add(
                "plans",
                f"{plan.name}: {_plan_ordered_refusal().messages[0]}",
                code=AssetsErrorCode.PLAN_ORDERED,
            )
        elif action == "restore" and plan.is_archived:
            restored = copy.copy(plan)
            restored.is_archived = False
            for _field, message, code in _each(_plan_errors(restored, exclude_pk=plan.pk)):
                errors.add("plans", f"{plan.name}: {message}", code=code)
        moves.append((plan, action))
    return moves


def _move_plans(moves: Sequence[tuple[Plan, str]]) -> None:
    for plan, action in moves:
        if action == "delete":
            plan.delete()
        elif plan.is_archived != (action == "archive"):
            plan.is_archived = action == "archive"
            plan.archived_at = timezone.now() if plan.is_archived else None
            plan.save(update_fields=["is_archived", "archived_at", "updated_at"])


def _screenshot_changes(
    *, asset: Asset, revision: AssetRevision, errors: FieldErrors
) -> tuple[list[Screenshot], list[Mapping[str, Any]]]:
    """(live screenshots to remove, locked; held ones to add), or an error past two."""
    gone = {e["screenshot"] for e in revision.screenshots if e["action"] == "remove"}
    added = [e for e in revision.screenshots if e["action"] == "add"]
    shots = list(Screenshot.objects.select_for_update().filter(asset=asset))
    removed = [shot for shot in shots if shot.pk in gone]
    if len(shots) - len(removed) + len(added) > Screenshot.MAX_PER_ASSET:
        errors.add(
            "screenshots",
            _("At most %(max)s screenshots; got %(count)s.")
            % {"max": Screenshot.MAX_PER_ASSET, "count": len(shots) - len(removed) + len(added)},
            code=AssetsErrorCode.TOO_MANY_SCREENSHOTS,
        )
    return removed, added


def _replace_screenshots(
    *, asset: Asset, removed: Sequence[Screenshot], added: Sequence[Mapping[str, Any]]
) -> None:
    """Removed ones go first, so each held screenshot takes the first free position; the
    held file becomes the live one (it was stored when the provider uploaded it)."""
    Screenshot.objects.filter(pk__in=[shot.pk for shot in removed]).delete()
    taken = set(Screenshot.objects.filter(asset=asset).values_list("position", flat=True))
    free = iter(p for p in range(Screenshot.MAX_PER_ASSET) if p not in taken)
    for entry in added:
        screenshot = Screenshot(
            asset=asset, position=next(free), width=entry["width"], height=entry["height"]
        )
        screenshot.image.name = entry["image"]
        screenshot.save()


def _held_screenshot_files(revision: AssetRevision) -> list[str]:
    return [e["image"] for e in revision.screenshots if e["action"] == "add"]


def close_revision(
    *, actor: User, revision: AssetRevision, status: str, reason: str = ""
) -> AssetRevision:
    """Rejected (by an admin, with the reason) or withdrawn (by the provider): the live
    asset stays as it is; a held icon and held new screenshots are removed."""
    if status == AssetRevision.Status.REJECTED:
        _require_platform_admin(actor)
    elif status == AssetRevision.Status.WITHDRAWN:
        _require_provider_member(user=actor, tenant=revision.asset.tenant)
    else:
        raise ValueError(f"A revision is closed as rejected or withdrawn, not {status!r}.")
    with transaction.atomic():
        revision = _locked_pending(revision)
        revision.status = status
        revision.decided_at = timezone.now()
        revision.decision_reason = reason
        revision.save(update_fields=["status", "decided_at", "decision_reason", "updated_at"])
        if revision.icon:
            _delete_files_on_commit(revision.icon.name)
        _delete_files_on_commit(*_held_screenshot_files(revision))
        record_audit(
            actor=actor,
            action=f"asset.revision_{status}",
            obj=revision.asset,
            tenant=revision.asset.tenant,
            changes={"revision": revision.pk},
            reason=reason,
        )
    return revision


# --- versions -----------------------------------------------------------------------------


def _version_errors(
    *,
    asset: Asset,
    project: Project | None,
    cluster: Cluster | None,
    catalog_source: CatalogSource | None,
    package_name: str | None,
    channels: Iterable[str] | None,
    default_channel: str | None,
) -> tuple[FieldErrors, CatalogPackage | None]:
    """Each choice must fit the ones before it; returns (errors, package)."""
    errors = FieldErrors()
    required = _("This field is required.")
    if not asset.is_operator:
        errors.add(
            NON_FIELD,
            _("Only Operator assets have versions backed by a CatalogSource."),
            code=AssetsErrorCode.NOT_AN_OPERATOR,
        )
        return errors, None
    if project is None:
        errors.add("project", required, code=AssetsErrorCode.VERSION_FIELD_REQUIRED)
    elif project.tenant_id != asset.tenant_id:
        errors.add(
            "project",
            _("Choose a project of %(tenant)s.") % {"tenant": asset.tenant},
            code=AssetsErrorCode.PROJECT_NOT_OF_TENANT,
        )
    if cluster is None:
        errors.add("cluster", required, code=AssetsErrorCode.VERSION_FIELD_REQUIRED)
    elif (
        "project" not in errors
        and not clusters_open_to(project=project).filter(pk=cluster.pk).exists()
    ):
        errors.add(
            "cluster",
            _("The project %(project)s may not use the cluster %(cluster)s.")
            % {"project": project.name if project else "", "cluster": cluster.name},
            code=AssetsErrorCode.CLUSTER_NOT_OPEN,
        )
    if catalog_source is None:
        errors.add("catalog_source", required, code=AssetsErrorCode.VERSION_FIELD_REQUIRED)
    elif catalog_source.tenant_id != asset.tenant_id:
        errors.add(
            "catalog_source",
            _("Choose a CatalogSource of %(tenant)s.") % {"tenant": asset.tenant},
            code=AssetsErrorCode.CATALOG_NOT_OF_TENANT,
        )
    elif cluster is not None and catalog_source.cluster_id != cluster.pk:
        errors.add(
            "catalog_source",
            _("This CatalogSource is not on the cluster %(cluster)s.") % {"cluster": cluster.name},
            code=AssetsErrorCode.CATALOG_NOT_ON_CLUSTER,
        )
    elif catalog_source.state != CatalogSource.State.READY:
        errors.add(
            "catalog_source",
            _("This CatalogSource is not READY (it is %(state)s); wait until it is.")
            % {"state": catalog_source.get_state_display()},
            code=AssetsErrorCode.CATALOG_NOT_READY,
        )
    package = None
    if not package_name:
        errors.add("package_name", required, code=AssetsErrorCode.VERSION_FIELD_REQUIRED)
    elif "catalog_source" not in errors and catalog_source is not None:
        package = (
            selectors.version_packages(catalog_source=catalog_source)
            .filter(name=package_name)
            .first()
        )
        if package is None:
            errors.add(
                "package_name",
                _("The CatalogSource %(catalog)s does not serve a package “%(package)s”.")
                % {"catalog": catalog_source.name, "package": package_name},
                code=AssetsErrorCode.PACKAGE_NOT_FOUND,
            )
    chosen = list(channels or [])
    if not chosen:
        errors.add(
            "channels", _("Choose at least one channel."), code=AssetsErrorCode.CHANNEL_REQUIRED
        )
    elif package is not None:
        known = {c["name"] for c in package.channels}
        unknown = [c for c in chosen if c not in known]
        if unknown:
            errors.add(
                "channels",
                _("The package %(package)s has no channel %(channels)s.")
                % {"package": package.name, "channels": ", ".join(unknown)},
                code=AssetsErrorCode.CHANNEL_UNKNOWN,
            )
    if not default_channel:
        errors.add("default_channel", required, code=AssetsErrorCode.VERSION_FIELD_REQUIRED)
    elif chosen and default_channel not in chosen:
        errors.add(
            "default_channel",
            _("The default channel must be one of the chosen channels."),
            code=AssetsErrorCode.DEFAULT_CHANNEL_NOT_CHOSEN,
        )
    elif package is not None and not (package.channel(default_channel) or {}).get("current_csv"):
        errors.add(
            "default_channel",
            _("The channel %(channel)s has no current CSV.") % {"channel": default_channel},
            code=AssetsErrorCode.CHANNEL_WITHOUT_CSV,
        )
    return errors, package


def _checked_choices(
    *,
    asset: Asset,
    project: Project | None,
    cluster: Cluster | None,
    catalog_source: CatalogSource | None,
    package_name: str,
    channels: Iterable[str],
    default_channel: str,
) -> tuple[Project, Cluster, CatalogSource, CatalogPackage]:
    """The version's choices once they all fit together; else their errors, field by field."""
    errors, package = _version_errors(
        asset=asset,
        project=project,
        cluster=cluster,
        catalog_source=catalog_source,
        package_name=package_name,
        channels=channels,
        default_channel=default_channel,
    )
    errors.raise_if_any()
    # No error means every choice was given: each missing one is an error above.
    assert project is not None and cluster is not None and catalog_source is not None
    assert package is not None
    return project, cluster, catalog_source, package


def _version_from_csv(channel: Mapping[str, Any]) -> tuple[str, str]:
    """The version number is the channel head's: its `version`, else the CSV name's `.vX`."""
    csv_name = channel.get("current_csv", "")
    version = channel.get("version") or ""
    if not version and ".v" in csv_name:
        version = csv_name.rsplit(".v", 1)[1]
    return version or csv_name, csv_name


def _fill_version(
    version: AssetVersion,
    *,
    package: CatalogPackage,
    channels: Iterable[str],
    default_channel: str,
) -> None:
    channel = package.channel(default_channel) or {}
    wanted = set(channels)
    version.package_name = package.name
    version.channels = [c["name"] for c in package.channels if c["name"] in wanted]
    version.default_channel = default_channel
    version.version, version.csv_name = _version_from_csv(channel)
    version.provided_apis = list(channel.get("provided_apis") or [])
    version.channel_heads = {
        c["name"]: {
            "csv": c.get("current_csv", ""),
            "version": c.get("version", ""),
            "install_modes": list(c.get("install_modes") or []),
        }
        for c in package.channels
        if c["name"] in wanted
    }


VERSION_FIELDS = [
    "project_id",
    "cluster_id",
    "catalog_source_id",
    "package_name",
    "channels",
    "default_channel",
    "version",
    "csv_name",
    "channel_heads",
]


def create_version(
    *,
    actor: User,
    asset: Asset,
    project: Project | None,
    cluster: Cluster | None,
    catalog_source: CatalogSource | None,
    package_name: str,
    channels: Sequence[str],
    default_channel: str,
) -> AssetVersion:
    """创建版本: a draft pointing at a READY catalog's package; listing is the approvals issue's."""
    _require_provider_member(user=actor, tenant=asset.tenant)
    project, cluster, catalog_source, package = _checked_choices(
        asset=asset,
        project=project,
        cluster=cluster,
        catalog_source=catalog_source,
        package_name=package_name,
        channels=channels,
        default_channel=default_channel,
    )
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
        scans.refresh_version_images(
            version=version,
            images=scans.wanted_images(
                version=version, channel=package.channel(default_channel) or {}
            ),
        )
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
    *,
    actor: User,
    version: AssetVersion,
    project: Project | None,
    cluster: Cluster | None,
    catalog_source: CatalogSource | None,
    package_name: str,
    channels: Sequence[str],
    default_channel: str,
) -> AssetVersion:
    """编辑: only a draft changes; what was submitted or sold stays as reviewed."""
    _require_provider_member(user=actor, tenant=version.asset.tenant)
    with transaction.atomic():
        version = (
            AssetVersion.objects.select_for_update()
            .select_related("asset__tenant")
            .get(pk=version.pk)
        )
        if not version.is_editable:
            raise invalid(
                _("Only a draft version can be edited; this one is “%(status)s”.")
                % {"status": version.get_status_display()},
                code=AssetsErrorCode.VERSION_NOT_EDITABLE,
            )
        project, cluster, catalog_source, package = _checked_choices(
            asset=version.asset,
            project=project,
            cluster=cluster,
            catalog_source=catalog_source,
            package_name=package_name,
            channels=channels,
            default_channel=default_channel,
        )
        before = {field: getattr(version, field) for field in VERSION_FIELDS}
        version.project, version.cluster, version.catalog_source = project, cluster, catalog_source
        _fill_version(version, package=package, channels=channels, default_channel=default_channel)
        changes = _changes(version, VERSION_FIELDS, before)
        version.save()
        scans.refresh_version_images(
            version=version,
            images=scans.wanted_images(
                version=version, channel=package.channel(default_channel) or {}
            ),
        )
        if changes:
            record_audit(
                actor=actor,
                action="version.updated",
                obj=version,
                tenant=version.asset.tenant,
                changes=changes,
            )
    return version


def delete_version(*, actor: User, version: AssetVersion) -> None:
    """删除版本: drafts and delisted versions only; anything in review or on sale stays."""
    _require_provider_member(user=actor, tenant=version.asset.tenant)
    with transaction.atomic():
        version = (
            AssetVersion.objects.select_for_update()
            .select_related("asset__tenant")
            .get(pk=version.pk)
        )
        if not version.is_deletable:
            raise invalid(
                _("Only draft or delisted versions can be deleted; this one is “%(status)s”.")
                % {"status": version.get_status_display()},
                code=AssetsErrorCode.VERSION_NOT_DELETABLE,
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
            raise invalid(
                _("This version is still referenced (orders or installations); it stays."),
                code=AssetsErrorCode.VERSION_IN_USE,
            ) from None


# --- categories (platform admins) ---------------------------------------------------------

CATEGORY_FIELDS = ["slug", "name_en", "name_zh", "position"]


def _category_errors(category: Category) -> FieldErrors:
    errors = _model_errors(category, code=AssetsErrorCode.CATEGORY_INVALID)
    if category.slug and (
        Category.objects.filter(slug=category.slug).exclude(pk=category.pk).exists()
    ):
        errors.add(
            "slug",
            _("A category with the slug “%(slug)s” exists.") % {"slug": category.slug},
            code=AssetsErrorCode.CATEGORY_SLUG_TAKEN,
        )
    return errors


def create_category(
    *, actor: User, slug: str, name_en: str, name_zh: str, position: int = 0
) -> Category:
    """A new storefront shelf (资产分类); platform admins only."""
    _require_platform_admin(actor)
    category = Category(slug=slug, name_en=name_en, name_zh=name_zh, position=position)
    _category_errors(category).raise_if_any()
    with transaction.atomic():
        category.save()
        record_audit(actor=actor, action="category.created", obj=category)
    return category


def update_category(*, actor: User, category: Category, **fields: Any) -> Category:
    """Renames or reorders a shelf; platform admins only."""
    _require_platform_admin(actor)
    with transaction.atomic():
        category = Category.objects.select_for_update().get(pk=category.pk)
        before = {field: getattr(category, field) for field in CATEGORY_FIELDS}
        for field, value in fields.items():
            if field not in CATEGORY_FIELDS:
                raise TypeError(f"Unknown category field: {field}")
            setattr(category, field, value)
        _category_errors(category).raise_if_any()
        category.save()
        record_audit(
            actor=actor,
            action="category.updated",
            obj=category,
            changes=_changes(category, CATEGORY_FIELDS, before),
        )
    return category


def delete_category(*, actor: User, category: Category) -> None:
    """A category that assets use stays: they would lose their shelf."""
    _require_platform_admin(actor)
    try:
        with transaction.atomic():
            record_audit(actor=actor, action="category.deleted", obj=category)
            category.delete()
    except ProtectedError:
        raise invalid(
            _("Assets use the category “%(name)s”; move them to another category first.")
            % {"name": category.name},
            code=AssetsErrorCode.CATEGORY_IN_USE,
        ) from None
