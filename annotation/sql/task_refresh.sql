-- After any change to a task's leases or answers, under the task's row lock: the task is done
-- once it has p_per_task answers; held_until (the pick's hint) is the earliest live lease's
-- expiry while answers + live leases fill every slot, else null. The only writer of both.
-- No new row version when nothing changes (each task row update is written to every index),
-- and no UPDATE statement either: each fires the statement trigger that counts done tasks
-- (campaign_counts.sql).
CREATE OR REPLACE FUNCTION annotation_task_refresh(
  p_task bigint, p_per_task integer, p_now timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_status text;
  v_held timestamptz;
  v_new_status text;
  v_new_held timestamptz;
BEGIN
  SELECT o.status, o.held_until,
         CASE WHEN a.answers >= p_per_task THEN 'done' ELSE o.status END,
         CASE WHEN a.answers < p_per_task AND a.answers + l.leases >= p_per_task
              THEN l.first_expiry END
    INTO v_status, v_held, v_new_status, v_new_held
    FROM annotation_task o,
         (SELECT count(*) AS answers FROM annotation_annotation WHERE task_id = p_task) a,
         (SELECT count(*) AS leases, min(expires_at) AS first_expiry FROM annotation_lease
          WHERE task_id = p_task AND expires_at > p_now) l
    WHERE o.id = p_task;
  IF v_new_status IS DISTINCT FROM v_status THEN
    UPDATE annotation_task t SET status = v_new_status, held_until = v_new_held
      WHERE t.id = p_task;
  ELSIF v_new_held IS DISTINCT FROM v_held THEN
    UPDATE annotation_task t SET held_until = v_new_held WHERE t.id = p_task;
  END IF;
END
$fn$;
