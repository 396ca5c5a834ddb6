"""manage.py build_pairs --campaign NAME [--min-positive 2 --min-displayed 2
--max-query-overlap 3 --max-text-cosine 0.7] [--inline]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotation.errors import InputError
from pairbuilder import services
from pairbuilder.management.commands._common import campaign_get


class Command(BaseCommand):
    help = "Applies the pair rules to a campaign's annotations (on the Celery workers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("--min-positive", type=int, default=2)
        parser.add_argument("--min-displayed", type=int, default=2)
        parser.add_argument("--max-query-overlap", type=int, default=3,
                            help="negative only if shared queries < this")
        parser.add_argument("--max-text-cosine", type=float, default=0.7,
                            help="negative only if query-text cosine < this")
        parser.add_argument("--inline", action="store_true",
                            help="run in this process instead of queueing it for a worker")

    def handle(self, *args, campaign: str, inline: bool, **options) -> None:
        found = campaign_get(campaign)
        params = {k: options[k] for k in ("min_positive", "min_displayed", "max_query_overlap",
                                          "max_text_cosine")}
        try:
            if inline:
                build = services.pair_build_run(build_id=_create(found, params).id)
            else:
                with transaction.atomic():
                    build = services.pair_build_start(campaign=found, params=params)
                build.refresh_from_db()
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"pair build {build.id}: {build.status}")
        if build.counts:
            self.stdout.write(json.dumps(build.counts, sort_keys=True))


def _create(campaign, params):
    from pairbuilder.models import PairBuild

    return PairBuild.objects.create(campaign=campaign,
                                    params=services.pair_build_params(params))
