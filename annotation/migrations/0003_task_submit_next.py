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
# The pick, with one filter for both of its index scans. Excluded: tasks the annotator skipped,
# tasks whose anchor the annotator answered or holds a live lease on (the task itself and the
# other iteration), tasks whose answers + live leases reach the per-task target. Each test is an
# index probe on the rows scanned, so the cost follows neither the campaign's size nor the
# annotator's history.
_MAY_TAKE = """
      t.campaign_id = v_campaign AND t.status = 'open' AND t.id <> ALL(v_tried)
      AND NOT EXISTS (SELECT 1 FROM annotation_skip s
                      WHERE s.task_id = t.id AND s.annotator_id = p_user)
      AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_annotation a
                        ON a.task_id = mt.id AND a.annotator_id = p_user
                      WHERE mt.anchor_id = t.anchor_id AND mt.campaign_id = v_campaign)
      AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_lease l
                        ON l.task_id = mt.id AND l.annotator_id = p_user
                      WHERE mt.anchor_id = t.anchor_id AND mt.campaign_id = v_campaign
                        AND l.expires_at > p_now)
      AND (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = t.id)
        + (SELECT count(*) FROM annotation_lease l WHERE l.task_id = t.id AND l.expires_at > p_now)
        < v_per_task"""

_PICK_0002_START = "    -- Open tasks this annotator may take"
_PICK_0002_END = "    IF NOT FOUND THEN\n      RETURN json_build_object('status', 'none');"
_PICK = f"""    -- Locked with SKIP LOCKED: two annotators never wait on, nor get, the same row.
    -- First a task whose every slot was held until a moment now past (abandoned: it has
    -- waited longest), then a task nobody holds, iteration by iteration in creation order.
    -- Two scans of two partial indexes: a held task is in neither's way, where one scan of
    -- all open tasks stepped over (and read from the table) every task held at its head.
    SELECT t.id INTO v_task FROM annotation_task t
    WHERE t.held_until <= p_now AND {_MAY_TAKE.strip()}
    ORDER BY t.held_until, t.id LIMIT 1
    FOR UPDATE OF t SKIP LOCKED;
    IF NOT FOUND THEN
      SELECT t.id INTO v_task FROM annotation_task t
      WHERE t.held_until IS NULL AND {_MAY_TAKE.strip()}
      ORDER BY t.iteration, t.id LIMIT 1
      FOR UPDATE OF t SKIP LOCKED;
    END IF;
"""
_start = _0002.TASK_NEXT.index(_PICK_0002_START)
_end = _0002.TASK_NEXT.index(_PICK_0002_END)
TASK_NEXT = _0002.TASK_NEXT[:_start] + _PICK + _0002.TASK_NEXT[_end:]

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
