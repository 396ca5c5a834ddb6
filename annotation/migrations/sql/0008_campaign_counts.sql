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
-- No new row version when nothing changes (each task row update is written to every index),
-- and no UPDATE statement either: each fires the statement trigger that counts done tasks
-- (campaign_counts.sql).
CREATE OR REPLACE FUNCTION annotation_task_refresh(
  p_task bigint, p_per_task integer, p_now timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_status text;
  v_held timestamptz;
  v_new_status text;
  v_new_held timestamptz;
BEGIN
  SELECT o.status, o.held_until,
         CASE WHEN a.answers >= p_per_task THEN 'done' ELSE o.status END,
         CASE WHEN a.answers < p_per_task AND a.answers + l.leases >= p_per_task
              THEN l.first_expiry END
    INTO v_status, v_held, v_new_status, v_new_held
    FROM annotation_task o,
         (SELECT count(*) AS answers FROM annotation_annotation WHERE task_id = p_task) a,
         (SELECT count(*) AS leases, min(expires_at) AS first_expiry FROM annotation_lease
          WHERE task_id = p_task AND expires_at > p_now) l
    WHERE o.id = p_task;
  IF v_new_status IS DISTINCT FROM v_status THEN
    UPDATE annotation_task t SET status = v_new_status, held_until = v_new_held
      WHERE t.id = p_task;
  ELSIF v_new_held IS DISTINCT FROM v_held THEN
    UPDATE annotation_task t SET held_until = v_new_held WHERE t.id = p_task;
  END IF;
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

-- The campaign page's counts, kept by the database in the transaction of the rows they count
-- (the tables: migration 0008; SPEC "counts come from the database", Label Studio #7902):
-- * annotation_iteration_counts: per campaign, iteration and shard: tasks, done, skips and
--   overlapping (tasks with 2+ answers); a figure is the sum over the shards.
-- * annotation_answer_hours: answers per campaign, iteration, hour and shard.
-- * annotation_annotator_counts: per campaign and annotator: answers, timed answers, skips.
-- * annotation_overlap: the overlapping tasks themselves (answers m, last answer time, hash), so
--   the agreement's sample of the lowest-hash tasks is an index read.
-- Statement-level triggers with transition tables: a COPY or INSERT ... SELECT of a million
-- rows is one aggregate per statement, not a million updates of the same count row (which
-- PostgreSQL cannot prune inside one transaction). Every change is a delta added with an
-- upsert (deltas commute: concurrent writers never lose one); the shard, the backend's pid
-- modulo 16, spreads the rows every submit touches, so concurrent submits do not queue on one
-- row lock until commit. Rows are upserted in key order: two statements lock them in the same
-- order. Hours are date_bin('1 hour', created_at, Monday 2000-01-03 00:00 UTC), the origin of
-- annotation.stats' buckets.

-- The tasks' figures: +1 per new row, -1 per old row, summed per campaign and iteration. An
-- UPDATE that changes no status (annotation_task_refresh's held_until) writes nothing.
CREATE OR REPLACE FUNCTION annotation_tasks_counted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, tasks, done)
    SELECT n.campaign_id, n.iteration, pg_backend_pid() % 16, count(*),
           count(*) FILTER (WHERE n.status = 'done')
    FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, iteration, shard)
      DO UPDATE SET tasks = c.tasks + EXCLUDED.tasks, done = c.done + EXCLUDED.done;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, tasks, done)
    SELECT o.campaign_id, o.iteration, pg_backend_pid() % 16, -count(*),
           -count(*) FILTER (WHERE o.status = 'done')
    FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, iteration, shard)
      DO UPDATE SET tasks = c.tasks + EXCLUDED.tasks, done = c.done + EXCLUDED.done;
  ELSE
    -- Most updates change no status (annotation_task_refresh's held_until): the same
    -- (campaign, iteration, status) rows before and after, nothing to write.
    IF NOT EXISTS (SELECT n.campaign_id, n.iteration, n.status FROM new_rows n
                   EXCEPT ALL SELECT o.campaign_id, o.iteration, o.status FROM old_rows o) THEN
      RETURN NULL;
    END IF;
    INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, tasks, done)
    SELECT d.campaign_id, d.iteration, pg_backend_pid() % 16, sum(d.tasks), sum(d.done)
    FROM (SELECT n.campaign_id, n.iteration, 1 AS tasks, (n.status = 'done')::int AS done
          FROM new_rows n
          UNION ALL
          SELECT o.campaign_id, o.iteration, -1, -(o.status = 'done')::int FROM old_rows o) d
    GROUP BY 1, 2 HAVING sum(d.tasks) <> 0 OR sum(d.done) <> 0 ORDER BY 1, 2
    ON CONFLICT (campaign_id, iteration, shard)
      DO UPDATE SET tasks = c.tasks + EXCLUDED.tasks, done = c.done + EXCLUDED.done;
  END IF;
  RETURN NULL;
