"""``manage.py encoder_job``: start, resume or read an embedding or retrieval job split over the
gpu workers (``encoder.job_services``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Campaign
from encoder.job_services import (
    EMBED_CHUNK,
    RETRIEVE_CHUNK,
    embedding_job_start,
    encoder_job_resume,
    encoder_job_status,
    retrieval_job_start,
)
from encoder.models import EncoderJob, EncoderVersion


class Command(BaseCommand):
    help = ("Embedding and retrieval as jobs split into chunks for the gpu workers: "
            "'embed --encoder-version V', 'retrieve --campaign C --iteration N', "
            "'resume JOB' (sends the chunks not done), 'status JOB'.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["embed", "retrieve", "resume", "status"])
        parser.add_argument("job", nargs="?", type=int, help="job id (resume, status)")
        parser.add_argument("--encoder-version", help="version string (embed)")
        parser.add_argument("--campaign", help="campaign name (retrieve)")
        parser.add_argument("--iteration", type=int, choices=[1, 2])
        parser.add_argument("--chunk-size", type=int,
                            help=f"stickers per chunk (default {EMBED_CHUNK:,} to embed, "
                                 f"{RETRIEVE_CHUNK:,} anchors to retrieve)")

    def handle(self, *args, action: str, job: int | None, **opts) -> None:
        try:
            if action == "embed":
                version = EncoderVersion.objects.filter(version=opts["encoder_version"]).first()
                if version is None:
                    raise CommandError(f"encoder version {opts['encoder_version']!r} is not "
                                       "registered")
                row = embedding_job_start(encoder_version=version,
                                          chunk_size=opts["chunk_size"] or EMBED_CHUNK)
            elif action == "retrieve":
                campaign = Campaign.objects.filter(name=opts["campaign"]).first()
                if campaign is None or opts["iteration"] is None:
                    raise CommandError("give --campaign NAME (existing) and --iteration 1|2")
                row = retrieval_job_start(campaign=campaign, iteration=opts["iteration"],
                                          chunk_size=opts["chunk_size"] or RETRIEVE_CHUNK)
            else:
                row = EncoderJob.objects.filter(pk=job).first()
                if row is None:
                    raise CommandError(f"no encoder job {job}")
                if action == "resume":
                    self.stdout.write(f"sent {encoder_job_resume(job=row)} chunks")
        except InputError as e:
            raise CommandError(str(e)) from e
        self.stdout.write(json.dumps(encoder_job_status(job=row)))
