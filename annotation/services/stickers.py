"""Import sticker files from folders and zip archives into the library.

One file at a time is read, hashed, probed and stored, so memory stays at one file plus a
batch of unsaved rows however large the import. A bad file is reported by name and the import
goes on. Same bytes are one sticker (content hash), also across runs; the sticker id is the
file name, as in the StickerQueries and Triple-S CSVs.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q

from annotation.media import MediaLimits, ProbedMedia, StickerRejected, media_probe
from annotation.models import Sticker
from audit.models import AuditEvent
from audit.services import audit_record

# Rows written per bulk_create: a row is ~300 bytes of metadata (no pixels), so 500 rows is
# well under 1 MB, and one transaction per batch keeps row locks and WAL flushes short.
STICKER_BATCH_SIZE = 500

_STORED_SUFFIX = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "webp": ".webp", "webm": ".webm"}


@dataclass
class ImportReport:
    """What an import did, file by file: ids imported, duplicates skipped, files rejected."""

    imported: list[str] = field(default_factory=list)  # sticker ids
    duplicates: list[str] = field(default_factory=list)  # "name: same content as <id>"
    rejected: list[str] = field(default_factory=list)  # "name: reason"

    @property
    def files_read(self) -> int:
        """Files that were stickers, new or already known."""
        return len(self.imported) + len(self.duplicates)

    def summary(self) -> str:
        return (f"{len(self.imported)} imported, {len(self.duplicates)} duplicate, "
                f"{len(self.rejected)} rejected")


@dataclass(frozen=True)
class _Source:
    """One candidate file: its sticker id, where it came from, and how to read it."""

    name: str  # base file name = sticker id
    origin: str  # path shown in reports ("a.zip!dir/x.png")
    size: int  # declared size, checked before reading
    read: Callable[[int], bytes]  # read at most n bytes


def media_limits() -> MediaLimits:
    """The import limits from settings."""
    return MediaLimits(max_bytes=settings.STICKER_MAX_BYTES,
                       max_pixels=settings.STICKER_MAX_PIXELS,
                       max_frames=settings.STICKER_MAX_FRAMES)


def stickers_import(*, paths: list[Path], actor: AbstractBaseUser | None = None
                    ) -> ImportReport:
    """Import every file under ``paths`` (files, folders walked recursively, .zip archives)."""
    report = ImportReport()
    limits = media_limits()
    seen_hashes: dict[str, str] = {}  # hash -> sticker id, this run (64 B + id per file)
    seen_names: set[str] = set()
    batch: list[Sticker] = []
    for source in _sources(paths, report):
        sticker = _sticker_from_source(source, limits, report, seen_hashes, seen_names)
        if sticker is None:
            continue
        batch.append(sticker)
        if len(batch) >= STICKER_BATCH_SIZE:
            _flush(batch, report)
            batch = []
    _flush(batch, report)
    audit_record(action=AuditEvent.Action.IMPORT, actor=actor,
                 target=f"stickers from {', '.join(Path(p).name for p in paths)[:250]}",
                 details={"paths": [str(p) for p in paths], "imported": len(report.imported),
                          "duplicates": len(report.duplicates),
                          "rejected": len(report.rejected)})
    return report


def _sticker_from_source(source: _Source, limits: MediaLimits, report: ImportReport,
                         seen_hashes: dict[str, str], seen_names: set[str]) -> Sticker | None:
    """Read, dedupe, probe and store one file; the unsaved row, or None if not imported."""
    name = source.name
    if source.size > limits.max_bytes:  # before reading: no 5 GB file in memory
        report.rejected.append(f"{name}: file is {source.size:,} bytes, over the limit of "
                               f"{limits.max_bytes:,}")
        return None
    try:
        data = source.read(limits.max_bytes + 1)  # +1: a file that grew is still caught
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        report.rejected.append(f"{name}: unreadable: {exc}")
        return None
    content_hash = hashlib.sha256(data).hexdigest()
    known = seen_hashes.get(content_hash) or _existing_id_by_hash(content_hash)
    if known:
        report.duplicates.append(f"{name}: same content as {known}")
        return None
    if name in seen_names or Sticker.objects.filter(sticker_id=name).exists():
        report.rejected.append(f"{name}: a different sticker with this file name is already in "
                               "the library (rename the file)")
        return None
    try:
        probed = media_probe(data, name=name, limits=limits)
    except StickerRejected as exc:
        report.rejected.append(f"{name}: {exc.reason}")
        return None
    seen_hashes[content_hash] = name
    seen_names.add(name)
    return _sticker_stored(name, data, content_hash, probed)


def _existing_id_by_hash(content_hash: str) -> str | None:
    return Sticker.objects.filter(content_hash=content_hash).values_list(
        "sticker_id", flat=True).first()


def _sticker_stored(name: str, data: bytes, content_hash: str, probed: ProbedMedia) -> Sticker:
    """Writes the original and the still under content-addressed names; returns the row.

    Content-addressed names make a rerun after a crash reuse the files it already wrote
    instead of leaving copies behind.
    """
    shard = content_hash[:2]
    file_name = _save_once(f"stickers/{shard}/{content_hash}{_STORED_SUFFIX[probed.media_type]}",
                           data)
    still_name = _save_once(f"stills/{shard}/{content_hash}.png", probed.still_png)
    return Sticker(sticker_id=name, file=file_name, still=still_name,
                   media_type=probed.media_type, content_hash=content_hash,
                   size_bytes=len(data), width=probed.width, height=probed.height,
                   frame_count=probed.frame_count, is_animated=probed.is_animated)


def _save_once(path: str, data: bytes) -> str:
    if default_storage.exists(path):
        return path
    return default_storage.save(path, ContentFile(data))


def _flush(batch: list[Sticker], report: ImportReport) -> None:
    """Writes a batch; if another import raced us, falls back to row by row."""
    if not batch:
        return
    try:
        with transaction.atomic():
            Sticker.objects.bulk_create(batch)
        report.imported.extend(s.sticker_id for s in batch)
        return
    except IntegrityError:
        pass
    for sticker in batch:
        try:
            with transaction.atomic():
                sticker.pk = None
                sticker.save()
            report.imported.append(sticker.sticker_id)
        except IntegrityError:
            clash = Sticker.objects.filter(
                Q(content_hash=sticker.content_hash) | Q(sticker_id=sticker.sticker_id)).first()
            report.duplicates.append(f"{sticker.sticker_id}: imported at the same time as "
                                     f"{clash.sticker_id if clash else 'another file'}")


def _sources(paths: list[Path], report: ImportReport) -> Iterator[_Source]:
    """Every candidate file under the given paths, in a stable (sorted) order."""
    media_root = Path(settings.MEDIA_ROOT).resolve()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            root = path.resolve()
            for child in sorted(path.rglob("*")):
                if _is_hidden(child.relative_to(path).parts):
                    continue
                resolved = child.resolve()
                if not resolved.is_relative_to(root):
                    # A link out of the folder would import (and serve) any file the server
                    # can read, e.g. a symlink to /etc/passwd or to another user's files.
                    report.rejected.append(f"{child.name}: a symbolic link to a file outside "
                                           f"the imported folder {path.name}")
                    continue
                if (child.is_file()
                        # The library's own files are not new stickers (import of a parent).
                        and not resolved.is_relative_to(media_root)):
                    yield from _file_sources(child, report)
        elif path.is_file():
            yield from _file_sources(path, report)
        else:
            report.rejected.append(f"{path.name or path}: no such file or folder")


def _is_hidden(parts: tuple[str, ...]) -> bool:
    """Dot files and macOS resource forks are not stickers, silently skipped."""
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _file_sources(path: Path, report: ImportReport) -> Iterator[_Source]:
    if path.suffix.lower() == ".zip":
        yield from _zip_sources(path, report)
        return

    def read(limit: int) -> bytes:
        with path.open("rb") as fh:
            return fh.read(limit)

    yield _Source(name=path.name, origin=str(path), size=path.stat().st_size, read=read)


def _zip_sources(path: Path, report: ImportReport) -> Iterator[_Source]:
    """Members of a zip archive. Nothing is extracted to disk, so a "../" or absolute member
    name cannot write outside MEDIA_ROOT (zip slip); such members are rejected anyway."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.rejected.append(f"{path.name}: not a readable zip archive: {exc}")
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if member.is_absolute() or ".." in member.parts or ":" in member.parts[0]:
                report.rejected.append(f"{member.name}: unsafe path in {path.name}: "
                                       f"{info.filename!r}")
                continue
            if _is_hidden(member.parts):
                continue

            def read(limit: int, info: zipfile.ZipInfo = info) -> bytes:
                # Reads at most limit bytes: a member whose declared size lies (zip bomb)
                # still cannot fill memory.
                with archive.open(info) as fh:
                    return fh.read(limit)

            yield _Source(name=member.name, origin=f"{path.name}!{info.filename}",
                          size=info.file_size, read=read)
