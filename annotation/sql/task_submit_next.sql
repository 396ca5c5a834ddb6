-- Stores an answer and leases the next task in one call and one transaction:
-- {"submitted": annotation_task_submit's answer, "next": annotation_task_next's, or null when
-- the answer was refused}. An unknown campaign is refused before anything is stored.
CREATE OR REPLACE FUNCTION annotation_task_submit_next(
  p_user bigint, p_task bigint, p_selected text[], p_submission text, p_duration integer,
  p_now timestamptz, p_campaign text, p_exclude bigint[], p_max_leases integer,
  p_attempts integer)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_submitted json;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM annotation_campaign c WHERE c.name = p_campaign) THEN
    RETURN json_build_object('submitted', NULL, 'next', json_build_object('status', 'no_campaign'));
  END IF;
  v_submitted := annotation_task_submit(p_user, p_task, p_selected, p_submission, p_duration,
                                        p_now);
  IF v_submitted->>'status' NOT IN ('stored', 'repeat') THEN
    RETURN json_build_object('submitted', v_submitted, 'next', NULL);
  END IF;
  RETURN json_build_object(
    'submitted', v_submitted,
    'next', annotation_task_next(p_user, p_campaign, p_exclude, p_now, p_max_leases,
                                 p_attempts));
END
$fn$;
