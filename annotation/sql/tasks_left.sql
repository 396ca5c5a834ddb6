-- Anchors of campaign p_campaign that p_user could still take: open tasks not fully held, open
-- to them (annotation_task_open_to), one per anchor (the two iterations go to different
-- people). The annotator page's "left for me".
CREATE OR REPLACE FUNCTION annotation_tasks_left(p_user bigint, p_campaign bigint,
                                                 p_now timestamptz)
RETURNS integer LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_per_task integer;
  v_left integer;
BEGIN
  SELECT c.annotators_per_task INTO v_per_task FROM annotation_campaign c WHERE c.id = p_campaign;
  SELECT count(DISTINCT t.anchor_id) INTO v_left FROM annotation_task t
  WHERE t.campaign_id = p_campaign AND t.status = 'open'
    AND (t.held_until IS NULL OR t.held_until <= p_now)
    AND EXISTS (SELECT FROM annotation_task_open_to(
          t.id, t.anchor_id, p_campaign, v_per_task, p_user, p_now));
  RETURN v_left;
END
$fn$;
