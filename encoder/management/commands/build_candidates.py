"""``manage.py build_candidates --campaign NAME --iteration N``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Campaign
from annotation.services.candidate_sets import candidate_sets_build
from encoder.spec import EncoderError


class Command(BaseCommand):
    help = ("Build (or rebuild, while none is annotated) one iteration's candidate sets and "
            "tasks for a campaign.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("--iteration", required=True, type=int, choices=[1, 2])

    def handle(self, *args, campaign: str, iteration: int, **opts) -> None:
        row = Campaign.objects.filter(name=campaign).first()
        if row is None:
            raise CommandError(f"campaign {campaign!r} does not exist")
        try:
            count = candidate_sets_build(campaign=row, iteration=iteration)
        except (EncoderError, InputError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(f"campaign {campaign} iteration {iteration}: {count} candidate sets")
