-- Frozen: the indexes and functions migration 0003 installed.

CREATE INDEX annotation_task_free_idx ON annotation_task (campaign_id, iteration, id)
  WHERE status = 'open' AND held_until IS NULL;
CREATE INDEX annotation_task_held_idx ON annotation_task (campaign_id, held_until, id)
  WHERE status = 'open' AND held_until IS NOT NULL;

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
    -- Open tasks this annotator may take (the filter: see migration 0002), locked with
    -- SKIP LOCKED: two annotators never wait on, nor get, the same row. First a task whose
    -- every slot was held until a moment now past (abandoned: it has waited longest), then a
    -- task nobody holds, iteration by iteration in creation order. Two scans of two partial
    -- indexes: a held task is in neither's way, where one scan of all open tasks stepped over
    -- (and read from the table) every task held at its head.
    SELECT t.id INTO v_task FROM annotation_task t
    WHERE t.campaign_id = v_campaign AND t.status = 'open'
      AND t.held_until <= p_now AND t.id <> ALL(v_tried)
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
    ORDER BY t.held_until, t.id LIMIT 1
    FOR UPDATE OF t SKIP LOCKED;
    IF NOT FOUND THEN
    SELECT t.id INTO v_task FROM annotation_task t
    WHERE t.campaign_id = v_campaign AND t.status = 'open'
      AND t.held_until IS NULL AND t.id <> ALL(v_tried)
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
    ORDER BY t.iteration, t.id LIMIT 1
    FOR UPDATE OF t SKIP LOCKED;
    END IF;
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
