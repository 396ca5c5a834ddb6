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