END
$fn$;

-- The overlap rows and the overlapping counts of tasks p_tasks, recomputed from their answers
-- after a change to those answers. The caller has locked the tasks' rows in an earlier
-- statement (see annotation_annotation_task_copy).
CREATE OR REPLACE FUNCTION annotation_overlap_refresh(p_tasks bigint[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  WITH now_rows AS MATERIALIZED (
    SELECT x.id AS task_id, a.campaign_id, a.iteration, a.answers, a.last_at
    FROM unnest(p_tasks) x (id) CROSS JOIN LATERAL (
      SELECT min(a.campaign_id) AS campaign_id, min(a.iteration) AS iteration,
             count(*) AS answers, max(a.created_at) AS last_at
      FROM annotation_annotation a WHERE a.task_id = x.id) a
    WHERE a.answers >= 2
  ), before AS MATERIALIZED (
    SELECT o.task_id, o.campaign_id, o.iteration
    FROM unnest(p_tasks) x (id) JOIN annotation_overlap o ON o.task_id = x.id
  ), kept AS (
    INSERT INTO annotation_overlap AS o (task_id, campaign_id, iteration, answers, last_at,
                                         hash)
    SELECT n.task_id, n.campaign_id, n.iteration, n.answers, n.last_at, hashint8(n.task_id)
    FROM now_rows n ORDER BY n.task_id
    ON CONFLICT (task_id) DO UPDATE
      SET campaign_id = EXCLUDED.campaign_id, iteration = EXCLUDED.iteration,
          answers = EXCLUDED.answers, last_at = EXCLUDED.last_at
      WHERE (o.campaign_id, o.iteration, o.answers, o.last_at)
            IS DISTINCT FROM (EXCLUDED.campaign_id, EXCLUDED.iteration, EXCLUDED.answers,
                              EXCLUDED.last_at)
  ), gone AS (
    DELETE FROM annotation_overlap o
    WHERE o.task_id IN (SELECT b.task_id FROM before b
                        WHERE NOT EXISTS (SELECT FROM now_rows n WHERE n.task_id = b.task_id))
  )
  INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, overlapping)
  SELECT d.campaign_id, d.iteration, pg_backend_pid() % 16, sum(d.n)
  FROM (SELECT n.campaign_id, n.iteration, 1 AS n FROM now_rows n
        UNION ALL SELECT b.campaign_id, b.iteration, -1 FROM before b) d
  GROUP BY 1, 2 HAVING sum(d.n) <> 0 ORDER BY 1, 2
  ON CONFLICT (campaign_id, iteration, shard)
    DO UPDATE SET overlapping = c.overlapping + EXCLUDED.overlapping;
END
$fn$;

-- Migration 0006's copy of the task's campaign and iteration onto each answer and skip, now
-- also locking the task's row for an answer (the submit holds it already): two transactions
-- adding the second answer to one task would otherwise each count one answer, in snapshots
-- that miss the other's, and neither would record the overlap. The lock is taken before the
-- row is written, so the statement trigger below, whose statements see what the lock waited
-- for, needs no statement of its own to take it.
CREATE OR REPLACE FUNCTION annotation_annotation_task_copy() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'annotation_annotation' THEN
    SELECT t.campaign_id, t.iteration INTO NEW.campaign_id, NEW.iteration
      FROM annotation_task t WHERE t.id = NEW.task_id FOR NO KEY UPDATE;
  ELSE
    SELECT t.campaign_id, t.iteration INTO NEW.campaign_id, NEW.iteration
      FROM annotation_task t WHERE t.id = NEW.task_id;
  END IF;
  RETURN NEW;
END
$fn$;

-- Answers: per hour and per annotator, and the overlap of the tasks they belong to. An UPDATE
-- is counted as its old rows taken away and its new rows added (rare: a created_at or a task
-- changed by hand; the submit only inserts); the tasks the old rows leave are locked here
-- (the new rows' tasks were locked by annotation_annotation_task_copy). The overlap is
-- recomputed only where a task has or had 2+ answers, so a campaign of one answer per task
-- never recomputes it. An INSERT is one statement: the upserts and the overlap check.
CREATE OR REPLACE FUNCTION annotation_answers_counted() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_old bigint[];
  v_tasks bigint[];
  v_overlap boolean;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    WITH hours AS (
      INSERT INTO annotation_answer_hours AS h (campaign_id, iteration, hour, shard, answers)
      SELECT o.campaign_id, o.iteration,
             date_bin('1 hour', o.created_at, timestamptz '2000-01-03 00:00:00+00'),
             pg_backend_pid() % 16, -count(*)
      FROM old_rows o GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (campaign_id, iteration, hour, shard)
        DO UPDATE SET answers = h.answers + EXCLUDED.answers
    ), annotators AS (
      INSERT INTO annotation_annotator_counts AS a (campaign_id, annotator_id, answers, timed)
      SELECT o.campaign_id, o.annotator_id, -count(*), -count(o.duration_ms)
      FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (campaign_id, annotator_id)
        DO UPDATE SET answers = a.answers + EXCLUDED.answers, timed = a.timed + EXCLUDED.timed
    )
    SELECT array_agg(DISTINCT o.task_id ORDER BY o.task_id) INTO v_old FROM old_rows o;
    PERFORM FROM unnest(v_old) x (id) JOIN annotation_task t ON t.id = x.id
      ORDER BY t.id FOR NO KEY UPDATE OF t;
  END IF;
  IF TG_OP = 'DELETE' THEN
    v_tasks := v_old;
    SELECT EXISTS (SELECT FROM unnest(v_tasks) x (id)
                   JOIN annotation_overlap o ON o.task_id = x.id) INTO v_overlap;
  ELSE
    WITH hours AS (
      INSERT INTO annotation_answer_hours AS h (campaign_id, iteration, hour, shard, answers)
      SELECT n.campaign_id, n.iteration,
             date_bin('1 hour', n.created_at, timestamptz '2000-01-03 00:00:00+00'),
             pg_backend_pid() % 16, count(*)
      FROM new_rows n GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (campaign_id, iteration, hour, shard)
        DO UPDATE SET answers = h.answers + EXCLUDED.answers
    ), annotators AS (
      INSERT INTO annotation_annotator_counts AS a (campaign_id, annotator_id, answers, timed)
      SELECT n.campaign_id, n.annotator_id, count(*), count(n.duration_ms)
      FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (campaign_id, annotator_id)
        DO UPDATE SET answers = a.answers + EXCLUDED.answers, timed = a.timed + EXCLUDED.timed
    ), changed AS (
      SELECT DISTINCT x.task_id
      FROM (SELECT n.task_id FROM new_rows n UNION ALL SELECT unnest(v_old)) x
    )
    -- Probed task by task through the indexes (an = ANY(array) filter may be planned as a
    -- scan of the whole table in a cached plan).
    SELECT array_agg(c.task_id),
           coalesce(bool_or(EXISTS (SELECT FROM annotation_overlap o WHERE o.task_id = c.task_id)
                            OR (SELECT count(*) FROM annotation_annotation a
                                WHERE a.task_id = c.task_id) >= 2), false)
      INTO v_tasks, v_overlap FROM changed c;
  END IF;
  IF v_overlap THEN
    PERFORM annotation_overlap_refresh(v_tasks);
  END IF;
  RETURN NULL;
END
$fn$;

-- Skips: per iteration and per annotator.
CREATE OR REPLACE FUNCTION annotation_skips_counted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    WITH iterations AS (
      INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, skips)
      SELECT o.campaign_id, o.iteration, pg_backend_pid() % 16, -count(*)
      FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (campaign_id, iteration, shard) DO UPDATE SET skips = c.skips + EXCLUDED.skips
    )
    INSERT INTO annotation_annotator_counts AS a (campaign_id, annotator_id, skips)
    SELECT o.campaign_id, o.annotator_id, -count(*) FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, annotator_id) DO UPDATE SET skips = a.skips + EXCLUDED.skips;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    WITH iterations AS (
      INSERT INTO annotation_iteration_counts AS c (campaign_id, iteration, shard, skips)
      SELECT n.campaign_id, n.iteration, pg_backend_pid() % 16, count(*)
      FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (campaign_id, iteration, shard) DO UPDATE SET skips = c.skips + EXCLUDED.skips
    )
    INSERT INTO annotation_annotator_counts AS a (campaign_id, annotator_id, skips)
    SELECT n.campaign_id, n.annotator_id, count(*) FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (campaign_id, annotator_id) DO UPDATE SET skips = a.skips + EXCLUDED.skips;
  END IF;
  RETURN NULL;
