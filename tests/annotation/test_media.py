"""annotation/media.py: sniffing, limits and stills, on real files made in the test (no DB)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from annotation.errors import InputError
from annotation.media import MediaLimits, StickerRejected, media_probe, media_sniff
from tests.annotation import factories

LIMITS = MediaLimits(max_bytes=5_000_000, max_pixels=4096 * 4096, max_frames=100)


def _still(probed) -> Image.Image:
    return Image.open(io.BytesIO(probed.still_png))


@pytest.mark.parametrize(
    ("data_factory", "media_type", "frames"),
    [
        (lambda: factories.image_bytes("PNG"), "png", 1),
        (lambda: factories.image_bytes("JPEG"), "jpeg", 1),
        (lambda: factories.image_bytes("GIF"), "gif", 1),
        (lambda: factories.image_bytes("GIF", frames=3), "gif", 3),
        (lambda: factories.image_bytes("WEBP"), "webp", 1),
        (lambda: factories.image_bytes("WEBP", frames=4), "webp", 4),
        (lambda: factories.webm_bytes(codec="libvpx", frames=5), "webm", 5),
        (lambda: factories.webm_bytes(codec="libvpx-vp9", frames=6), "webm", 6),
    ],
    ids=["png", "jpeg", "gif", "gif-animated", "webp", "webp-animated", "webm-vp8", "webm-vp9"],
)
def test_probe_supported_formats(data_factory, media_type, frames):
    # given a real file of each supported format
    data = data_factory()
    size = (32, 24) if media_type == "webm" else (40, 30)

    # when it is probed
    probed = media_probe(data, name=f"s.{media_type}", limits=LIMITS)

    # then type, size, frame count and animation flag are right, and the still is the
    # first frame as an RGB PNG of the same size
    assert probed.media_type == media_type
    assert (probed.width, probed.height) == size
    assert probed.frame_count == frames
    assert probed.is_animated is (frames > 1)
    still = _still(probed)
    assert still.format == "PNG" and still.mode == "RGB" and still.size == size
    r, g, b = still.getpixel((size[0] // 2, size[1] // 2))
    assert r > 150 and g < 90 and b < 90, "the still is the first (red) frame"


def test_type_is_sniffed_from_content_not_extension():
    # given a JPEG file named .png
    data = factories.image_bytes("JPEG")

    # when it is probed
    probed = media_probe(data, name="really_a_jpeg.png", limits=LIMITS)

    # then it is a jpeg
    assert probed.media_type == "jpeg"
    assert media_sniff(factories.image_bytes("WEBP")[:64]) == "webp"


def test_transparent_sticker_still_is_flattened_on_white():
    # given a fully transparent png
    probed = media_probe(factories.transparent_png(), name="t.png", limits=LIMITS)

    # then its still is white RGB
    assert _still(probed).getpixel((0, 0)) == (255, 255, 255)


def test_transparent_webm_still_is_flattened_on_white():
    # given a VP9 video sticker whose left half is transparent
    data = factories.webm_bytes(alpha=True, size=(32, 32), frames=3)

    # when it is probed
    probed = media_probe(data, name="alpha.webm", limits=LIMITS)

    # then the clear half of the still is white and the drawn half is the first (red) frame
    still = _still(probed)
    assert probed.frame_count == 3
    assert min(still.getpixel((4, 16))) > 240
    r, g, b = still.getpixel((28, 16))
    assert r > 150 and g < 90 and b < 90


@pytest.mark.parametrize(
    ("name", "data_factory", "reason_part"),
    [
        ("truncated.png", lambda: factories.image_bytes("PNG", size=(64, 64))[:-40],
         "corrupt or truncated png"),
        ("random.png", lambda: factories.random_bytes(), "not an image"),
        ("notes.txt", lambda: b"just some text\n" * 10, "not an image"),
        ("empty.png", lambda: b"", "empty file"),
        ("old.bmp", factories.bmp_bytes, "unsupported type: bmp"),
        ("scan.tiff", factories.tiff_bytes, "unsupported type: tiff"),
        ("truncated.webm", lambda: factories.webm_bytes()[:150], "webm"),
    ],
)
def test_bad_files_are_rejected_with_reason(name, data_factory, reason_part):
    # given a bad file
    data = data_factory()

    # when it is probed, then it is rejected by name with a readable reason
    with pytest.raises(StickerRejected) as info:
        media_probe(data, name=name, limits=LIMITS)
    assert info.value.name == name
    assert reason_part in info.value.reason
    assert str(info.value).startswith(f"{name}: ")
    assert isinstance(info.value, InputError)


def test_pixel_bomb_is_rejected_from_the_header_without_decoding():
    # given a 300-byte PNG claiming 100000 x 100000 pixels
    data = factories.png_bomb()
    assert len(data) < 1000

    # when it is probed
    started = time.perf_counter()
    with pytest.raises(StickerRejected) as info:
        media_probe(data, name="bomb.png", limits=LIMITS)

    # then it is refused at once, as over the pixel limit
    assert time.perf_counter() - started < 1.0
    assert "pixels, over the limit" in info.value.reason or "pixel limit" in info.value.reason


def test_pixel_limit_applies_to_webm_too():
    # given a webm of 32x24 = 768 pixels and a limit of 500 pixels
    limits = MediaLimits(max_bytes=LIMITS.max_bytes, max_pixels=500, max_frames=100)

    # when / then
    with pytest.raises(StickerRejected, match="over the limit of 500"):
        media_probe(factories.webm_bytes(), name="v.webm", limits=limits)


def test_byte_limit():
    # given a limit smaller than the file
    data = factories.image_bytes("PNG")
    limits = MediaLimits(max_bytes=len(data) - 1, max_pixels=LIMITS.max_pixels, max_frames=100)

    # when / then
    with pytest.raises(StickerRejected, match="over the limit of"):
        media_probe(data, name="big.png", limits=limits)


@pytest.mark.parametrize(
    "data_factory",
    [lambda: factories.image_bytes("GIF", frames=4), lambda: factories.webm_bytes(frames=4)],
    ids=["gif", "webm"],
)
def test_frame_limit(data_factory):
    # given an animation of 4 frames and a limit of 3
    limits = MediaLimits(max_bytes=LIMITS.max_bytes, max_pixels=LIMITS.max_pixels, max_frames=3)

    # when / then
    with pytest.raises(StickerRejected, match="frames or more, over the limit of 3"):
        media_probe(data_factory(), name="anim", limits=limits)
