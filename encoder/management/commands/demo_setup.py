"""``manage.py demo_setup``: migrate, then set up the demo (``encoder.demo.demo_setup``)."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from encoder.demo import demo_setup
from encoder.management.commands.embed_stickers import progress_bar


class Command(BaseCommand):
    help = "Set up the demo: migrate, import the demo library, users, embeddings, campaign."

    def handle(self, *args, **opts) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        demo_setup(write=self.stdout.write, progress_bar=progress_bar)
