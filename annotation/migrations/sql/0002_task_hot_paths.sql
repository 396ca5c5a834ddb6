-- Frozen: the functions migration 0002 installed.

CREATE OR REPLACE FUNCTION annotation_task_payload(p_task bigint, p_expires timestamptz)
RETURNS json LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_payload json;
BEGIN
  SELECT json_build_object(
    'status', 'leased', 'id', t.id, 'iteration', t.iteration, 'anchor_id', t.anchor_id,
    'lease_expires_at', p_expires,
    'anchor', json_build_object(
      'sticker_id', s.sticker_id, 'file', s.file, 'media_type', s.media_type,
      'is_animated', s.is_animated, 'width', s.width, 'height', s.height),
    'candidates', (
      SELECT coalesce(json_agg(json_build_object(
        'rank', cd.rank, 'sticker_id', cs.sticker_id, 'file', cs.file,
        'media_type', cs.media_type, 'is_animated', cs.is_animated, 'width', cs.width,
        'height', cs.height) ORDER BY cd.rank), '[]'::json)
      FROM annotation_candidate cd JOIN annotation_sticker cs ON cs.id = cd.sticker_id
      WHERE cd.candidate_set_id = t.candidate_set_id))
  INTO v_payload
  FROM annotation_task t JOIN annotation_sticker s ON s.id = t.anchor_id
  WHERE t.id = p_task;
  RETURN v_payload;
END
$fn$;


