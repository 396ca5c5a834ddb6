"""The filter "may this annotator take this task" (``annotation_task_open_to``) as a
set-returning SQL function the planner inlines into the pick and the progress count, instead of
a PL/pgSQL call per candidate row (same tests, same answers). Installed from this migration's
frozen copy, which replaces every rule function (the callers ask ``EXISTS (SELECT FROM ...)``).

Reversing drops the new function (its return type differs, so 0004's copy cannot replace it)
and reinstalls 0004's rules.
"""

from django.db import migrations

from annotation.sql import frozen

REVERSE = """
DROP FUNCTION IF EXISTS annotation_task_open_to(bigint, bigint, bigint, integer, bigint,
                                               timestamptz);
""" + frozen("0004_task_rules")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_annotation_campaign_stats")]

    operations = [migrations.RunSQL(frozen("0007_task_open_to_inlined"), reverse_sql=REVERSE)]
