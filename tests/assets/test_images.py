"""Uploads are judged on the decoded image and stored re-encoded, without metadata."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from assets.errors import AssetsErrorCode
from assets.images import clean_icon, clean_screenshot

from .factories import make_image_bytes


def _upload(data, name="x.png"):
    return SimpleUploadedFile(name, data, content_type="image/png")


def _decoded(clean):
    return Image.open(io.BytesIO(clean.content.read()))


@pytest.mark.parametrize(("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpg")])
def test_a_96_pixel_png_or_jpg_is_a_good_icon(image_file, fmt, extension):
    clean = clean_icon(image_file(96, 96, fmt))
    assert (clean.width, clean.height, clean.format) == (96, 96, fmt)
    assert clean.content.name == f"icon.{extension}"
    assert _decoded(clean).size == (96, 96)


@pytest.mark.parametrize(
    ("size", "fmt", "message"),
    [
        ((120, 80), "GIF", "got 120×80 GIF"),
        ((120, 80), "PNG", "got 120×80 PNG"),
        ((96, 96), "GIF", "got 96×96 GIF"),
        ((96, 96), "BMP", "got 96×96 BMP"),
        ((95, 96), "JPEG", "got 95×96 JPEG"),
    ],
)
def test_icon_message_says_what_it_got(image_file, size, fmt, message):
    with pytest.raises(ValidationError) as caught:
        clean_icon(image_file(*size, fmt))
    assert caught.value.code == AssetsErrorCode.BAD_ICON
    assert message in caught.value.messages[0]
    assert "96×96" in caught.value.messages[0]


def test_file_name_and_content_type_are_not_trusted(image_file):
    gif_named_png = image_file(96, 96, "GIF", name="icon.png")
    with pytest.raises(ValidationError, match="GIF"):
        clean_icon(gif_named_png)


def test_not_an_image_is_refused_plainly():
    with pytest.raises(ValidationError, match="not an image") as caught:
        clean_icon(_upload(b"#!/bin/sh\necho pwned\n", "icon.png"))
    assert caught.value.code == AssetsErrorCode.NOT_AN_IMAGE


def test_empty_file_is_refused():
    with pytest.raises(ValidationError, match="empty") as caught:
        clean_icon(_upload(b"", "icon.png"))
    assert caught.value.code == AssetsErrorCode.EMPTY_FILE


def test_truncated_image_is_refused():
    noisy = Image.effect_noise((264, 146), 80).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(ValidationError, match="truncated or damaged") as caught:
        clean_screenshot(_upload(data[: len(data) // 2]))
    assert caught.value.code == AssetsErrorCode.DAMAGED_IMAGE


def test_upload_size_is_capped(settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 1024
    noisy = Image.effect_noise((264, 146), 80).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    with pytest.raises(ValidationError, match="the limit is") as caught:
        clean_screenshot(_upload(buffer.getvalue()))
    assert caught.value.code == AssetsErrorCode.FILE_TOO_LARGE


def test_size_message_names_both_sizes(settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    upload = _upload(b"0" * 10)
    upload.size = 3 * 1024 * 1024
    with pytest.raises(ValidationError) as caught:
        clean_screenshot(upload)
    assert caught.value.messages == ["The file is 3.0 MB; the limit is 2.0 MB."]
    assert caught.value.code == AssetsErrorCode.FILE_TOO_LARGE


def test_decompression_bomb_is_refused_before_decoding(settings, image_file):
    settings.ASSET_IMAGE_MAX_PIXELS = 10_000
    with pytest.raises(ValidationError, match="decompression bomb") as caught:
        clean_screenshot(image_file(200, 200, "PNG"))
    assert caught.value.code == AssetsErrorCode.DECOMPRESSION_BOMB


def test_pillows_own_bomb_guard_is_reported_the_same_way(monkeypatch, settings, image_file):
    settings.ASSET_IMAGE_MAX_PIXELS = 10**9
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # warns above, errors above twice
    with pytest.raises(ValidationError, match="decompression bomb"):
        clean_screenshot(image_file(40, 30, "PNG"))  # 1200 px: Pillow's warning
    with pytest.raises(ValidationError, match="decompression bomb"):
        clean_screenshot(image_file(100, 100, "PNG"))  # 10000 px: Pillow's error


def test_jpeg_metadata_is_stripped():
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS
    data = make_image_bytes(264, 146, "JPEG", exif=exif.tobytes(), comment=b"secret")
    assert b"SpyCam" in data and b"secret" in data
    clean = clean_screenshot(_upload(data, "shot.jpg"))
    stored = clean.content.read()
    assert b"SpyCam" not in stored and b"secret" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


def test_png_text_chunks_are_stripped():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    data = make_image_bytes(264, 146, "PNG", pnginfo=info)
    assert b"<script>" in data
    stored = clean_screenshot(_upload(data)).content.read()
    assert b"<script>" not in stored


def test_trailing_payload_after_the_image_does_not_survive():
    data = make_image_bytes(96, 96, "PNG") + b"<?php system($_GET['c']); ?>"
    stored = clean_icon(_upload(data)).content.read()
    assert b"<?php" not in stored


@pytest.mark.parametrize("mode", ["P", "L", "LA", "I;16", "1"])
def test_unusual_png_modes_are_re_encoded(mode):
    image = Image.new("RGB", (264, 146), (10, 200, 30)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    clean = clean_screenshot(_upload(buffer.getvalue()))
    assert _decoded(clean).size == (264, 146)


def test_cmyk_jpeg_becomes_rgb():
    image = Image.new("CMYK", (264, 146), (0, 100, 200, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    clean = clean_screenshot(_upload(buffer.getvalue(), "shot.jpg"))
    assert _decoded(clean).mode == "RGB"


def test_screenshots_of_any_size_are_accepted_but_only_jpg_or_png(image_file):
    assert clean_screenshot(image_file(1280, 720, "PNG")).width == 1280
    with pytest.raises(ValidationError, match="got 264×146 GIF") as caught:
        clean_screenshot(image_file(264, 146, "GIF"))
    assert caught.value.code == AssetsErrorCode.BAD_SCREENSHOT
