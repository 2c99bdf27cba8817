"""Writes a scan report onto the image it is of: shared by uploads and the scanner job."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import record_audit
from core.errors import invalid

from .errors import AssetsErrorCode
from .models import AssetVersion, ImageScan, VersionImage
from .trivy import TrivyReport, matches


def image_of_report(*, images: Iterable[VersionImage], report: TrivyReport) -> VersionImage:
    """The version's image the report is of (ArtifactName / RepoTags / RepoDigests)."""
    images = list(images)
    for image in images:
        if matches(report, reference=image.reference, digest=image.digest):
            return image
    raise invalid(
        _(
            "This report is of %(artifact)s, which is not an image of this version "
            "(its images: %(images)s)."
        )
        % {
            "artifact": report.artifact_name,
            "images": ", ".join(i.reference for i in images) or _("none"),
        },
        code=AssetsErrorCode.SCAN_REPORT_NO_IMAGE,
        field="report",
    )


def record_report(
    *,
    version: AssetVersion,
    report: TrivyReport,
    source: str,
    actor: User | None,
    image: VersionImage | None = None,
) -> ImageScan:
    """The image's scan is replaced by this report's, counts and findings, in one transaction."""
    if image is None:
        image = image_of_report(images=version.images.all(), report=report)
    counts = report.counts()
    with transaction.atomic():
        scan, _created = ImageScan.objects.update_or_create(
            image=image,
            defaults={
                "source": source,
                "artifact_name": report.artifact_name,
                "artifact_id": report.image_id,
                "report_created_at": report.created_at,
                "critical": counts["CRITICAL"],
                "high": counts["HIGH"],
                "medium": counts["MEDIUM"],
                "low": counts["LOW"],
                "unknown": counts["UNKNOWN"],
                "findings": report.findings,
                "scanned_by": actor,
            },
        )
        if image.scan_error:
            image.scan_error = ""
            image.save(update_fields=["scan_error"])
        record_audit(
            actor=actor,
            action="image.scanned",
            obj=image,
            tenant=version.asset.tenant,
            changes={"source": source, **{k.lower(): v for k, v in counts.items()}},
        )
    return scan


def record_scan_error(*, image: VersionImage, error: str) -> None:
    """The scanner could not scan the image: the image stays "not scanned", with why."""
    VersionImage.objects.filter(pk=image.pk).update(scan_error=error[:2000])
