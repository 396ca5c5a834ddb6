"""Real sticker files made in the test: Pillow for images, PyAV (libvpx) for webm.

Each function returns the file's bytes; frames differ in colour so an encoder cannot merge
them, and the first frame's colour is known so a test can check the still.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import av
import numpy as np
from PIL import Image

RED = (220, 30, 30)


def _frames(n: int, size: tuple[int, int], mode: str = "RGB") -> list[Image.Image]:
    colours = [RED, (30, 200, 30), (30, 30, 220), (240, 200, 0), (0, 200, 200)]
    return [Image.new(mode, size, colours[i % len(colours)]) for i in range(n)]


def image_bytes(fmt: str, *, frames: int = 1, size: tuple[int, int] = (40, 30),
                mode: str = "RGB") -> bytes:
    """A png / jpeg / gif / webp file, animated when ``frames`` > 1 (gif, webp, png)."""
    images = _frames(frames, size, mode)
    out = io.BytesIO()
    extra = {"save_all": True, "append_images": images[1:], "duration": 100, "loop": 0}
    images[0].save(out, format=fmt, **(extra if frames > 1 else {}))
    return out.getvalue()


def transparent_png(size: tuple[int, int] = (16, 16)) -> bytes:
    """A fully transparent png: its still must come out white."""
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def webm_bytes(*, codec: str = "libvpx-vp9", frames: int = 5,
               size: tuple[int, int] = (32, 24), alpha: bool = False) -> bytes:
    """A real webm video (VP8 with codec="libvpx", VP9 with "libvpx-vp9").

    With ``alpha`` it is a transparent video sticker: the left half of every frame is clear.
    """
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuva420p" if alpha else "yuv420p"
        for image in _frames(frames, size, "RGBA" if alpha else "RGB"):
            pixels = np.array(image)
            if alpha:
                pixels[:, : size[0] // 2, 3] = 0
            frame = av.VideoFrame.from_ndarray(pixels, format="rgba" if alpha else "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming width x height, with a tiny IDAT: a decompression bomb.

    Decoding it would need width * height * 3 bytes (30 GB here); the probe must refuse it
    from the header alone.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def bmp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), RED).save(out, format="BMP")
    return out.getvalue()


def tiff_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), RED).save(out, format="TIFF")
    return out.getvalue()


def random_bytes(n: int = 2048, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stickers_placeholder(sticker_ids: list[str]) -> list:
    """Sticker rows for ids whose images we do not have (the StickerQueries release ships
    none): each row points at one shared tiny PNG, whatever the id's extension says.

    Rows are written directly, not through the importer, so tests of queries and pair rules
    can use the real CSVs' ids. Needs the database.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotation.models import Sticker

    png = image_bytes("PNG", size=(8, 8))
    path = "stickers/placeholder.png"
    if not default_storage.exists(path):
        default_storage.save(path, ContentFile(png))
    rows = [
        Sticker(sticker_id=sid, file=path, still=path, media_type="png",
                content_hash=hashlib.sha256(sid.encode()).hexdigest(), size_bytes=len(png),
                width=8, height=8)
        for sid in sticker_ids
    ]
    return Sticker.objects.bulk_create(rows, batch_size=500)
