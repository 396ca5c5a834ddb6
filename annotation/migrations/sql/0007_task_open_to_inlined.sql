-- May p_user take task p_task (anchor p_anchor) of campaign p_campaign now? One row (true)
-- if so, none if not; callers ask `EXISTS (SELECT FROM annotation_task_open_to(...))`.
-- Not if they skipped it (a skip returns the task to the others, not to the one who could not
-- judge it); not if they answered or hold a live lease on any task of the same anchor (the task
-- itself, and the other iteration: the two iterations of one anchor go to different people);
-- not if its answers plus live leases already fill p_per_task slots. Expired leases count for
-- nothing. Each test is an index probe, so the cost follows neither the campaign's size nor
-- the annotator's history.
-- A set-returning SQL function with no SET clause, so the planner inlines it into the calling
-- query (a scalar function whose body has subqueries is never inlined): the tests run as
-- subplans of the pick, not as a PL/pgSQL call per candidate row (0.18 ms per call before;
-- the progress count, one call per open task, 3.5x faster).
DROP FUNCTION IF EXISTS annotation_task_open_to(bigint, bigint, bigint, integer, bigint,
                                               timestamptz);
CREATE FUNCTION annotation_task_open_to(
  p_task bigint, p_anchor bigint, p_campaign bigint, p_per_task integer, p_user bigint,
  p_now timestamptz)
RETURNS SETOF boolean LANGUAGE sql STABLE AS $fn$
  SELECT true
  WHERE NOT EXISTS (SELECT 1 FROM annotation_skip s
                    WHERE s.task_id = p_task AND s.annotator_id = p_user)
    AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_annotation a
                      ON a.task_id = mt.id AND a.annotator_id = p_user
                    WHERE mt.anchor_id = p_anchor AND mt.campaign_id = p_campaign)
    AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_lease l
                      ON l.task_id = mt.id AND l.annotator_id = p_user
                    WHERE mt.anchor_id = p_anchor AND mt.campaign_id = p_campaign
                      AND l.expires_at > p_now)
    AND (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = p_task)
      + (SELECT count(*) FROM annotation_lease l
         WHERE l.task_id = p_task AND l.expires_at > p_now) < p_per_task
$fn$;

-- After any change to a task's leases or answers, under the task's row lock: the task is done
-- once it has p_per_task answers; held_until (the pick's hint) is the earliest live lease's
-- expiry while answers + live leases fill every slot, else null. The only writer of both.
-- One statement, and no new row version when nothing changes (each task row update is
-- written to every index).
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

-- What the annotator page needs for one task: the anchor and its candidates in rank order.
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

-- Stores an answer and leases the next task in one call and one transaction:
-- {"submitted": annotation_task_submit's answer, "next": annotation_task_next's, or null when
-- the answer was refused}. An unknown campaign is refused before anything is stored.
CREATE OR REPLACE FUNCTION annotation_task_submit_next(
  p_user bigint, p_task bigint, p_selected text[], p_submission text, p_duration integer,
  p_now timestamptz, p_campaign text, p_exclude bigint[], p_max_leases integer,
  p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_submitted json;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM annotation_campaign c WHERE c.name = p_campaign) THEN
    RETURN json_build_object('submitted', NULL, 'next', json_build_object('status', 'no_campaign'));
  END IF;
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

-- Anchors of campaign p_campaign that p_user could still take: open tasks not fully held, open
-- to them (annotation_task_open_to), one per anchor (the two iterations go to different
-- people). The annotator page's "left for me".
CREATE OR REPLACE FUNCTION annotation_tasks_left(p_user bigint, p_campaign bigint,
                                                 p_now timestamptz)
RETURNS integer LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_per_task integer;
  v_left integer;
BEGIN
  SELECT c.annotators_per_task INTO v_per_task FROM annotation_campaign c WHERE c.id = p_campaign;
  SELECT count(DISTINCT t.anchor_id) INTO v_left FROM annotation_task t
  WHERE t.campaign_id = p_campaign AND t.status = 'open'
    AND (t.held_until IS NULL OR t.held_until <= p_now)
    AND EXISTS (SELECT FROM annotation_task_open_to(
          t.id, t.anchor_id, p_campaign, v_per_task, p_user, p_now));
  RETURN v_left;
END
$fn$;
