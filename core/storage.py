"""Uploads kept in an S3-compatible bucket (STORAGE_BACKEND=s3), for several web replicas.

A local disk is one replica's own: an icon uploaded through one web process must be
readable through every other, so production keeps uploads in object storage. The bucket
stays private: pages link to /media/<name> as with the filesystem and the web process
streams the object (no presigned link to another origin, which the CSP would refuse).
"""

from urllib.parse import quote

from django.conf import settings
from minio_storage.storage import MinioMediaStorage


class S3MediaStorage(MinioMediaStorage):
    """MinIO's client speaks plain S3: AWS S3, MinIO, Ceph RGW, SeaweedFS, moto…"""

    def url(self, name, *args, **kwargs):
        """Our own /media/ address: served by `serve_media` through this storage."""
        return settings.MEDIA_URL + quote(str(name).lstrip("/"))


def open_upload(name: str):
    """The stored upload `name`, or None when the bucket has no such object (or is gone)."""
    from django.core.files.storage import default_storage
    from minio.error import MinioException

    try:
        upload = default_storage.open(name)
        upload.file  # noqa: B018 - the object is fetched lazily: a missing key shows here
        return upload
    except (OSError, MinioException):  # MinIOError is an OSError; S3Error a MinioException
        return None
