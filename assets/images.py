"""Checking and re-encoding provider uploads (icons, screenshots) with Pillow.

Every check looks at the decoded image, never at the file name or the browser's
content type. What is stored is a fresh encoding of the pixels alone, so metadata
(EXIF with GPS, comments, ICC tricks) and polyglot payloads do not survive.

Each refusal is a plain ValidationError with its `AssetsErrorCode`; the services put it
on the field the upload came in (icon, screenshots, image), keeping the code.
"""

import io
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from .errors import AssetsErrorCode

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png"}
ICON_SIZE = (96, 96)
SCREENSHOT_RECOMMENDED_SIZE = (264, 146)


@dataclass
class CleanImage:
    content: ContentFile  # named `<kind>.<ext>`, ready for an ImageField
    width: int
    height: int
    format: str


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _describe(image: Image.Image) -> str:
    return f"{image.width}×{image.height} {image.format or _('unknown format')}"


def _open(upload: File) -> Image.Image:
    """Decode fully, or say in plain words why not."""
    limit = settings.ASSET_UPLOAD_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": _megabytes(size), "limit": _megabytes(limit)},
            code=AssetsErrorCode.FILE_TOO_LARGE,
        )
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": _megabytes(limit)},
            code=AssetsErrorCode.FILE_TOO_LARGE,
        )
    if not data:
        raise ValidationError(_("The file is empty."), code=AssetsErrorCode.EMPTY_FILE)
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            pixels = image.width * image.height
            if pixels > settings.ASSET_IMAGE_MAX_PIXELS:
                raise Image.DecompressionBombError(pixels)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _(
                "The image is too large in pixels (a decompression bomb?); "
                "at most %(limit)s pixels are accepted."
            )
            % {"limit": f"{settings.ASSET_IMAGE_MAX_PIXELS:,}"},
            code=AssetsErrorCode.DECOMPRESSION_BOMB,
        ) from None
    except Image.UnidentifiedImageError:
        raise ValidationError(
            _("This is not an image we can read; upload a JPG or PNG file."),
            code=AssetsErrorCode.NOT_AN_IMAGE,
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError(
            _("The image is truncated or damaged; export it again and upload the new file."),
            code=AssetsErrorCode.DAMAGED_IMAGE,
        ) from None
    return image


def _reencode(image: Image.Image, *, kind: str) -> CleanImage:
    """Only the pixels are kept: a new image, encoded by us."""
    fmt = image.format or ""
    image = ImageOps.exif_transpose(image) or image
    options: dict[str, Any]
    if fmt == "JPEG":
        pixels = image.convert("RGB")
        clean = Image.frombytes("RGB", pixels.size, pixels.tobytes())
        options = {"quality": 90, "optimize": True}
    else:
        mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA") else "RGBA"
        pixels = image.convert(mode)
        clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
        options = {"optimize": True}
    buffer = io.BytesIO()
    clean.save(buffer, format=fmt, **options)
    extension = ACCEPTED_FORMATS[fmt]
    return CleanImage(
        content=ContentFile(buffer.getvalue(), name=f"{kind}.{extension}"),
        width=clean.width,
        height=clean.height,
        format=fmt,
    )


def clean_icon(upload: File) -> CleanImage:
    """资产图标: exactly 96×96 px, JPG or PNG."""
    image = _open(upload)
    if image.format not in ACCEPTED_FORMATS or image.size != ICON_SIZE:
        raise ValidationError(
            _("The icon must be a 96×96 px JPG or PNG image; got %(got)s.")
            % {"got": _describe(image)},
            code=AssetsErrorCode.BAD_ICON,
        )
    return _reencode(image, kind="icon")


def clean_screenshot(upload: File) -> CleanImage:
    """资产截图: JPG or PNG of any size (264×146 recommended, shown scaled)."""
    image = _open(upload)
    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError(
            _("Screenshots must be JPG or PNG images; got %(got)s.") % {"got": _describe(image)},
            code=AssetsErrorCode.BAD_SCREENSHOT,
        )
    return _reencode(image, kind="screenshot")
