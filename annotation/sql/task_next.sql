-- Leases the next task of campaign p_campaign to p_user and returns its payload:
-- {"status": "leased", ...annotation_task_payload}, {"status": "none"} or
-- {"status": "no_campaign"}. Tasks in p_exclude are not handed out (the page's fetch-ahead:
-- "the one after the task on my screen").
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
  -- lock, not FOR UPDATE on the user row: the same exclusion without writing a row lock (and
  -- its WAL record) on every call.
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
    -- Open tasks this annotator may take (annotation_task_open_to), locked with SKIP LOCKED:
    -- two annotators never wait on, nor get, the same row. First a task whose every slot was
    -- held until a moment now past (abandoned: it has waited longest), then a task with a free
    -- slot, iteration by iteration in creation order. Two scans of two partial indexes: a
    -- task whose slots are all held is in neither's way.
    SELECT t.id INTO v_task FROM annotation_task t
    WHERE t.campaign_id = v_campaign AND t.status = 'open' AND t.held_until <= p_now
      AND t.id <> ALL(v_tried)
      AND EXISTS (SELECT FROM annotation_task_open_to(
            t.id, t.anchor_id, v_campaign, v_per_task, p_user, p_now))
    ORDER BY t.held_until, t.id LIMIT 1
    FOR UPDATE OF t SKIP LOCKED;
    IF NOT FOUND THEN
      SELECT t.id INTO v_task FROM annotation_task t
      WHERE t.campaign_id = v_campaign AND t.status = 'open' AND t.held_until IS NULL
        AND t.id <> ALL(v_tried)
        AND EXISTS (SELECT FROM annotation_task_open_to(
              t.id, t.anchor_id, v_campaign, v_per_task, p_user, p_now))
      ORDER BY t.iteration, t.id LIMIT 1
      FOR UPDATE OF t SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
      -- Nothing unlocked: either nothing is left, or what is left is locked for a moment by
      -- another annotator's transaction (a lease or an answer being written). Wait for it
      -- (milliseconds) rather than say "nothing left" while slots remain.
      SELECT t.id INTO v_task FROM annotation_task t
      WHERE t.campaign_id = v_campaign AND t.status = 'open'
        AND (t.held_until IS NULL OR t.held_until <= p_now) AND t.id <> ALL(v_tried)
        AND EXISTS (SELECT FROM annotation_task_open_to(
              t.id, t.anchor_id, v_campaign, v_per_task, p_user, p_now))
      ORDER BY t.iteration, t.id LIMIT 1
      FOR UPDATE OF t;
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
    -- The hint follows every change, including the cleared leases of a task that filled up.
    PERFORM annotation_task_refresh(v_task, v_per_task, p_now);
    IF v_expires IS NOT NULL THEN
      RETURN annotation_task_payload(v_task, v_expires);
    END IF;
    v_tried := v_tried || v_task;
  END LOOP;
  RETURN json_build_object('status', 'none');
END
$fn$;
