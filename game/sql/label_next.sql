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
