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
