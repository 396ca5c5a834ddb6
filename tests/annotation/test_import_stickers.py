"""stickers_import and ``manage.py import_stickers``: folders, zips, duplicates, bad files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from annotation.models import Sticker
from annotation.services import stickers_import
from tests.annotation import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Each test writes its stickers to its own MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _noise_png(side: int) -> bytes:
    """A PNG of random pixels: incompressible, so about 3 * side * side bytes."""
    pixels = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


GOOD = {
    "a.png": lambda: factories.image_bytes("PNG", size=(40, 30)),
    "b.jpg": lambda: factories.image_bytes("JPEG", size=(41, 30)),
    "c.gif": lambda: factories.image_bytes("GIF", size=(42, 30)),
    "d_anim.gif": lambda: factories.image_bytes("GIF", frames=3, size=(43, 30)),
    "e.webp": lambda: factories.image_bytes("WEBP", size=(44, 30)),
    "f_anim.webp": lambda: factories.image_bytes("WEBP", frames=4, size=(45, 30)),
    "g.webm": lambda: factories.webm_bytes(codec="libvpx-vp9", frames=5),
    "h_vp8.webm": lambda: factories.webm_bytes(codec="libvpx", frames=3, size=(24, 24)),
}
BAD = {
    "truncated.png": (lambda: factories.image_bytes("PNG", size=(64, 64))[:-40], "truncated"),
    "random.png": (factories.random_bytes, "not an image"),
    "readme.txt": (lambda: b"not a sticker\n", "not an image"),
    "bomb.png": (factories.png_bomb, "pixel"),
    "old.bmp": (factories.bmp_bytes, "unsupported type: bmp"),
    "scan.tiff": (factories.tiff_bytes, "unsupported type: tiff"),
    "empty.webp": (lambda: b"", "empty file"),
    "huge.png": (lambda: _noise_png(300), "over the limit of 200,000"),
    "long.gif": (lambda: factories.image_bytes("GIF", frames=12), "over the limit of 8"),
    "cut.webm": (lambda: factories.webm_bytes()[:150], "webm"),
}
# Limits for the folder test, between the good files and the bad ones above.
MAX_BYTES, MAX_FRAMES = 200_000, 8


def _write(folder: Path, files: dict) -> None:
    for name, make in files.items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(make() if callable(make) else make[0]())


def _rejected(report) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in report.rejected)


def test_folder_with_every_format_and_bad_files(tmp_path, media_root, settings):
    # given a folder tree with one file of each format and each kind of bad file, nested:
    # corrupt, not an image, empty, over the byte, pixel or frame limits, unsupported
    settings.STICKER_MAX_BYTES, settings.STICKER_MAX_FRAMES = MAX_BYTES, MAX_FRAMES
    _write(tmp_path / "in" / "good", GOOD)
    _write(tmp_path / "in" / "deep" / "bad", BAD)
    (tmp_path / "in" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")

    # when it is imported
    report = stickers_import(paths=[tmp_path / "in"])

    # then every good file is a sticker and every bad one is rejected by name with its reason
    assert sorted(report.imported) == sorted(GOOD)
    rejected = _rejected(report)
    assert sorted(rejected) == sorted(BAD)
    for name, (_, reason_part) in BAD.items():
        assert reason_part in rejected[name], rejected[name]
    assert report.duplicates == []
    # and the stored rows describe the files
    rows = {s.sticker_id: s for s in Sticker.objects.all()}
    assert {n: rows[n].media_type for n in GOOD} == {
        "a.png": "png", "b.jpg": "jpeg", "c.gif": "gif", "d_anim.gif": "gif", "e.webp": "webp",
        "f_anim.webp": "webp", "g.webm": "webm", "h_vp8.webm": "webm"}
    assert {n: rows[n].frame_count for n in GOOD if rows[n].is_animated} == {
        "d_anim.gif": 3, "f_anim.webp": 4, "g.webm": 5, "h_vp8.webm": 3}
    assert not rows["a.png"].is_animated and not rows["e.webp"].is_animated
    # and the original is stored byte for byte, the still is a PNG of the sticker's size
    for name, sticker in rows.items():
        original = (tmp_path / "in" / "good" / name).read_bytes()
        assert (media_root / sticker.file.name).read_bytes() == original
        assert sticker.content_hash == factories.sha256(original)
        assert sticker.size_bytes == len(original)
        with Image.open(media_root / sticker.still.name) as still:
            assert still.format == "PNG"
            assert still.size == (sticker.width, sticker.height)


def test_duplicates_are_imported_once_also_across_runs(tmp_path):
    # given two files with the same bytes under different names
    data = factories.image_bytes("PNG")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.png").write_bytes(data)
    (folder / "two.png").write_bytes(data)

    # when the folder is imported twice
    first = stickers_import(paths=[folder])
    second = stickers_import(paths=[folder])

    # then one sticker exists; the copy and the second run are reported as duplicates
    assert first.imported == ["one.png"]
    assert first.duplicates == ["two.png: same content as one.png"]
    assert second.imported == []
    assert len(second.duplicates) == 2
    assert Sticker.objects.count() == 1


def test_different_file_with_a_known_name_is_rejected(tmp_path):
    # given a sticker x.png already in the library
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "x.png").write_bytes(factories.image_bytes("PNG", size=(10, 10)))
    stickers_import(paths=[tmp_path / "v1"])

    # when another file with the same name is imported
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "x.png").write_bytes(factories.image_bytes("PNG", size=(11, 11)))
    report = stickers_import(paths=[tmp_path / "v2"])

    # then it is rejected by name and the stored sticker is unchanged
    assert "already in the library" in _rejected(report)["x.png"]
    assert Sticker.objects.get().width == 10


def test_zip_archive_with_nested_folders_and_zip_slip(tmp_path, media_root):
    # given a zip with nested folders, a bad file and members trying to escape (zip slip)
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pack/faces/smile.png", factories.image_bytes("PNG"))
        zf.writestr("pack/anim/wave.webp", factories.image_bytes("WEBP", frames=3))
        zf.writestr("pack/video/hop.webm", factories.webm_bytes())
        zf.writestr("pack/broken.gif", b"GIF89a" + b"\0" * 5)
        zf.writestr("../../evil.png", factories.image_bytes("PNG", size=(9, 9)))
        zf.writestr("/abs.png", factories.image_bytes("PNG", size=(8, 8)))
        zf.writestr("__MACOSX/pack/._smile.png", b"resource fork")

    # when it is imported
    report = stickers_import(paths=[archive])

    # then the stickers are in, the broken and escaping members are rejected by name
    assert sorted(report.imported) == ["hop.webm", "smile.png", "wave.webp"]
    rejected = _rejected(report)
    assert sorted(rejected) == ["abs.png", "broken.gif", "evil.png"]
    assert "unsafe path" in rejected["evil.png"] and "unsafe path" in rejected["abs.png"]
    assert Sticker.objects.get(sticker_id="wave.webp").frame_count == 3
    # and nothing was written outside MEDIA_ROOT
    assert not (tmp_path / "evil.png").exists() and not (media_root.parent / "evil.png").exists()


def test_byte_limit_from_settings(tmp_path, settings):
    # given a byte limit between the sizes of two files
    small = factories.image_bytes("PNG", size=(4, 4))
    large = factories.image_bytes("WEBP", frames=5, size=(64, 64))
    settings.STICKER_MAX_BYTES = len(small) + 10
    assert len(large) > settings.STICKER_MAX_BYTES
    (tmp_path / "small.png").write_bytes(small)
    (tmp_path / "large.webp").write_bytes(large)

    # when the folder is imported
    report = stickers_import(paths=[tmp_path])

    # then the large file is rejected by name and the small one imported
    assert report.imported == ["small.png"]
    assert "over the limit" in _rejected(report)["large.webp"]


def test_many_files_cross_a_batch_boundary(tmp_path, monkeypatch):
    # given more files than one write batch
    monkeypatch.setattr("annotation.services.stickers.STICKER_BATCH_SIZE", 7)
    for i in range(20):
        image = Image.new("RGB", (8, 8), (i * 10, 0, 0))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        (tmp_path / f"{i:03d}.png").write_bytes(buffer.getvalue())

    # when they are imported
    report = stickers_import(paths=[tmp_path])

    # then all are in
    assert len(report.imported) == 20 == Sticker.objects.count()


def test_command_reports_and_exit_status(tmp_path, capsys):
    # given a folder with one good and one bad file
    (tmp_path / "ok.png").write_bytes(factories.image_bytes("PNG"))
    (tmp_path / "bad.png").write_bytes(b"nope")

    # when the command runs
    call_command("import_stickers", str(tmp_path))

    # then it prints the summary and the rejected file by name, and succeeds
    out = capsys.readouterr()
    assert "1 imported, 0 duplicate, 1 rejected" in out.out
    assert "bad.png: not an image" in out.err


def test_command_fails_when_nothing_could_be_read(tmp_path):
    # given only bad files and a missing path
    (tmp_path / "bad.png").write_bytes(b"nope")

    # when / then the command exits with an error
    with pytest.raises(CommandError, match="no sticker could be read"):
        call_command("import_stickers", str(tmp_path), str(tmp_path / "missing"))
