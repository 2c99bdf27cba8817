"""Test data shared by the asset tests and the browser test."""

import io

from PIL import Image


def make_image_bytes(width=96, height=96, fmt="PNG", color=(200, 60, 40), **save_options):
    """A real image, encoded by Pillow, as a provider would upload it."""
    mode = "RGB" if fmt in ("JPEG", "GIF", "BMP") else "RGBA"
    image = Image.new(mode, (width, height), color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


# What the clusters app caches from the memcached catalog's PackageManifest.
MEMCACHED_CHANNELS = [
    {
        "name": "stable",
        "current_csv": "memcached-operator.v0.0.2",
        "version": "0.0.2",
        "provided_apis": [
            {
                "group": "daas.tenxcloud.com",
                "version": "v1",
                "kind": "MemcachedCluster",
                "name": "memcachedclusters.daas.tenxcloud.com",
                "display_name": "Memcached Cluster",
                "description": "",
            }
        ],
    },
    {
        "name": "alpha",
        "current_csv": "memcached-operator.v0.1.0",
        "version": "",
        "provided_apis": [],
    },
]
