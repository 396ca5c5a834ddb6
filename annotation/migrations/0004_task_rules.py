"""The assignment rules as one copy (``annotation/sql/``): the filter "may this annotator take
this task" as one function that the pick and the progress count share; answers and skips only
with the caller's lease; the skip as a function, so ``held_until`` has one writer
(``annotation_task_refresh``). Installed from this migration's frozen copy.

Reversing drops the functions this migration added; the ones it replaced keep this version.
"""

from django.db import migrations

from annotation.sql import frozen

REVERSE = """
DROP FUNCTION IF EXISTS annotation_tasks_left(bigint, bigint, timestamptz);
DROP FUNCTION IF EXISTS annotation_task_skip(bigint, bigint, timestamptz);
DROP FUNCTION IF EXISTS annotation_task_open_to(bigint, bigint, bigint, integer, bigint,
                                               timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_task_submit_next")]

    operations = [migrations.RunSQL(frozen("0004_task_rules"), reverse_sql=REVERSE)]
