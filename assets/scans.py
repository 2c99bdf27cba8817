"""The scan services: a version's images kept from its bundle, reports uploaded onto them.

The images are what the version's CSV runs (`clusters.bundle_images`, cached with the
package) plus the catalog image itself, as the seed's table lists it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.guards import require_member
from accounts.models import User
from clusters.bundle_images import repository_name
from core.errors import invalid
from core.jobs import enqueue_on_commit

from . import tasks
from .errors import AssetsErrorCode
from .models import AssetVersion, ImageScan, VersionImage
from .scan_records import record_report
from .trivy import ReportError, parse_report


def wanted_images(*, version: AssetVersion, channel: Mapping[str, Any]) -> list[dict[str, str]]:
    """The bundle's images of the default channel's head, then the catalog image."""
    rows = [dict(i) for i in channel.get("images") or [] if i.get("reference")]
    catalog_image = version.catalog_source.image
    if catalog_image and all(r["reference"] != catalog_image for r in rows):
        rows.append(
            {
                "name": repository_name(catalog_image),
                "reference": catalog_image,
                "digest": catalog_image.rsplit("@", 1)[1] if "@" in catalog_image else "",
                "role": VersionImage.Role.CATALOG,
            }
        )
    return rows


def refresh_version_images(*, version: AssetVersion, images: Sequence[Mapping[str, str]]) -> None:
    """Inside the caller's transaction: images no longer in the bundle go (their scans with
    them), new ones come "not scanned", kept ones keep their scan; then the scanner runs."""
    wanted = {i["reference"]: i for i in images}
    VersionImage.objects.filter(version=version).exclude(reference__in=list(wanted)).delete()
    kept = set(VersionImage.objects.filter(version=version).values_list("reference", flat=True))
    roles = set(VersionImage.Role.values)
    for position, (reference, row) in enumerate(wanted.items()):
        fields = {
            "name": row.get("name") or repository_name(reference),
            "digest": row.get("digest", ""),
            "role": row.get("role") if row.get("role") in roles else VersionImage.Role.OPERAND,
            "position": position,
        }
        if reference in kept:
            VersionImage.objects.filter(version=version, reference=reference).update(**fields)
        else:
            VersionImage.objects.create(version=version, reference=reference, **fields)
    if settings.IMAGE_SCANNER_COMMAND and wanted:
        enqueue_on_commit(tasks.scan_version_images, version.pk)


def upload_report(
    *, actor: User, version: AssetVersion, raw: bytes, source: str = ImageScan.Source.UPLOAD
) -> ImageScan:
    """上传扫描报告: a Trivy JSON report onto the version's image it is of; a malformed,
    oversized or foreign report is refused with the reason and nothing is stored."""
    require_member(
        user=actor,
        tenant=version.asset.tenant,
        message=_("You are not a member of %(tenant)s.") % {"tenant": version.asset.tenant},
    )
    try:
        report = parse_report(raw, max_bytes=settings.IMAGE_SCAN_REPORT_MAX_BYTES)
    except ReportError as exc:
        code = (
            AssetsErrorCode.SCAN_REPORT_TOO_LARGE
            if exc.kind == "too_large"
            else AssetsErrorCode.SCAN_REPORT_INVALID
        )
        raise invalid(str(exc), code=code, field="report") from None
    return record_report(version=version, report=report, source=source, actor=actor)


def report_from_upload(upload: Any) -> bytes:
    """The uploaded file's bytes, read no further than the limit allows (+1 to tell)."""
    if upload is None:
        raise invalid(
            _("Choose a Trivy JSON report file."),
            code=AssetsErrorCode.SCAN_REPORT_INVALID,
            field="report",
        )
    limit = settings.IMAGE_SCAN_REPORT_MAX_BYTES
    try:
        upload.seek(0)
        return bytes(upload.read(limit + 1))
    except (OSError, ValueError) as exc:
        raise invalid(str(exc), code=AssetsErrorCode.SCAN_REPORT_INVALID, field="report") from None
