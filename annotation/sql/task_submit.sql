-- Checks and stores p_user's answer to task p_task: the selected candidates' sticker ids
-- (empty: "none are similar"). Returns {"status": ...}: stored (with annotation_id and the
-- selection in rank order), repeat (an earlier answer to this task or this submission id),
-- no_task, submission_used (the id was used for another task), outside (ids that are not
-- candidates), no_lease (the caller never leased the task, or their lease was cleared when
-- someone else took it), lease_lost (their lease expired and the slot is taken meanwhile).
-- Leases are the only way to answer: nothing is stored for a task the caller does not hold.
CREATE OR REPLACE FUNCTION annotation_task_submit(
  p_user bigint, p_task bigint, p_selected text[], p_submission text, p_duration integer,
  p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_status text;
  v_per_task integer;
  v_set bigint;
  v_earlier_id bigint;
  v_earlier_task bigint;
  v_lease_expires timestamptz;
  v_pks bigint[];
  v_ids text[];
  v_outside text[];
  v_annotation bigint;
BEGIN
  -- Same lock order as annotation_task_next: the annotator's lock, then the task's row.
  PERFORM pg_advisory_xact_lock(1406213, mod(p_user, 2147483647)::integer);
  -- OF the task row only: locking the campaign row would serialize every submit.
  SELECT t.status, c.annotators_per_task, t.candidate_set_id
    INTO v_status, v_per_task, v_set
    FROM annotation_task t JOIN annotation_campaign c ON c.id = t.campaign_id
    WHERE t.id = p_task FOR UPDATE OF t;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_task');
  END IF;

  -- Idempotent: an earlier answer to this task, or to this submission_id, is the answer.
  SELECT e.id, e.task_id INTO v_earlier_id, v_earlier_task FROM (
      SELECT a.id, a.task_id FROM annotation_annotation a
      WHERE a.annotator_id = p_user AND a.task_id = p_task
      UNION ALL
      SELECT a.id, a.task_id FROM annotation_annotation a
      WHERE a.annotator_id = p_user AND p_submission <> '' AND a.submission_id = p_submission
    ) e ORDER BY e.id LIMIT 1;
  IF FOUND THEN
    IF v_earlier_task <> p_task THEN
      RETURN json_build_object('status', 'submission_used', 'task', v_earlier_task);
    END IF;
    RETURN json_build_object('status', 'repeat', 'annotation_id', v_earlier_id);
  END IF;

  -- The caller's lease. An expired one still counts while nobody else took the slot (an
  -- answer the page kept in its outbox through a network drop), never once it is taken.
  SELECT l.expires_at INTO v_lease_expires FROM annotation_lease l
    WHERE l.task_id = p_task AND l.annotator_id = p_user;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_lease');
  END IF;
  IF v_lease_expires <= p_now AND (
       v_status = 'done'
       OR (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = p_task)
        + (SELECT count(*) FROM annotation_lease l WHERE l.task_id = p_task
           AND l.expires_at > p_now AND l.annotator_id <> p_user) >= v_per_task) THEN
    RETURN json_build_object('status', 'lease_lost');
  END IF;

  -- The selection: the wanted ids that are candidates of this task, in rank order.
  SELECT array_agg(s.id ORDER BY cd.rank), array_agg(s.sticker_id ORDER BY cd.rank)
    INTO v_pks, v_ids
    FROM annotation_candidate cd JOIN annotation_sticker s ON s.id = cd.sticker_id
    WHERE cd.candidate_set_id = v_set AND s.sticker_id = ANY(p_selected);
  SELECT array_agg(DISTINCT w.x) INTO v_outside
    FROM unnest(p_selected) AS w(x) WHERE w.x <> ALL(coalesce(v_ids, '{}'));
  IF v_outside IS NOT NULL THEN
    RETURN json_build_object('status', 'outside', 'ids', v_outside);
  END IF;

  INSERT INTO annotation_annotation (task_id, annotator_id, duration_ms, submission_id, created_at)
    VALUES (p_task, p_user, p_duration, p_submission, p_now) RETURNING id INTO v_annotation;
  INSERT INTO annotation_annotation_selected (annotation_id, sticker_id)
    SELECT v_annotation, unnest(coalesce(v_pks, '{}'));
  DELETE FROM annotation_lease l WHERE l.task_id = p_task AND l.annotator_id = p_user;
  -- A later statement sees our own insert: the count includes this answer.
  PERFORM annotation_task_refresh(p_task, v_per_task, p_now);
  RETURN json_build_object('status', 'stored', 'annotation_id', v_annotation,
                           'selected', coalesce(to_json(v_ids), '[]'::json));
END
$fn$;
