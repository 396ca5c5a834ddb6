"""``manage.py import_stickers PATH...``: folders, zip archives and files of stickers."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.services import stickers_import


class Command(BaseCommand):
    help = ("Import sticker files (png, jpeg, gif, webp, webm) from files, folders and .zip "
            "archives. Duplicates by content are imported once; bad files are reported by name.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files, folders or .zip files")

    def handle(self, *args, paths: list[Path], **options) -> None:
        report = stickers_import(paths=paths)
        if options["verbosity"] >= 2:  # re-imports list every file: only on request
            for line in report.duplicates:
                self.stdout.write(f"duplicate  {line}")
        for line in report.rejected:
            self.stderr.write(f"rejected   {line}")
        self.stdout.write(report.summary())
        # Some rejected files are normal in a real dump; nothing readable at all is an error.
        if report.files_read == 0:
            raise CommandError("no sticker could be read from the given paths")
