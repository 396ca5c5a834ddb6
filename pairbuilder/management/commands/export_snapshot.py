"""manage.py export_snapshot --campaign NAME --out DIR [--include unreviewed] [--seed N]
[--ratios 0.8,0.1,0.1] [--build ID]"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import InputError
from pairbuilder import services
from pairbuilder.management.commands._common import campaign_get
from pairbuilder.models import PairBuild


class Command(BaseCommand):
    help = "Exports a numbered, immutable Triple-S snapshot and copies it to --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("--out", required=True, help="folder to copy the snapshot into")
        parser.add_argument("--include", choices=["accepted", "unreviewed"], default=None,
                            help="unreviewed: also pairs nobody has reviewed (default: the "
                                 "campaign's setting)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--ratios", default="0.8,0.1,0.1", help="train,val,test")
        parser.add_argument("--build", type=int, default=None, help="build id (default latest)")

    def handle(self, *args, campaign: str, out: str, include: str | None, seed: int,
               ratios: str, build: int | None, **options) -> None:
        found = campaign_get(campaign)
        try:
            ratio_values = tuple(float(r) for r in ratios.split(","))
        except ValueError:
            raise CommandError(f"--ratios: expected three numbers, got {ratios!r}") from None
        try:
            chosen = PairBuild.objects.get(pk=build, campaign=found) if build else None
            snapshot = services.snapshot_create(
                campaign=found, build=chosen,
                include_unreviewed=None if include is None else include == "unreviewed",
                ratios=ratio_values, seed=seed)
        except PairBuild.DoesNotExist:
            raise CommandError(f"--build: no build {build} in {campaign}") from None
        except (InputError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        target = Path(out)
        shutil.copytree(snapshot.path, target, dirs_exist_ok=True)
        shutil.copy2(snapshot.archive, target.parent / Path(snapshot.archive).name)
        self.stdout.write(f"snapshot {snapshot.number} written to {target}")
        for name, split in snapshot.manifest["splits"].items():
            self.stdout.write(f"  {name}: {split}")
        for warning in snapshot.manifest.get("warnings", []):
            self.stderr.write(self.style.WARNING(f"WARNING: {warning}"))
