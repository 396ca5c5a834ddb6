"""Submit-and-next in one call; tasks handed out iteration by iteration; the pick through two
partial indexes (free tasks in (iteration, id) order, abandoned tasks first).

Installed from this migration's frozen copy (``annotation/migrations/sql/0003_*.sql``).
"""

from django.db import migrations, models

from annotation.sql import frozen


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_task_hot_paths")]

    operations = [
        migrations.RemoveIndex(model_name="task", name="annotation__campaig_486ec3_idx"),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["campaign", "status", "iteration", "id"],
                               name="annotation_task_pick_idx"),
        ),
        # The pick index starts with campaign_id: the foreign key's own index only cost writes.
        migrations.AlterField(
            model_name="task", name="campaign",
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE,
                                    related_name="tasks", to="annotation.campaign"),
        ),
        migrations.RunSQL(frozen("0003_task_submit_next"),
                          reverse_sql=frozen("0003_task_submit_next.reverse")),
    ]
