DROP FUNCTION IF EXISTS annotation_task_submit(bigint, bigint, text[], text, integer, timestamptz);
DROP FUNCTION IF EXISTS annotation_task_next(bigint, text, bigint[], timestamptz, integer, integer);
DROP FUNCTION IF EXISTS annotation_task_payload(bigint, timestamptz);
DROP FUNCTION IF EXISTS annotation_task_refresh(bigint, integer, timestamptz);
