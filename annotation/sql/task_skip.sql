-- "I can't judge": records p_user's skip of task p_task, frees their lease; the task goes back
-- to the pool for the others and counts for nothing. Returns {"status": ...}: skipped (with
-- skip_id), repeat (an earlier skip of this task), no_task, answered (they answered it
-- already), no_lease (they do not hold it: nobody skips a task somebody else holds).
CREATE OR REPLACE FUNCTION annotation_task_skip(p_user bigint, p_task bigint, p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_per_task integer;
  v_skip bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1406213, mod(p_user, 2147483647)::integer);
  SELECT c.annotators_per_task INTO v_per_task
    FROM annotation_task t JOIN annotation_campaign c ON c.id = t.campaign_id
    WHERE t.id = p_task FOR UPDATE OF t;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_task');
  END IF;
  IF EXISTS (SELECT 1 FROM annotation_annotation a
             WHERE a.task_id = p_task AND a.annotator_id = p_user) THEN
    RETURN json_build_object('status', 'answered');
  END IF;
  SELECT s.id INTO v_skip FROM annotation_skip s
    WHERE s.task_id = p_task AND s.annotator_id = p_user ORDER BY s.id LIMIT 1;
  IF FOUND THEN
    RETURN json_build_object('status', 'repeat', 'skip_id', v_skip);
  END IF;
  DELETE FROM annotation_lease l WHERE l.task_id = p_task AND l.annotator_id = p_user;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_lease');
  END IF;
  INSERT INTO annotation_skip (task_id, annotator_id, created_at)
    VALUES (p_task, p_user, p_now) RETURNING id INTO v_skip;
  PERFORM annotation_task_refresh(p_task, v_per_task, p_now);
  RETURN json_build_object('status', 'skipped', 'skip_id', v_skip);
END
$fn$;
