"""manage.py import_annotations --campaign NAME IN.jsonl"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import InputError
from annotation.services.annotations_io import annotations_import_jsonl


class Command(BaseCommand):
    help = ("Imports answers from JSON lines into a campaign (created if missing), with its "
            "candidate sets and annotator accounts; bad lines are reported and skipped.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("path", help="input .jsonl file")

    def handle(self, *args, campaign: str, path: str, **options) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                report = annotations_import_jsonl(campaign_name=campaign, lines=fh)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except InputError as exc:
            raise CommandError(str(exc)) from None
        for number, reason in report.rejected:
            self.stderr.write(f"{path}:{number}: rejected: {reason}")
        self.stdout.write(
            f"{report.annotations} annotation(s), {report.skips} skip(s) imported, "
            f"{report.already_present} already present, {len(report.rejected)} line(s) rejected"
            + (f"; campaign {campaign!r} created" if report.created_campaign else "")
        )
