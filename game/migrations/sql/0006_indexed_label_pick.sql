-- Keeps two tables in step with annotation_query, one statement at a time (statement-level
-- triggers with transition tables: a COPY or bulk INSERT of a million queries costs one pass):
-- * game_querychange: per statement and language, how many rows changed. The search index's
--   freshness signature is (max id, sum of changes) of a language: both visible exactly when
--   the change commits, and cheap to read (a handful of rows once compacted).
-- * game_stickerquerycount: each sticker's query count per language; the labeler's pick walks
--   its index (language, queries, sticker) instead of counting every sticker's queries.
-- Rows are added in (sticker, language) order, as game_round_accept_queries adds queries, so
-- two statements on the same stickers lock their counts in the same order.
CREATE OR REPLACE FUNCTION game_query_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO game_querychange (language, changes) VALUES ('*', 1);
    UPDATE game_stickerquerycount SET queries = 0 WHERE queries <> 0;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO game_querychange (language, changes)
    SELECT n.language, count(*) FROM new_rows n GROUP BY n.language ORDER BY n.language;
    INSERT INTO game_stickerquerycount AS c (sticker_id, language, queries)
    SELECT n.sticker_id, n.language, count(*) FROM new_rows n
    GROUP BY n.sticker_id, n.language ORDER BY n.sticker_id, n.language
    ON CONFLICT (sticker_id, language) DO UPDATE SET queries = c.queries + EXCLUDED.queries;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- an UPDATE is logged under its old language(s) too: a query moved from en to zh
    -- changes both indexes
    INSERT INTO game_querychange (language, changes)
    SELECT o.language, count(*) FROM old_rows o GROUP BY o.language ORDER BY o.language;
    UPDATE game_stickerquerycount c SET queries = c.queries - o.n
    FROM (SELECT sticker_id, language, count(*) AS n FROM old_rows
          GROUP BY sticker_id, language ORDER BY sticker_id, language) o
    WHERE c.sticker_id = o.sticker_id AND c.language = o.language;
  END IF;
  RETURN NULL;
END
$fn$;

-- A new sticker starts with no query in each of the game's languages (game.models.Language),
-- so the pick finds it at the head of the index.
CREATE OR REPLACE FUNCTION game_sticker_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO game_stickerquerycount (sticker_id, language, queries)
  SELECT s.id, l.language, 0 FROM new_stickers s
  CROSS JOIN (VALUES ('en'), ('zh')) AS l (language)
  ORDER BY s.id, l.language
  ON CONFLICT (sticker_id, language) DO NOTHING;
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS game_query_inserted ON annotation_query;
CREATE TRIGGER game_query_inserted AFTER INSERT ON annotation_query
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_updated ON annotation_query;
CREATE TRIGGER game_query_updated AFTER UPDATE ON annotation_query
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_deleted ON annotation_query;
CREATE TRIGGER game_query_deleted AFTER DELETE ON annotation_query
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_truncated ON annotation_query;
CREATE TRIGGER game_query_truncated AFTER TRUNCATE ON annotation_query
  FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_sticker_inserted ON annotation_sticker;
CREATE TRIGGER game_sticker_inserted AFTER INSERT ON annotation_sticker
  REFERENCING NEW TABLE AS new_stickers FOR EACH STATEMENT EXECUTE FUNCTION game_sticker_added();

