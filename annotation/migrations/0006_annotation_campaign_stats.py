"""The task's campaign and iteration copied onto each answer and skip by a trigger, and the
indexes the campaign page's statistics read (issue 14).

A campaign's answers were only reachable through its tasks: every statistic joined up to
1,000,000 answers to 2,000,000 tasks. With the two columns on the answer, each statistic is an
index-only scan of the campaign's answers. The trigger is the only writer, on every insert and
update (the submit and skip functions, the ORM, imports, bulk COPY alike), so the copies cannot
drift; nothing changes a task's campaign or iteration.
"""

import django.db.models.deletion
from django.db import migrations, models

TRIGGER = """
CREATE FUNCTION annotation_annotation_task_copy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT t.campaign_id, t.iteration INTO NEW.campaign_id, NEW.iteration
    FROM annotation_task t WHERE t.id = NEW.task_id;
  RETURN NEW;
END $$;
CREATE TRIGGER annotation_annotation_task_copy
  BEFORE INSERT OR UPDATE ON annotation_annotation
  FOR EACH ROW EXECUTE FUNCTION annotation_annotation_task_copy();
CREATE TRIGGER annotation_skip_task_copy
  BEFORE INSERT OR UPDATE ON annotation_skip
  FOR EACH ROW EXECUTE FUNCTION annotation_annotation_task_copy();
-- The trigger fills existing rows; their foreign-key checks now, not at commit, so that the
-- NOT NULL below may alter the tables in this transaction.
SET CONSTRAINTS ALL IMMEDIATE;
UPDATE annotation_annotation a SET task_id = a.task_id;
UPDATE annotation_skip s SET task_id = s.task_id;
SET CONSTRAINTS ALL DEFERRED;
"""

TRIGGER_REVERSE = """
DROP TRIGGER IF EXISTS annotation_skip_task_copy ON annotation_skip;
DROP TRIGGER IF EXISTS annotation_annotation_task_copy ON annotation_annotation;
DROP FUNCTION IF EXISTS annotation_annotation_task_copy();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0005_campaign_train_on_export'),
    ]

    operations = [
        migrations.AddField(
            model_name='annotation',
            name='campaign',
            field=models.ForeignKey(db_index=False, editable=False, null=True,
                                    on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='annotation.campaign'),
        ),
        migrations.AddField(
            model_name='annotation',
            name='iteration',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='skip',
            name='campaign',
            field=models.ForeignKey(db_index=False, editable=False, null=True,
                                    on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='annotation.campaign'),
        ),
        migrations.AddField(
            model_name='skip',
            name='iteration',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.RunSQL(TRIGGER, reverse_sql=TRIGGER_REVERSE),
        migrations.AlterField(
            model_name='annotation',
            name='campaign',
            field=models.ForeignKey(db_index=False, editable=False,
                                    on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='annotation.campaign'),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='iteration',
            field=models.PositiveSmallIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name='skip',
            name='campaign',
            field=models.ForeignKey(db_index=False, editable=False,
                                    on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='annotation.campaign'),
        ),
        migrations.AlterField(
            model_name='skip',
            name='iteration',
            field=models.PositiveSmallIntegerField(editable=False),
        ),
        migrations.AddIndex(
            model_name='skip',
            index=models.Index(fields=['campaign', 'annotator'], include=('iteration',),
                               name='annotation_skip_campaign_idx'),
        ),
        migrations.AddIndex(
            model_name='annotation',
            index=models.Index(fields=['campaign', 'task'], include=('created_at', 'iteration'),
                               name='annotation_campaign_task_idx'),
        ),
        migrations.AddIndex(
            model_name='annotation',
            index=models.Index(fields=['campaign', 'annotator', 'duration_ms'],
                               name='annotation_campaign_pace_idx'),
        ),
    ]
