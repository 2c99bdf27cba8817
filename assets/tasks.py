"""Worker jobs of the assets app: thin, they load by id and call the scanner and a record."""

from __future__ import annotations

import logging
import shlex
import subprocess

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError

from core.errors import error_text

from . import scan_records, uploads
from .models import VersionImage
from .trivy import ReportError, parse_report

logger = logging.getLogger(__name__)


def scanner_argv(command: str, reference: str) -> list[str]:
    """The command split like a shell would, `{image}` replaced in each word; no shell runs,
    so a reference can never inject anything."""
    words = shlex.split(command)
    if not any("{image}" in w for w in words):
        words.append("{image}")
    return [w.replace("{image}", reference) for w in words]


def scan_image(image: VersionImage, *, command: str) -> str:
    """Runs the scanner for one image; "" when its report was recorded, else the error."""
    argv = scanner_argv(command, image.reference)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=settings.IMAGE_SCANNER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        error = f"{argv[0]}: {exc}"
    else:
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            error = f"{argv[0]} exited with {done.returncode}: {stderr[-500:]}"
        else:
            try:
                report = parse_report(done.stdout, max_bytes=settings.IMAGE_SCAN_REPORT_MAX_BYTES)
                scan_records.record_report(
                    version=image.version, report=report, source="scanner", actor=None, image=image
                )
                return ""
            except ReportError as exc:
                error = str(exc)
            except ValidationError as exc:
                error = error_text(exc)
    scan_records.record_scan_error(image=image, error=error)
    logger.warning("image scan of %s failed: %s", image.reference, error)
    return error


@shared_task(acks_late=True)
def scan_version_images(version_id: int) -> int:
    """IMAGE_SCANNER_COMMAND for each image of the version; returns how many were scanned."""
    command = settings.IMAGE_SCANNER_COMMAND
    if not command:
        return 0
    images = VersionImage.objects.filter(version_id=version_id).select_related(
        "version__asset__tenant"
    )
    return sum(1 for image in images if not scan_image(image, command=command))


@shared_task(name="assets.tasks.purge_kept_uploads")
def purge_kept_uploads() -> int:
    """Files an abandoned asset form kept (assets.uploads), once their tokens expired."""
    removed = uploads.purge_kept_uploads()
    if removed:
        logger.info("purged %s kept uploads", removed)
    return removed
