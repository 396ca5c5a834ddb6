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
