-- Does this round take one of its sticker's labeler slots (Game.labelers_per_sticker) at
-- p_now? Queries stored or coming (waiting, retrieving, done), or a labeler holding the
-- sticker on a live lease. A skipped round, or a labeler's lease run out, frees the slot.
CREATE OR REPLACE FUNCTION game_round_holds_slot(
  p_status text, p_labeler_expires_at timestamptz, p_now timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$
  SELECT p_status IN ('waiting', 'retrieving', 'done')
      OR (p_status = 'labeling' AND p_labeler_expires_at > p_now)
$fn$;