CREATE OR REPLACE FUNCTION annotation_task_refresh(
  p_task bigint, p_per_task integer, p_now timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_answers integer;
  v_leases integer;
  v_first_expiry timestamptz;
BEGIN
  SELECT count(*) INTO v_answers FROM annotation_annotation a WHERE a.task_id = p_task;
  SELECT count(*), min(l.expires_at) INTO v_leases, v_first_expiry
    FROM annotation_lease l WHERE l.task_id = p_task AND l.expires_at > p_now;
  UPDATE annotation_task SET
    status = CASE WHEN v_answers >= p_per_task THEN 'done' ELSE status END,
    held_until = CASE WHEN v_answers < p_per_task AND v_answers + v_leases >= p_per_task
                      THEN v_first_expiry END
  WHERE id = p_task;
END
$fn$;


CREATE OR REPLACE FUNCTION annotation_task_next(
  p_user bigint, p_campaign text, p_exclude bigint[], p_now timestamptz,
  p_max_leases integer, p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_campaign bigint;
  v_per_task integer;
  v_lease_seconds integer;
  v_task bigint;
  v_expires timestamptz;
  v_live integer := 0;
  v_tried bigint[] := p_exclude;
BEGIN
  SELECT c.id, c.annotators_per_task, c.lease_seconds
    INTO v_campaign, v_per_task, v_lease_seconds
    FROM annotation_campaign c WHERE c.name = p_campaign;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_campaign');
  END IF;
  -- One annotator's requests (two tabs, a retried POST) run one after the other. An advisory
  -- lock, not FOR UPDATE on the user row: the same exclusion without writing a row lock
  -- (and its WAL record) on every call.
  PERFORM pg_advisory_xact_lock(1406213, mod(p_user, 2147483647)::integer);

  -- A live lease the annotator holds on an open, unanswered task comes back first (a page
  -- refresh never takes a second task), oldest first, unless excluded (the fetch-ahead).
  FOR v_task, v_expires IN
    SELECT l.task_id, l.expires_at
    FROM annotation_lease l JOIN annotation_task t ON t.id = l.task_id
    WHERE l.annotator_id = p_user AND t.campaign_id = v_campaign AND l.expires_at > p_now
      AND t.status = 'open'
      AND NOT EXISTS (SELECT 1 FROM annotation_annotation a
                      WHERE a.task_id = l.task_id AND a.annotator_id = p_user)
    ORDER BY l.created_at, l.id
  LOOP
    IF v_task <> ALL(p_exclude) THEN
      RETURN annotation_task_payload(v_task, v_expires);
    END IF;
    v_live := v_live + 1;
  END LOOP;
  IF v_live >= p_max_leases THEN  -- no hoarding
    RETURN json_build_object('status', 'none');
  END IF;

  FOR attempt IN 1..p_attempts LOOP
    -- Open tasks this annotator may take, locked with SKIP LOCKED (two annotators never wait
    -- on, nor get, the same row), in creation order. Skipped at once: tasks whose hint says
    -- every slot is held. Excluded: tasks the annotator skipped, tasks whose anchor the
    -- annotator answered or holds a live lease on (the task itself and the other iteration),
    -- tasks whose answers + live leases reach the per-task target. Each test is an index
    -- probe on the rows scanned, so the cost follows neither the campaign's size nor the
    -- annotator's history.
    SELECT t.id INTO v_task FROM annotation_task t
    WHERE t.campaign_id = v_campaign AND t.status = 'open'
      AND (t.held_until IS NULL OR t.held_until <= p_now) AND t.id <> ALL(v_tried)
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
        < v_per_task
    ORDER BY t.id LIMIT 1
    FOR UPDATE OF t SKIP LOCKED;
    IF NOT FOUND THEN
      RETURN json_build_object('status', 'none');
    END IF;
    -- Under the row lock, in a new statement (a new snapshot): re-count, since the pick's
    -- snapshot may predate a lease committed just before we locked the row. Expired leases of
    -- others are cleared (they must not linger as "held by another user"); the annotator's own
    -- expired lease is renewed by the upsert. No row: the task filled up meanwhile.
    DELETE FROM annotation_lease l WHERE l.task_id = v_task AND l.expires_at <= p_now
      AND l.annotator_id <> p_user;
    INSERT INTO annotation_lease AS l (task_id, annotator_id, expires_at, created_at)
    SELECT t.id, p_user, p_now + v_lease_seconds * interval '1 second', p_now
    FROM annotation_task t
    WHERE t.id = v_task AND t.status = 'open'
      AND (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = t.id)
        + (SELECT count(*) FROM annotation_lease o WHERE o.task_id = t.id
           AND o.expires_at > p_now AND o.annotator_id <> p_user) < v_per_task
    ON CONFLICT (task_id, annotator_id)
      DO UPDATE SET expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at
    RETURNING l.expires_at INTO v_expires;
    IF FOUND THEN
      PERFORM annotation_task_refresh(v_task, v_per_task, p_now);
      RETURN annotation_task_payload(v_task, v_expires);
    END IF;
    v_tried := v_tried || v_task;
  END LOOP;
  RETURN json_build_object('status', 'none');
END
$fn$;


CREATE OR REPLACE FUNCTION annotation_task_submit(
  p_user bigint, p_task bigint, p_selected text[], p_submission text, p_duration integer,
  p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_status text;
  v_per_task integer;
  v_set bigint;
  v_campaign bigint;
  v_anchor bigint;
  v_earlier_id bigint;
  v_earlier_task bigint;
  v_pks bigint[];
  v_ids text[];
  v_outside text[];
  v_annotation bigint;
BEGIN
  -- Same lock order as annotation_task_next: the annotator's lock, then the task's row.
  PERFORM pg_advisory_xact_lock(1406213, mod(p_user, 2147483647)::integer);
  -- OF the task row only: locking the campaign row would serialize every submit.
  SELECT t.status, c.annotators_per_task, t.candidate_set_id, t.campaign_id, t.anchor_id
    INTO v_status, v_per_task, v_set, v_campaign, v_anchor
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

  -- Without a live lease the answer is kept only if nobody else took the task meanwhile.
  IF NOT EXISTS (SELECT 1 FROM annotation_lease l WHERE l.task_id = p_task
                 AND l.annotator_id = p_user AND l.expires_at > p_now) THEN
    IF v_status = 'done'
       OR (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = p_task)
        + (SELECT count(*) FROM annotation_lease l WHERE l.task_id = p_task
           AND l.expires_at > p_now AND l.annotator_id <> p_user) >= v_per_task THEN
      RETURN json_build_object('status', 'lease_lost');
    END IF;
    IF EXISTS (SELECT 1 FROM annotation_annotation a JOIN annotation_task t ON t.id = a.task_id
               WHERE a.annotator_id = p_user AND t.campaign_id = v_campaign
                 AND t.anchor_id = v_anchor AND a.task_id <> p_task) THEN
      RETURN json_build_object('status', 'other_iteration');
    END IF;
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
