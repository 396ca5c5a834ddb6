"""Submit-and-next in one call; tasks handed out iteration by iteration.

``annotation_task_submit_next`` stores an answer and leases the next task:
``POST /api/tasks/<id>/submit/?next=<campaign>`` is the annotator page's one request per task.
Calling the two functions of migration 0002 from one statement saves a round trip and a
transaction per task; inside, each keeps its own rules and locks. A refused answer leases
nothing (``next`` is null), as in ``tasks.task_submit_and_next``'s ORM path.

The pick order becomes (iteration, id) instead of id: the protocol judges iteration 1 before
iteration 2 (whose candidates may come from the encoder retrained on iteration 1), and a
campaign whose tasks were created anchor by anchor (an import of an export) no longer makes an
annotator working alone scan, on every pick, past the other iteration of each anchor they
judged. ``annotation_task_next`` is 0002's with that order; the index follows.
"""

import importlib

from django.db import migrations, models

_0002 = importlib.import_module("annotation.migrations.0002_task_hot_paths")
_CHANGES = {"ORDER BY t.id LIMIT 1": "ORDER BY t.iteration, t.id LIMIT 1",
            "in creation order.": "iteration by iteration, in creation order."}
TASK_NEXT = _0002.TASK_NEXT
for _old, _new in _CHANGES.items():
    assert TASK_NEXT.count(_old) == 1, _old
    TASK_NEXT = TASK_NEXT.replace(_old, _new)

TASK_SUBMIT_NEXT = """
CREATE OR REPLACE FUNCTION annotation_task_submit_next(
  p_user bigint, p_task bigint, p_selected text[], p_submission text, p_duration integer,
  p_now timestamptz, p_campaign text, p_exclude bigint[], p_max_leases integer,
  p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_submitted json;
BEGIN
  v_submitted := annotation_task_submit(p_user, p_task, p_selected, p_submission, p_duration,
                                        p_now);
  IF v_submitted->>'status' NOT IN ('stored', 'repeat') THEN
    RETURN json_build_object('submitted', v_submitted, 'next', NULL);
  END IF;
  RETURN json_build_object(
    'submitted', v_submitted,
    'next', annotation_task_next(p_user, p_campaign, p_exclude, p_now, p_max_leases,
                                 p_attempts));
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS annotation_task_submit_next(
  bigint, bigint, text[], text, integer, timestamptz, text, bigint[], integer, integer);
"""


def _create(sql: str, schema_editor) -> None:
    schema_editor.execute(sql.replace("ANNOTATOR_LOCK", str(_0002.ANNOTATOR_LOCK)))


def create_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _create(TASK_NEXT, schema_editor)
        _create(TASK_SUBMIT_NEXT, schema_editor)


def drop_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        _create(_0002.TASK_NEXT, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_task_hot_paths")]

    operations = [
        migrations.RemoveIndex(model_name="task", name="annotation__campaig_486ec3_idx"),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["campaign", "status", "iteration", "id"],
                               name="annotation_task_pick_idx"),
        ),
        migrations.RunPython(create_functions, drop_functions),
    ]
