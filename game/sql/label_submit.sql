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
