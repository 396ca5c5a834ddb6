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


def _replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# 0002's pick statement, whose filter (what this annotator may take) both scans keep; only the
# hold test and the order change. Its comment is replaced with the one below.
_COMMENT_0002 = _0002.TASK_NEXT.index("    -- Open tasks this annotator may take")
_SELECT_0002 = _0002.TASK_NEXT.index("    SELECT t.id INTO v_task")
_END_0002 = _0002.TASK_NEXT.index("FOR UPDATE OF t SKIP LOCKED;\n") + len(
    "FOR UPDATE OF t SKIP LOCKED;\n")
_PICK_0002 = _0002.TASK_NEXT[_SELECT_0002:_END_0002]
_HOLD_0002 = "(t.held_until IS NULL OR t.held_until <= p_now)"
_ORDER_0002 = "ORDER BY t.id LIMIT 1"
_PICK_ABANDONED = _replaced(_replaced(_PICK_0002, _HOLD_0002, "t.held_until <= p_now"),
                            _ORDER_0002, "ORDER BY t.held_until, t.id LIMIT 1")
_PICK_FREE = _replaced(_replaced(_PICK_0002, _HOLD_0002, "t.held_until IS NULL"),
                       _ORDER_0002, "ORDER BY t.iteration, t.id LIMIT 1")
_PICK = f"""    -- Open tasks this annotator may take (the filter: see migration 0002), locked with
    -- SKIP LOCKED: two annotators never wait on, nor get, the same row. First a task whose
    -- every slot was held until a moment now past (abandoned: it has waited longest), then a
    -- task nobody holds, iteration by iteration in creation order. Two scans of two partial
    -- indexes: a held task is in neither's way, where one scan of all open tasks stepped over
    -- (and read from the table) every task held at its head.
{_PICK_ABANDONED}    IF NOT FOUND THEN
{_PICK_FREE}    END IF;
"""
TASK_NEXT = _0002.TASK_NEXT[:_COMMENT_0002] + _PICK + _0002.TASK_NEXT[_END_0002:]

# 0002's refresh in one statement instead of three, and no new row version when nothing
# changes (a lease that leaves a slot free): each task row update is written to every index.
TASK_REFRESH = """
CREATE OR REPLACE FUNCTION annotation_task_refresh(
  p_task bigint, p_per_task integer, p_now timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  UPDATE annotation_task t SET status = n.status, held_until = n.held_until
  FROM (
    SELECT CASE WHEN a.answers >= p_per_task THEN 'done' ELSE o.status END AS status,
           CASE WHEN a.answers < p_per_task AND a.answers + l.leases >= p_per_task
                THEN l.first_expiry END AS held_until
    FROM annotation_task o,
         (SELECT count(*) AS answers FROM annotation_annotation WHERE task_id = p_task) a,
         (SELECT count(*) AS leases, min(expires_at) AS first_expiry FROM annotation_lease
          WHERE task_id = p_task AND expires_at > p_now) l
    WHERE o.id = p_task) n
  WHERE t.id = p_task
    AND (t.status, t.held_until) IS DISTINCT FROM (n.status, n.held_until);
END
$fn$;
"""

INDEXES = """
CREATE INDEX annotation_task_free_idx ON annotation_task (campaign_id, iteration, id)
  WHERE status = 'open' AND held_until IS NULL;
CREATE INDEX annotation_task_held_idx ON annotation_task (campaign_id, held_until, id)
  WHERE status = 'open' AND held_until IS NOT NULL;
"""
DROP_INDEXES = """
DROP INDEX IF EXISTS annotation_task_free_idx;
DROP INDEX IF EXISTS annotation_task_held_idx;
"""

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
        schema_editor.execute(INDEXES)
        _create(TASK_REFRESH, schema_editor)
        _create(TASK_NEXT, schema_editor)
        _create(TASK_SUBMIT_NEXT, schema_editor)


def drop_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(DROP_INDEXES)
        _create(_0002.TASK_REFRESH, schema_editor)
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
        # The pick index starts with campaign_id: the foreign key's own index only cost writes.
        migrations.AlterField(
            model_name="task", name="campaign",
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE,
                                    related_name="tasks", to="annotation.campaign"),
        ),
        migrations.RunPython(create_functions, drop_functions),
    ]
