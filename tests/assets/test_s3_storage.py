"""STORAGE_BACKEND=s3: an asset icon uploaded through the API lands in an S3-compatible
bucket, not on this replica's disk, and /media/ serves it back from the bucket.

The bucket is moto's S3 server: a separate process speaking S3's HTTP API (signatures,
PUT/GET/HEAD object), standing in for MinIO or AWS S3. It runs on the machine's own
Python (moto needs botocore, whose python-dateutil pin the kubernetes client refuses,
so it cannot share the project's virtualenv); CI fails rather than skips without it.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from minio import Minio
from rest_framework.test import APIClient

from assets.models import Asset
from tests.conftest import free_port

BUCKET = "marketplace-test"
KEYS = {"access_key": "test-access", "secret_key": "test-secret"}


def _python_with_moto():
    candidates = [
        os.environ.get("TEST_MOTO_PYTHON"),
        str(Path(__file__).resolve().parents[2] / ".venv-s3" / "bin" / "python"),  # make test
        str(Path(sys.base_prefix) / "bin" / "python3"),
        "/usr/bin/python3",
    ]
    for python in filter(None, candidates):
        probe = subprocess.run([python, "-c", "import moto.server"], capture_output=True)
        if probe.returncode == 0:
            return python
    if os.environ.get("CI") == "true":
        pytest.fail("an S3-compatible test server is required: `make test` builds .venv-s3")
    pytest.skip("no Python with moto[server] for the S3 test server")


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = subprocess.Popen(
        [_python_with_moto(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("the S3 test server did not start")
            time.sleep(0.1)
    Minio(f"127.0.0.1:{port}", secure=False, **KEYS).make_bucket(BUCKET)
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """The settings STORAGE_BACKEND=s3 with AWS_S3_ENDPOINT_URL=http://… produces."""
    settings.MINIO_STORAGE_ENDPOINT = s3_endpoint
    settings.MINIO_STORAGE_USE_HTTPS = False
    settings.MINIO_STORAGE_ACCESS_KEY = KEYS["access_key"]
    settings.MINIO_STORAGE_SECRET_KEY = KEYS["secret_key"]
    settings.MINIO_STORAGE_REGION = None
    settings.MINIO_STORAGE_MEDIA_BUCKET_NAME = BUCKET
    settings.MINIO_STORAGE_AUTO_CREATE_MEDIA_BUCKET = False
    settings.MINIO_STORAGE_AUTO_CREATE_MEDIA_POLICY = "NONE"
    settings.MINIO_STORAGE_MEDIA_USE_PRESIGNED = True
    settings.SERVE_MEDIA = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "core.storage.S3MediaStorage"},
    }
    return Minio(s3_endpoint, secure=False, **KEYS)


def test_an_icon_uploaded_through_the_api_is_kept_in_the_bucket_and_served_back(
    s3_storage, provider, category, image_file, media_root
):
    api = APIClient()
    api.force_authenticate(provider.owner)
    response = api.post(
        "/api/v1/assets/",
        {
            "category": category.pk,
            "delivery_type": "operator",
            "name": "mem1",
            "summary": "memcached cluster",
            "description": "**fast**",
            "icon": image_file(96, 96),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    name = Asset.objects.get().icon.name
    assert response.json()["icon"] == f"http://testserver/media/{name}"

    # In the bucket (read with S3's own API, past our storage), nothing on the local disk.
    stored = s3_storage.get_object(BUCKET, name)
    body = stored.read()
    stored.close()
    assert body.startswith(b"\x89PNG") or body.startswith(b"\xff\xd8"), body[:8]
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))

    # Any web replica serves it: /media/ streams the object from the bucket.
    served = api.get(f"/media/{name}")
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == body
    assert served["Content-Type"] in ("image/png", "image/jpeg")
    assert served["X-Content-Type-Options"] == "nosniff"

    assert api.get("/media/assets/no-such-icon.png").status_code == 404
    assert api.get("/media/../settings.py").status_code == 404

    # Deleting an upload deletes the object.
    default_storage.delete(name)
    assert not default_storage.exists(name)
