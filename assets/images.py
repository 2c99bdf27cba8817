"""Checking and re-encoding provider uploads (icons, screenshots) with Pillow.

Every check looks at the decoded image, never at the file name or the browser's
content type. What is stored is a fresh encoding of the pixels alone, so metadata
(EXIF with GPS, comments, ICC tricks) and polyglot payloads do not survive.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png"}
ICON_SIZE = (96, 96)
SCREENSHOT_RECOMMENDED_SIZE = (264, 146)


@dataclass
class CleanImage:
    content: ContentFile  # named `<kind>.<ext>`, ready for an ImageField
    width: int
    height: int
    format: str


def _megabytes(size):
    return f"{size / (1024 * 1024):.1f} MB"


def _describe(image):
    return f"{image.width}×{image.height} {image.format or _('unknown format')}"


def _open(upload):
    """Decode fully, or say in plain words why not."""
    limit = settings.ASSET_UPLOAD_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": _megabytes(size), "limit": _megabytes(limit)},
            code="file_too_large",
        )
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": _megabytes(limit)},
            code="file_too_large",
        )
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
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
            code="decompression_bomb",
        ) from None
    except Image.UnidentifiedImageError:
        raise ValidationError(
            _("This is not an image we can read; upload a JPG or PNG file."), code="not_an_image"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError(
            _("The image is truncated or damaged; export it again and upload the new file."),
            code="damaged_image",
        ) from None
    return image


def _reencode(image, *, kind):
    """Only the pixels are kept: a new image, encoded by us."""
    fmt = image.format
    image = ImageOps.exif_transpose(image) or image
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


def clean_icon(upload):
    """资产图标: exactly 96×96 px, JPG or PNG."""
    image = _open(upload)
    if image.format not in ACCEPTED_FORMATS or image.size != ICON_SIZE:
        raise ValidationError(
            _("The icon must be a 96×96 px JPG or PNG image; got %(got)s.")
            % {"got": _describe(image)},
            code="bad_icon",
        )
    return _reencode(image, kind="icon")


def clean_screenshot(upload):
    """资产截图: JPG or PNG of any size (264×146 recommended, shown scaled)."""
    image = _open(upload)
    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError(
            _("Screenshots must be JPG or PNG images; got %(got)s.") % {"got": _describe(image)},
            code="bad_screenshot",
        )
    return _reencode(image, kind="screenshot")
