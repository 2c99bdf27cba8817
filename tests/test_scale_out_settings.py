"""What the environment makes of the scale-out settings (production's own settings module,
read in a fresh process the way a replica starts)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ = """
import json
from django.conf import settings
print(json.dumps({
    "default": settings.STORAGES["default"]["BACKEND"],
    "scheduler": settings.CELERY_BEAT_SCHEDULER,
    "serve_media": settings.SERVE_MEDIA,
    "endpoint": getattr(settings, "MINIO_STORAGE_ENDPOINT", None),
    "https": getattr(settings, "MINIO_STORAGE_USE_HTTPS", None),
    "bucket": getattr(settings, "MINIO_STORAGE_MEDIA_BUCKET_NAME", None),
    "region": getattr(settings, "MINIO_STORAGE_REGION", None),
    "expires": {k: v.get("options", {}).get("expire_seconds")
                for k, v in settings.CELERY_BEAT_SCHEDULE.items()},
}))
"""


def production_settings(**env):
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STORAGE_", "AWS_"))
    }
    run = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {READ}"],
        cwd=ROOT,
        env={
            **keep,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "SECRET_KEY": "x" * 60,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_embedded_default_is_the_filesystem_and_beat_keeps_its_schedule_in_the_database():
    read = production_settings()
    assert read["default"] == "django.core.files.storage.FileSystemStorage"
    assert read["scheduler"] == "django_celery_beat.schedulers:DatabaseScheduler"
    assert read["serve_media"] is False and read["endpoint"] is None
    # The database scheduler keeps each job's expiry too (its own option name).
    assert read["expires"]["sync-installations"] == 15


def test_s3_storage_from_the_environment_is_served_through_media():
    read = production_settings(
        STORAGE_BACKEND="s3",
        AWS_S3_ENDPOINT_URL="http://minio.storage:9000",
        AWS_STORAGE_BUCKET_NAME="uploads",
        AWS_S3_REGION_NAME="cn-north-1",
    )
    assert read["default"] == "core.storage.S3MediaStorage"
    assert (read["endpoint"], read["https"]) == ("minio.storage:9000", False)
    assert (read["bucket"], read["region"]) == ("uploads", "cn-north-1")
    assert read["serve_media"] is True


def test_an_unknown_storage_backend_stops_the_process():
    keep = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            **keep,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "SECRET_KEY": "x" * 60,
            "STORAGE_BACKEND": "nfs",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "STORAGE_BACKEND must be filesystem or s3" in run.stderr
