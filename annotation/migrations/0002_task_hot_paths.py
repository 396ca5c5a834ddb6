"""The two annotation hot paths as PostgreSQL functions: one round trip per API call.

Also the pick's hint column ``Task.held_until`` and the index of the submit's repeat check.
The functions are installed from this migration's frozen copy
(``annotation/migrations/sql/0002_task_hot_paths.sql``); the rules as they are now live in
``annotation/sql/`` and are installed by the newest migration that freezes them.
"""

from django.conf import settings
from django.db import migrations, models

from annotation.sql import frozen


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="held_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(fields=["annotator", "submission_id"],
                               name="annotation__annotat_1ee3e6_idx"),
        ),
        migrations.RunSQL(frozen("0002_task_hot_paths"),
                          reverse_sql=frozen("0002_task_hot_paths.reverse")),
    ]