END
$fn$;

-- A deleted campaign's rows go with it (its tasks, answers and skips were deleted first and
-- counted down to zero; no foreign key: Django's flush truncates the campaigns alone).
CREATE OR REPLACE FUNCTION annotation_campaigns_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM annotation_iteration_counts c WHERE c.campaign_id IN (SELECT id FROM old_rows);
  DELETE FROM annotation_answer_hours h WHERE h.campaign_id IN (SELECT id FROM old_rows);
  DELETE FROM annotation_annotator_counts a WHERE a.campaign_id IN (SELECT id FROM old_rows);
  DELETE FROM annotation_overlap o WHERE o.campaign_id IN (SELECT id FROM old_rows);
  RETURN NULL;
END
$fn$;

-- The counts computed directly from the rows (the reference: annotation_counts_rebuild writes
-- them, annotation.services.campaign_counts compares the tables with them). NULL: every
-- campaign.
CREATE OR REPLACE FUNCTION annotation_counts_direct_overlap(p_campaign bigint)
RETURNS TABLE (task_id bigint, campaign_id bigint, iteration smallint, answers bigint,
               last_at timestamptz)
LANGUAGE sql STABLE AS $fn$
  SELECT a.task_id, min(a.campaign_id), min(a.iteration), count(*), max(a.created_at)
  FROM annotation_annotation a WHERE p_campaign IS NULL OR a.campaign_id = p_campaign
  GROUP BY a.task_id HAVING count(*) >= 2
