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
