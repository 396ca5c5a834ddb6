-- After any change to a task's leases or answers, under the task's row lock: the task is done
-- once it has p_per_task answers; held_until (the pick's hint) is the earliest live lease's
-- expiry while answers + live leases fill every slot, else null. The only writer of both.
-- One statement, and no new row version when nothing changes (each task row update is
-- written to every index).
CREATE OR REPLACE FUNCTION annotation_task_refresh(
  p_task bigint, p_per_task integer, p_now timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  UPDATE annotation_task t SET status = n.status, held_until = n.held_until
  FROM (
    SELECT CASE WHEN a.answers >= p_per_task THEN 'done' ELSE o.status END AS status,
           CASE WHEN a.answers < p_per_task AND a.answers + l.leases >= p_per_task
                THEN l.first_expiry END AS held_until
    FROM annotation_task o,
         (SELECT count(*) AS answers FROM annotation_annotation WHERE task_id = p_task) a,
         (SELECT count(*) AS leases, min(expires_at) AS first_expiry FROM annotation_lease
          WHERE task_id = p_task AND expires_at > p_now) l
    WHERE o.id = p_task) n
  WHERE t.id = p_task
    AND (t.status, t.held_until) IS DISTINCT FROM (n.status, n.held_until);
END
$fn$;
