"""IMAGE_SCANNER_COMMAND on a real Celery worker (Redis): the worker runs the stand-in
scanner (tests/fixtures/fake_trivy.py prints a report shaped as Trivy's) for each image
of a version and records the reports."""

import shlex
import sys

import pytest

from assets.models import ImageScan
from tests.assets.conftest import (  # noqa: F401  (the provider portal's fixtures)
    category,
    default_cluster,
    image_file,
    make_asset,
    make_catalog,
    make_version,
    provider,
)
from tests.assets.scan_fixtures import OPERATOR, seed_channels
from tests.conftest import wait_until
from tests.integration.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
FAKE_TRIVY = ROOT / "tests" / "fixtures" / "fake_trivy.py"


def test_the_worker_scans_every_image_with_the_configured_command(
    worker_factory,
    provider,  # noqa: F811
    make_asset,  # noqa: F811
    make_catalog,  # noqa: F811
    make_version,  # noqa: F811
):
    # Made while the command is off here: only the worker has it.
    version = make_version(
        make_asset(provider), catalog=make_catalog(provider, channels=seed_channels())
    )
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRIVY))} image --format json {{image}}"
    worker = worker_factory(IMAGE_SCANNER_COMMAND=command)
    from celery import Celery

    sender = Celery(broker=worker.broker, set_as_current=False)
    sender.send_task("assets.tasks.scan_version_images", args=[version.pk], queue=worker.queue)
    wait_until(
        lambda: ImageScan.objects.filter(image__version=version).count() == 4,
        timeout=60,
        interval=0.2,
        message="the worker to record the four images' reports",
    )
    operator = ImageScan.objects.get(image__reference=OPERATOR)
    assert (operator.critical, operator.high, operator.source) == (1, 1, "scanner")
    assert operator.artifact_id.startswith("sha256:")
