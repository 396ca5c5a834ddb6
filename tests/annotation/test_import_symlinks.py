"""stickers_import and symbolic links: a link that points outside the imported folder is
rejected by name (it would import, and then serve, any file the server can read); links
inside the folder are harmless."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.models import Sticker
from annotation.services import stickers_import
from tests.annotation import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_symlink_to_a_file_outside_the_folder_is_rejected_by_name(tmp_path):
    # given a folder with one sticker and links to a sticker and a folder outside it
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(factories.image_bytes("PNG", size=(20, 20)))
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "real.png").write_bytes(factories.image_bytes("PNG", size=(30, 30)))
    (folder / "leak.png").symlink_to(outside / "secret.png")
    (folder / "leakdir").symlink_to(outside, target_is_directory=True)
    # when the folder is imported
    report = stickers_import(paths=[folder])
    # then only the real file is imported; each link is rejected by its name
    assert report.imported == ["real.png"]
    assert sorted(r.split(":")[0] for r in report.rejected) == ["leak.png", "leakdir"]
    assert all("outside the imported folder" in r for r in report.rejected)
    assert not Sticker.objects.filter(sticker_id="secret.png").exists()


def test_a_symlink_inside_the_folder_is_not_an_escape(tmp_path):
    # given a folder whose link points at a file in the same folder
    folder = tmp_path / "library"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.png").write_bytes(factories.image_bytes("PNG", size=(30, 30)))
    (folder / "alias.png").symlink_to(folder / "sub" / "real.png")
    # when imported
    report = stickers_import(paths=[folder])
    # then nothing is rejected: the same bytes are one sticker (the alias is a duplicate)
    assert report.rejected == []
    assert len(report.imported) == 1 and len(report.duplicates) == 1