-- Does this round take one of its sticker's labeler slots (Game.labelers_per_sticker) at
-- p_now? Queries stored or coming (waiting, retrieving, done), or a labeler holding the
-- sticker on a live lease. A skipped round, or a labeler's lease run out, frees the slot.
CREATE OR REPLACE FUNCTION game_round_holds_slot(
  p_status text, p_labeler_expires_at timestamptz, p_now timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$
  SELECT p_status IN ('waiting', 'retrieving', 'done')
      OR (p_status = 'labeling' AND p_labeler_expires_at > p_now)
$fn$;

-- Adds the labeler's queries of round p_round to the sticker's Q_i (annotation_query, source
-- 'game', in the round's language) and links each round query to the Q_i row it became. A
-- query the sticker already has (same normalised text) is not added again: the round query
-- links to the existing row. Called when a retriever finds the target and when an admin
-- accepts a failed round. Returns the number of Q_i rows added.
CREATE OR REPLACE FUNCTION game_round_accept_queries(p_round bigint, p_now timestamptz)
RETURNS integer LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_added integer;
BEGIN
  INSERT INTO annotation_query (sticker_id, text, normalized, language, source, created_at)
  SELECT r.sticker_id, q.text, q.normalized, r.language, 'game', p_now
  FROM game_roundquery q JOIN game_round r ON r.id = q.round_id
  WHERE q.round_id = p_round AND q.role = 'label'
  -- In key order, not typing order: two rounds of one sticker accepted at once then wait on
  -- each other's new keys in the same order, never in a cycle (a deadlock).
  ORDER BY q.normalized
  ON CONFLICT (sticker_id, language, normalized) DO NOTHING;
  GET DIAGNOSTICS v_added = ROW_COUNT;
  UPDATE game_roundquery q SET query_id = a.id
  FROM game_round r, annotation_query a
  WHERE q.round_id = p_round AND q.role = 'label' AND r.id = q.round_id
    AND a.sticker_id = r.sticker_id AND a.language = r.language
    AND a.normalized = q.normalized;
  RETURN v_added;
END
$fn$;

-- Gives p_user a sticker to label in game p_game, language p_language: {"status": "leased",
-- "round_id": ...}, {"status": "none"} or {"status": "no_game"}. The labeler's own round in
-- progress comes back first (a refresh never takes a second sticker), its lease renewed.
-- Otherwise a new round on the sticker with the fewest queries in that language (ties: oldest
-- sticker first), among those with a free labeler slot that this player never labelled.
-- The walk reads game_stickerquerycount's index (language, queries, sticker) from its head and
-- stops at p_attempts stickers it may take: it costs the stickers it passes over (those whose
-- slots are all held, or that this player labelled), not the library's size. Counting every
-- sticker's queries to rank them took ~250 ms at 50,000 stickers.
-- Two labelers never take the same last slot: each candidate sticker is claimed with a
-- transaction-level advisory lock (namespace 1406215, skipped when held: SKIP LOCKED for a row
-- we must not lock) and re-counted under it, in a new statement.
CREATE OR REPLACE FUNCTION game_label_next(
  p_user bigint, p_game text, p_language text, p_now timestamptz, p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_game bigint;
  v_per integer;
  v_lease integer;
  v_round bigint;
  v_sticker bigint;
BEGIN
  SELECT g.id, g.labelers_per_sticker, g.lease_seconds INTO v_game, v_per, v_lease
    FROM game_game g WHERE g.name = p_game;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_game');
  END IF;
  -- One player's requests one at a time (two tabs, a retried POST); namespace 1406214.
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);

  UPDATE game_round r SET labeler_expires_at = p_now + v_lease * interval '1 second'
  WHERE r.id = (SELECT o.id FROM game_round o
                WHERE o.game_id = v_game AND o.labeler_id = p_user AND o.status = 'labeling'
                  AND o.language = p_language
                ORDER BY o.created_at, o.id LIMIT 1)
  RETURNING r.id INTO v_round;
  IF v_round IS NOT NULL THEN
    RETURN json_build_object('status', 'leased', 'round_id', v_round);
  END IF;

  FOR v_sticker IN
    SELECT c.sticker_id FROM game_stickerquerycount c
    WHERE c.language = p_language
      AND NOT EXISTS (SELECT 1 FROM game_round o WHERE o.game_id = v_game
                        AND o.sticker_id = c.sticker_id AND o.labeler_id = p_user)
      AND (SELECT count(*) FROM game_round o
           WHERE o.game_id = v_game AND o.sticker_id = c.sticker_id AND o.language = p_language
             AND game_round_holds_slot(o.status, o.labeler_expires_at, p_now)) < v_per
    ORDER BY c.queries, c.sticker_id
    LIMIT p_attempts
  LOOP
    IF pg_try_advisory_xact_lock(1406215, mod(v_sticker, 2147483647)::integer) THEN
      -- Under the sticker's lock, in a new snapshot: a round committed by the lock's previous
      -- holder is counted now.
      INSERT INTO game_round (game_id, sticker_id, language, labeler_id, status,
                              labeler_expires_at, labeler_submission_id, candidates,
                              retriever_submission_id, review, created_at)
      SELECT v_game, v_sticker, p_language, p_user, 'labeling',
             p_now + v_lease * interval '1 second', '', '{}', '', '', p_now
      WHERE (SELECT count(*) FROM game_round o
             WHERE o.game_id = v_game AND o.sticker_id = v_sticker AND o.language = p_language
               AND game_round_holds_slot(o.status, o.labeler_expires_at, p_now)) < v_per
        AND NOT EXISTS (SELECT 1 FROM game_round o WHERE o.game_id = v_game
                        AND o.sticker_id = v_sticker AND o.labeler_id = p_user)
      RETURNING id INTO v_round;
      IF v_round IS NOT NULL THEN
        RETURN json_build_object('status', 'leased', 'round_id', v_round);
      END IF;
    END IF;
  END LOOP;
  RETURN json_build_object('status', 'none');
END
$fn$;

-- Stores p_user's queries for round p_round (p_texts as typed, p_normalized their compared
-- form, same order, already de-duplicated by the service) and the retriever's grid
-- p_candidates; the round then waits for a retriever. Returns {"status": ...}: stored, repeat
-- (the round's queries were stored before: a resent submission stores nothing), skipped,
-- no_round, not_yours.
CREATE OR REPLACE FUNCTION game_label_submit(
  p_user bigint, p_round bigint, p_texts text[], p_normalized text[], p_candidates bigint[],
  p_submission text, p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_labeler bigint;
  v_status text;
BEGIN
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);
  SELECT r.labeler_id, r.status INTO v_labeler, v_status
    FROM game_round r WHERE r.id = p_round FOR UPDATE;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_round');
  END IF;
  IF v_labeler <> p_user THEN
    RETURN json_build_object('status', 'not_yours');
  END IF;
  IF v_status = 'skipped' THEN
    RETURN json_build_object('status', 'skipped');
  END IF;
  IF v_status <> 'labeling' THEN
    RETURN json_build_object('status', 'repeat');
  END IF;
  INSERT INTO game_roundquery (round_id, author_id, role, position, text, normalized,
                               created_at)
  SELECT p_round, p_user, 'label', u.ord, u.t, u.n, p_now
  FROM unnest(p_texts, p_normalized) WITH ORDINALITY AS u(t, n, ord);
  UPDATE game_round SET status = 'waiting', labeled_at = p_now, candidates = p_candidates,
                        labeler_submission_id = p_submission
  WHERE id = p_round;
  RETURN json_build_object('status', 'stored');
END
$fn$;

-- The labeler skips round p_round: it stores nothing and frees the sticker's slot; the sticker
-- never comes back to this labeler. Returns {"status": skipped | no_round | not_yours |
-- submitted}; skipping twice is skipped.
CREATE OR REPLACE FUNCTION game_label_skip(p_user bigint, p_round bigint, p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_labeler bigint;
  v_status text;
BEGIN
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);
  SELECT r.labeler_id, r.status INTO v_labeler, v_status
    FROM game_round r WHERE r.id = p_round FOR UPDATE;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_round');
  END IF;
  IF v_labeler <> p_user THEN
    RETURN json_build_object('status', 'not_yours');
  END IF;
  IF v_status NOT IN ('labeling', 'skipped') THEN
    RETURN json_build_object('status', 'submitted');
  END IF;
  UPDATE game_round SET status = 'skipped', labeler_expires_at = p_now WHERE id = p_round;
  RETURN json_build_object('status', 'skipped');
END
$fn$;

-- Gives p_user a round to retrieve in game p_game, language p_language: {"status": "leased",
-- "round_id": ...}, {"status": "none"} or {"status": "no_game"}. Their own live round comes
-- back first (renewed). Otherwise the round waiting longest whose sticker this player never
-- saw the answer to: not a round of a sticker they labelled (their own rounds included), not a
-- sticker they retrieved before, not a round they skipped. Rounds are taken with FOR UPDATE
-- SKIP LOCKED and re-checked by the UPDATE, so two retrievers never get the same round; a
-- retriever's lease run out puts the round back.
CREATE OR REPLACE FUNCTION game_retrieve_next(
  p_user bigint, p_game text, p_language text, p_now timestamptz, p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_game bigint;
  v_lease integer;
  v_round bigint;
  v_taken bigint;
BEGIN
  SELECT g.id, g.lease_seconds INTO v_game, v_lease FROM game_game g WHERE g.name = p_game;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_game');
  END IF;
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);

  UPDATE game_round r SET retriever_expires_at = p_now + v_lease * interval '1 second'
  WHERE r.id = (SELECT o.id FROM game_round o
                WHERE o.game_id = v_game AND o.retriever_id = p_user
                  AND o.status = 'retrieving' AND o.language = p_language
                  AND o.retriever_expires_at > p_now
                ORDER BY o.labeled_at, o.id LIMIT 1)
  RETURNING r.id INTO v_round;
  IF v_round IS NOT NULL THEN
    RETURN json_build_object('status', 'leased', 'round_id', v_round);
  END IF;

  FOR attempt IN 1..p_attempts LOOP
    SELECT r.id INTO v_round FROM game_round r
    WHERE r.game_id = v_game AND r.language = p_language AND r.labeler_id <> p_user
      AND (r.status = 'waiting' OR (r.status = 'retrieving' AND r.retriever_expires_at <= p_now))
      AND NOT EXISTS (SELECT 1 FROM game_round o
                      WHERE o.game_id = v_game AND o.sticker_id = r.sticker_id
                        AND (o.labeler_id = p_user OR o.retriever_id = p_user))
      AND NOT EXISTS (SELECT 1 FROM game_roundskip k
                      WHERE k.round_id = r.id AND k.player_id = p_user)
    ORDER BY r.labeled_at, r.id LIMIT 1
    FOR UPDATE OF r SKIP LOCKED;
    IF NOT FOUND THEN
      RETURN json_build_object('status', 'none');
    END IF;
    -- Under the row lock: still free? (The pick's snapshot may predate another's commit.)
    UPDATE game_round SET status = 'retrieving', retriever_id = p_user,
                          retriever_expires_at = p_now + v_lease * interval '1 second'
    WHERE id = v_round
      AND (status = 'waiting' OR (status = 'retrieving' AND retriever_expires_at <= p_now))
    RETURNING id INTO v_taken;
    IF v_taken IS NOT NULL THEN
      RETURN json_build_object('status', 'leased', 'round_id', v_taken);
    END IF;
  END LOOP;
  RETURN json_build_object('status', 'none');
END
$fn$;

-- Stores p_user's ranked picks (Sticker primary keys, rank 1 first) for the round they hold.
-- Success when the target is among them; the labeler's queries then join the sticker's Q_i
-- (game_round_accept_queries), otherwise the round waits for an admin's review. Returns
-- {"status": stored | repeat, "rank": the target's rank or null} or {"status": no_round |
-- not_yours | outside (with "ids") | too_many}. A resent submission stores nothing more.
CREATE OR REPLACE FUNCTION game_retrieve_submit(
  p_user bigint, p_round bigint, p_picks bigint[], p_max_picks integer, p_submission text,
  p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_round game_round%ROWTYPE;
  v_outside bigint[];
  v_rank integer;
BEGIN
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);
  SELECT * INTO v_round FROM game_round r WHERE r.id = p_round FOR UPDATE;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_round');
  END IF;
  IF v_round.retriever_id IS DISTINCT FROM p_user
     OR v_round.status NOT IN ('retrieving', 'done') THEN
    RETURN json_build_object('status', 'not_yours');
  END IF;
  IF v_round.status = 'done' THEN
    SELECT p.rank INTO v_rank FROM game_roundpick p
    WHERE p.round_id = p_round AND p.sticker_id = v_round.sticker_id;
    RETURN json_build_object('status', 'repeat', 'rank', v_rank);
  END IF;
  IF cardinality(p_picks) > p_max_picks
     OR cardinality(p_picks) <> (SELECT count(DISTINCT x) FROM unnest(p_picks) x) THEN
    RETURN json_build_object('status', 'too_many');
  END IF;
  SELECT coalesce(array_agg(x), '{}') INTO v_outside FROM unnest(p_picks) x
  WHERE x <> ALL(v_round.candidates);
  IF cardinality(v_outside) > 0 THEN
    RETURN json_build_object('status', 'outside', 'ids', v_outside);
  END IF;
  INSERT INTO game_roundpick (round_id, sticker_id, rank)
  SELECT p_round, u.s, u.ord FROM unnest(p_picks) WITH ORDINALITY AS u(s, ord);
  v_rank := array_position(p_picks, v_round.sticker_id);
  UPDATE game_round SET status = 'done', retrieved_at = p_now,
                        retriever_submission_id = p_submission,
                        review = CASE WHEN v_rank IS NULL THEN 'pending' ELSE '' END
  WHERE id = p_round;
  IF v_rank IS NOT NULL THEN
    PERFORM game_round_accept_queries(p_round, p_now);
  END IF;
  RETURN json_build_object('status', 'stored', 'rank', v_rank);
END
$fn$;

-- The retriever skips round p_round: it goes back to the other retrievers, never to this one
-- again. Returns {"status": skipped | no_round | not_yours | submitted}.
CREATE OR REPLACE FUNCTION game_retrieve_skip(p_user bigint, p_round bigint, p_now timestamptz)
RETURNS json LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_retriever bigint;
  v_status text;
BEGIN
  PERFORM pg_advisory_xact_lock(1406214, mod(p_user, 2147483647)::integer);
  SELECT r.retriever_id, r.status INTO v_retriever, v_status
    FROM game_round r WHERE r.id = p_round FOR UPDATE;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_round');
  END IF;
  IF EXISTS (SELECT 1 FROM game_roundskip k WHERE k.round_id = p_round
             AND k.player_id = p_user) THEN
    RETURN json_build_object('status', 'skipped');
  END IF;
  IF v_retriever IS DISTINCT FROM p_user OR v_status <> 'retrieving' THEN
    RETURN json_build_object('status',
                             CASE WHEN v_status = 'done' AND v_retriever = p_user
                                  THEN 'submitted' ELSE 'not_yours' END);
  END IF;
  INSERT INTO game_roundskip (round_id, player_id, created_at) VALUES (p_round, p_user, p_now);
  UPDATE game_round SET status = 'waiting', retriever_id = NULL, retriever_expires_at = NULL
  WHERE id = p_round;
  RETURN json_build_object('status', 'skipped');
END
$fn$;
