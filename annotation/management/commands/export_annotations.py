"""manage.py export_annotations --campaign NAME OUT.jsonl"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Campaign
from annotation.services.annotations_io import annotations_export_jsonl


class Command(BaseCommand):
    help = "Writes a campaign's answers and skips as JSON lines (one answer per line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("out", help="output .jsonl file ('-' for stdout)")

    def handle(self, *args, campaign: str, out: str, **options) -> None:
        try:
            found = Campaign.objects.get(name=campaign)
        except Campaign.DoesNotExist:
            raise CommandError(f"--campaign: no campaign named {campaign!r}") from None
        if out == "-":
            n = annotations_export_jsonl(campaign=found, out=self.stdout)
        else:
            with open(out, "w", encoding="utf-8") as fh:
                n = annotations_export_jsonl(campaign=found, out=fh)
        self.stderr.write(f"{n} line(s) written")
