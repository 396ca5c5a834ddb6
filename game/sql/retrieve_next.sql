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
