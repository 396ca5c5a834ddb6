DROP FUNCTION IF EXISTS annotation_task_submit_next(
  bigint, bigint, text[], text, integer, timestamptz, text, bigint[], integer, integer);

DROP INDEX IF EXISTS annotation_task_free_idx;
DROP INDEX IF EXISTS annotation_task_held_idx;