$fn$;

CREATE OR REPLACE FUNCTION annotation_counts_direct_iterations(p_campaign bigint)
RETURNS TABLE (campaign_id bigint, iteration smallint, tasks bigint, done bigint, skips bigint,
               overlapping bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT x.campaign_id, x.iteration, sum(x.tasks)::bigint, sum(x.done)::bigint,
         sum(x.skips)::bigint, sum(x.overlapping)::bigint
  FROM (SELECT t.campaign_id, t.iteration, count(*) AS tasks,
               count(*) FILTER (WHERE t.status = 'done') AS done, 0 AS skips, 0 AS overlapping
        FROM annotation_task t WHERE p_campaign IS NULL OR t.campaign_id = p_campaign
        GROUP BY 1, 2
        UNION ALL
        SELECT s.campaign_id, s.iteration, 0, 0, count(*), 0 FROM annotation_skip s
        WHERE p_campaign IS NULL OR s.campaign_id = p_campaign GROUP BY 1, 2
        UNION ALL
        SELECT o.campaign_id, o.iteration, 0, 0, 0, count(*)
        FROM annotation_counts_direct_overlap(p_campaign) o GROUP BY 1, 2) x
  GROUP BY 1, 2
$fn$;

CREATE OR REPLACE FUNCTION annotation_counts_direct_hours(p_campaign bigint)
RETURNS TABLE (campaign_id bigint, iteration smallint, hour timestamptz, answers bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT a.campaign_id, a.iteration,
         date_bin('1 hour', a.created_at, timestamptz '2000-01-03 00:00:00+00'), count(*)
  FROM annotation_annotation a WHERE p_campaign IS NULL OR a.campaign_id = p_campaign
  GROUP BY 1, 2, 3
$fn$;

CREATE OR REPLACE FUNCTION annotation_counts_direct_annotators(p_campaign bigint)
RETURNS TABLE (campaign_id bigint, annotator_id bigint, answers bigint, timed bigint,
               skips bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT x.campaign_id, x.annotator_id, sum(x.answers)::bigint, sum(x.timed)::bigint,
         sum(x.skips)::bigint
  FROM (SELECT a.campaign_id, a.annotator_id, count(*) AS answers,
               count(a.duration_ms) AS timed, 0 AS skips
        FROM annotation_annotation a WHERE p_campaign IS NULL OR a.campaign_id = p_campaign
        GROUP BY 1, 2
        UNION ALL
        SELECT s.campaign_id, s.annotator_id, 0, 0, count(*) FROM annotation_skip s
        WHERE p_campaign IS NULL OR s.campaign_id = p_campaign GROUP BY 1, 2) x
  GROUP BY 1, 2
$fn$;

-- Rewrites the counts of campaign p_campaign (NULL: every campaign) from the rows, with the
-- writers of the counted tables held off meanwhile (SHARE: readers go on), in shard 0.
CREATE OR REPLACE FUNCTION annotation_counts_rebuild(p_campaign bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  LOCK TABLE annotation_task, annotation_annotation, annotation_skip IN SHARE MODE;
  DELETE FROM annotation_iteration_counts c WHERE p_campaign IS NULL OR c.campaign_id = p_campaign;
  DELETE FROM annotation_answer_hours h WHERE p_campaign IS NULL OR h.campaign_id = p_campaign;
  DELETE FROM annotation_annotator_counts a WHERE p_campaign IS NULL OR a.campaign_id = p_campaign;
  DELETE FROM annotation_overlap o WHERE p_campaign IS NULL OR o.campaign_id = p_campaign;
  INSERT INTO annotation_iteration_counts (campaign_id, iteration, shard, tasks, done, skips,
                                           overlapping)
  SELECT d.campaign_id, d.iteration, 0, d.tasks, d.done, d.skips, d.overlapping
  FROM annotation_counts_direct_iterations(p_campaign) d;
  INSERT INTO annotation_answer_hours (campaign_id, iteration, hour, shard, answers)
  SELECT d.campaign_id, d.iteration, d.hour, 0, d.answers
  FROM annotation_counts_direct_hours(p_campaign) d;
  INSERT INTO annotation_annotator_counts (campaign_id, annotator_id, answers, timed, skips)
  SELECT d.campaign_id, d.annotator_id, d.answers, d.timed, d.skips
  FROM annotation_counts_direct_annotators(p_campaign) d;
  INSERT INTO annotation_overlap (task_id, campaign_id, iteration, answers, last_at, hash)
  SELECT d.task_id, d.campaign_id, d.iteration, d.answers, d.last_at, hashint8(d.task_id)
  FROM annotation_counts_direct_overlap(p_campaign) d;
END
$fn$;

-- TRUNCATE (Django's flush between transactional tests) fires no row or DELETE trigger: the
-- counts are rebuilt from what is left.
CREATE OR REPLACE FUNCTION annotation_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM annotation_counts_rebuild(NULL);
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS annotation_task_inserted_counted ON annotation_task;
CREATE TRIGGER annotation_task_inserted_counted AFTER INSERT ON annotation_task
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_tasks_counted();
DROP TRIGGER IF EXISTS annotation_task_updated_counted ON annotation_task;
CREATE TRIGGER annotation_task_updated_counted AFTER UPDATE ON annotation_task
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_tasks_counted();
DROP TRIGGER IF EXISTS annotation_task_deleted_counted ON annotation_task;
CREATE TRIGGER annotation_task_deleted_counted AFTER DELETE ON annotation_task
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_tasks_counted();
DROP TRIGGER IF EXISTS annotation_annotation_inserted_counted ON annotation_annotation;
CREATE TRIGGER annotation_annotation_inserted_counted AFTER INSERT ON annotation_annotation
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_answers_counted();
DROP TRIGGER IF EXISTS annotation_annotation_updated_counted ON annotation_annotation;
CREATE TRIGGER annotation_annotation_updated_counted AFTER UPDATE ON annotation_annotation
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_answers_counted();
DROP TRIGGER IF EXISTS annotation_annotation_deleted_counted ON annotation_annotation;
CREATE TRIGGER annotation_annotation_deleted_counted AFTER DELETE ON annotation_annotation
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_answers_counted();
DROP TRIGGER IF EXISTS annotation_skip_inserted_counted ON annotation_skip;
CREATE TRIGGER annotation_skip_inserted_counted AFTER INSERT ON annotation_skip
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_skips_counted();
DROP TRIGGER IF EXISTS annotation_skip_updated_counted ON annotation_skip;
CREATE TRIGGER annotation_skip_updated_counted AFTER UPDATE ON annotation_skip
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_skips_counted();
DROP TRIGGER IF EXISTS annotation_skip_deleted_counted ON annotation_skip;
CREATE TRIGGER annotation_skip_deleted_counted AFTER DELETE ON annotation_skip
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_skips_counted();
DROP TRIGGER IF EXISTS annotation_campaign_deleted_counted ON annotation_campaign;
CREATE TRIGGER annotation_campaign_deleted_counted AFTER DELETE ON annotation_campaign
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_campaigns_deleted();
DROP TRIGGER IF EXISTS annotation_task_truncated_counted ON annotation_task;
CREATE TRIGGER annotation_task_truncated_counted AFTER TRUNCATE ON annotation_task
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_counts_truncated();
DROP TRIGGER IF EXISTS annotation_annotation_truncated_counted ON annotation_annotation;
CREATE TRIGGER annotation_annotation_truncated_counted AFTER TRUNCATE ON annotation_annotation
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_counts_truncated();
DROP TRIGGER IF EXISTS annotation_skip_truncated_counted ON annotation_skip;
CREATE TRIGGER annotation_skip_truncated_counted AFTER TRUNCATE ON annotation_skip
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_counts_truncated();
DROP TRIGGER IF EXISTS annotation_campaign_truncated_counted ON annotation_campaign;
CREATE TRIGGER annotation_campaign_truncated_counted AFTER TRUNCATE ON annotation_campaign
  FOR EACH STATEMENT EXECUTE FUNCTION annotation_counts_truncated();
