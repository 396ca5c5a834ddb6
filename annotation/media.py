"""Probe a sticker file: what it is, how big, how many frames, and a still for the encoder.

Pure (no Django): bytes in, :class:`ProbedMedia` out, or :class:`StickerRejected` with a
reason a person can act on. The type is sniffed from the content, never from the extension:
real sticker dumps are full of ``.png`` files that are really JPEG or WebP.

Order of checks matters for safety: byte limit, then type, then the *declared* dimensions
(from the header, before any pixel is decoded: decompression bombs), then the frame count,
then decoding the first frame only.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import av
from PIL import Image

from annotation.errors import InputError

# Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS, ~89 M pixels) stays on as a second line of
# defence and is made a hard error in _probe_image; our own, lower limit is checked first.

# Bytes read to sniff a type; the EBML header of a webm names its doctype within the first 64.
SNIFF_BYTES = 64

STILL_BACKGROUND = (255, 255, 255)  # transparent stickers are flattened onto white


class StickerRejected(InputError):
    """A sticker file the import refuses, with a reason the uploader can act on."""


@dataclass(frozen=True)
class MediaLimits:
    """Import limits (settings STICKER_MAX_BYTES / _PIXELS / _FRAMES)."""

    max_bytes: int  # size of the original file
    max_pixels: int  # width * height of one frame, as declared in the header
    max_frames: int  # frames of an animation or video


@dataclass(frozen=True)
class ProbedMedia:
    """What the library stores about a sticker file besides its bytes."""

    media_type: str  # one of Sticker.MediaType: png, jpeg, gif, webp, webm
    width: int
    height: int
    frame_count: int
    is_animated: bool
    still_png: bytes  # first frame, RGB on white, PNG-encoded: what the encoder sees


def media_sniff(head: bytes) -> str | None:
    """The supported media type of a file from its first bytes, or None if not supported."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return "webm"
    return None


# Recognisable but unsupported formats get a precise reason instead of "not an image".
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"BM", 0, "bmp"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"\x00\x00\x01\x00", 0, "ico"),
    (b"%PDF", 0, "pdf"),
    (b"PK\x03\x04", 0, "zip archive (only .zip files given or found in a folder are expanded)"),
    (b"ftyp", 4, "mp4/mov/heic"),
    (b"\x1a\x45\xdf\xa3", 0, "matroska video (only webm is supported)"),
    (b"8BPS", 0, "psd"),
    (b"\x00\x00\x00\x0cjP  ", 0, "jpeg 2000"),
)


def _unsupported_kind(head: bytes) -> str | None:
    for magic, offset, kind in _UNSUPPORTED_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head.lstrip()[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in head[:SNIFF_BYTES]:
        return "svg"
    return None


def media_probe(data: bytes, *, name: str, limits: MediaLimits) -> ProbedMedia:
    """Identify, check and reduce one sticker file; raises :class:`StickerRejected`."""
    if len(data) > limits.max_bytes:
        raise StickerRejected(name, f"file is {len(data):,} bytes, over the limit of "
                                    f"{limits.max_bytes:,}")
    if not data:
        raise StickerRejected(name, "empty file")
    head = data[:SNIFF_BYTES]
    media_type = media_sniff(head)
    if media_type is None:
        kind = _unsupported_kind(head)
        if kind:
            raise StickerRejected(name, f"unsupported type: {kind} "
                                        "(supported: png, jpeg, gif, webp, webm)")
        raise StickerRejected(name, "not an image (content is not png, jpeg, gif, webp or webm)")
    if media_type == "webm":
        return _probe_webm(data, name=name, limits=limits)
    return _probe_image(data, media_type, name=name, limits=limits)


def _check_pixels(name: str, width: int, height: int, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        raise StickerRejected(name, f"corrupt: declared size {width}x{height}")
    if width * height > limits.max_pixels:
        raise StickerRejected(name, f"{width}x{height} = {width * height:,} pixels, over the "
                                    f"limit of {limits.max_pixels:,} (decompression bomb guard)")


def _check_frames(name: str, frames: int, limits: MediaLimits) -> None:
    if frames > limits.max_frames:
        raise StickerRejected(name, f"{frames:,} frames or more, over the limit of "
                                    f"{limits.max_frames:,}")


def _still_png(frame: Image.Image) -> bytes:
    """The frame as RGB on white, PNG-encoded."""
    rgba = frame.convert("RGBA")
    still = Image.new("RGB", rgba.size, STILL_BACKGROUND)
    still.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    still.save(out, format="PNG")
    return out.getvalue()


_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}


def _probe_image(data: bytes, media_type: str, *, name: str, limits: MediaLimits) -> ProbedMedia:
    try:
        with warnings.catch_warnings():
            # Over Pillow's own bomb threshold is a rejection, not a log line.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Image.open reads the header only: the size is known before anything is decoded.
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[media_type]]) as im:
                _check_pixels(name, im.width, im.height, limits)
                frames = int(getattr(im, "n_frames", 1))
                _check_frames(name, frames, limits)
                im.seek(0)
                im.load()
                still = _still_png(im)
                width, height = im.width, im.height
    except StickerRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        reason = f"over the pixel limit (decompression bomb guard): {exc}"
        raise StickerRejected(name, reason) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and malformed files as OSError/SyntaxError/ValueError.
        raise StickerRejected(name, f"corrupt or truncated {media_type}: {exc}") from None
    return ProbedMedia(media_type=media_type, width=width, height=height, frame_count=frames,
                       is_animated=frames > 1, still_png=still)


def _webm_decoder(stream: av.video.stream.VideoStream) -> av.CodecContext:
    """The stream's decoder, or libvpx's when the stream has an alpha channel.

    Transparent video stickers are VP8/VP9 with alpha in a side channel (webm "alpha_mode");
    FFmpeg's native decoders drop it and the background comes out black. libvpx keeps it, so
    the still is flattened onto white like every other transparent sticker.
    """
    metadata = {k.lower(): v for k, v in stream.metadata.items()}
    name = stream.codec_context.name
    if metadata.get("alpha_mode") == "1" and name in ("vp8", "vp9"):
        try:
            return av.CodecContext.create("libvpx-vp9" if name == "vp9" else "libvpx", "r")
        except (av.FFmpegError, ValueError):  # an FFmpeg build without libvpx
            pass
    return stream.codec_context


def _probe_webm(data: bytes, *, name: str, limits: MediaLimits) -> ProbedMedia:
    """Counts frames by demuxing (no decoding) and decodes only the first frame."""
    try:
        with av.open(io.BytesIO(data), mode="r", format="webm") as container:
            if not container.streams.video:
                raise StickerRejected(name, "webm has no video stream")
            stream = container.streams.video[0]
            _check_pixels(name, stream.codec_context.width, stream.codec_context.height, limits)
            decoder = _webm_decoder(stream)
            frames, first = 0, None
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                frames += 1
                _check_frames(name, frames, limits)
                if first is None:
                    first = next(iter(decoder.decode(packet)), None)
            if first is None:  # a decoder that holds frames back gives them up on flush
                first = next(iter(decoder.decode(None)), None)
    except StickerRejected:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise StickerRejected(name, f"corrupt or truncated webm: {exc}") from None
    if first is None:
        raise StickerRejected(name, "corrupt webm: no decodable video frame")
    image = Image.fromarray(first.to_ndarray(format="rgba"), "RGBA")
    _check_pixels(name, image.width, image.height, limits)
    return ProbedMedia(media_type="webm", width=image.width, height=image.height,
                       frame_count=frames, is_animated=frames > 1, still_png=_still_png(image))
