-- What the annotator page needs for one task: the anchor and its candidates in rank order.
CREATE OR REPLACE FUNCTION annotation_task_payload(p_task bigint, p_expires timestamptz)
RETURNS json LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_payload json;
BEGIN
  SELECT json_build_object(
    'status', 'leased', 'id', t.id, 'iteration', t.iteration, 'anchor_id', t.anchor_id,
    'lease_expires_at', p_expires,
    'anchor', json_build_object(
      'sticker_id', s.sticker_id, 'file', s.file, 'media_type', s.media_type,
      'is_animated', s.is_animated, 'width', s.width, 'height', s.height),
    'candidates', (
      SELECT coalesce(json_agg(json_build_object(
        'rank', cd.rank, 'sticker_id', cs.sticker_id, 'file', cs.file,
        'media_type', cs.media_type, 'is_animated', cs.is_animated, 'width', cs.width,
        'height', cs.height) ORDER BY cd.rank), '[]'::json)
      FROM annotation_candidate cd JOIN annotation_sticker cs ON cs.id = cd.sticker_id
      WHERE cd.candidate_set_id = t.candidate_set_id))
  INTO v_payload
  FROM annotation_task t JOIN annotation_sticker s ON s.id = t.anchor_id
  WHERE t.id = p_task;
  RETURN v_payload;
END
$fn$;
