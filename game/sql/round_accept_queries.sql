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
