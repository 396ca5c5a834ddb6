"""A separate process on the embedded server, for the kill-and-restart tests.

``fill``: migrate, build a campaign and answer tasks one by one, printing ``ack <id>`` after
each answer the database acknowledged, until the server goes away. ``migrate``: only that.
``count``: print the stored annotation ids (``stored <id>``) and the server's pid
(``pid <n>``). Reads the data folder from STICKERSIM_PGDATA like any other process.
"""

from __future__ import annotations

import os
import sys


def main(mode: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from annotation.models import Annotation
    from config.embedded_postgres import default_pgdata, running_pid

    if mode == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return 0
    if mode == "count":
        for pk in Annotation.objects.order_by("pk").values_list("pk", flat=True):
            print("stored", pk)
        print("pid", running_pid(default_pgdata(settings.VAR_DIR)), flush=True)
        return 0

    from django.core.management import call_command

    from annotation.services.assignment import task_next, task_submit
    from tests.annotation.campaign_factory import annotator_create, campaign_build

    call_command("migrate", verbosity=0)
    fx = campaign_build(anchors=150, iterations=(1,), candidates=3)
    annotator = annotator_create("survivor")
    print("ready", flush=True)
    while True:
        task = task_next(annotator=annotator, campaign_name=fx.campaign.name)
        submitted = task_submit(annotator=annotator, task_id=task.id, selected_ids=[],
                                submission_id=f"k{task.id}")
        print("ack", submitted.annotation.pk, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
