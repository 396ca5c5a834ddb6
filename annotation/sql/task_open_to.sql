-- May p_user take task p_task (anchor p_anchor) of campaign p_campaign now?
-- Not if they skipped it (a skip returns the task to the others, not to the one who could not
-- judge it); not if they answered or hold a live lease on any task of the same anchor (the task
-- itself, and the other iteration: the two iterations of one anchor go to different people);
-- not if its answers plus live leases already fill p_per_task slots. Expired leases count for
-- nothing. Each test is an index probe, so the cost follows neither the campaign's size nor
-- the annotator's history.
CREATE OR REPLACE FUNCTION annotation_task_open_to(
  p_task bigint, p_anchor bigint, p_campaign bigint, p_per_task integer, p_user bigint,
  p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  RETURN NOT EXISTS (SELECT 1 FROM annotation_skip s
                     WHERE s.task_id = p_task AND s.annotator_id = p_user)
    AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_annotation a
                      ON a.task_id = mt.id AND a.annotator_id = p_user
                    WHERE mt.anchor_id = p_anchor AND mt.campaign_id = p_campaign)
    AND NOT EXISTS (SELECT 1 FROM annotation_task mt JOIN annotation_lease l
                      ON l.task_id = mt.id AND l.annotator_id = p_user
                    WHERE mt.anchor_id = p_anchor AND mt.campaign_id = p_campaign
                      AND l.expires_at > p_now)
    AND (SELECT count(*) FROM annotation_annotation a WHERE a.task_id = p_task)
      + (SELECT count(*) FROM annotation_lease l
         WHERE l.task_id = p_task AND l.expires_at > p_now) < p_per_task;
END
$fn$;
