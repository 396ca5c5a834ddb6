"""The campaign page's counts kept by the database (issue 14): tasks, done, skips and
overlapping tasks per iteration, answers per hour, answers, timed answers and skips per
annotator, and the overlapping tasks themselves, each updated by statement-level triggers in
the transaction of the rows it counts (``annotation/sql/campaign_counts.sql``, installed from
this migration's frozen copy with every rule), so a figure cannot drift from its rows (SPEC:
"counts come from the database, not from cached tallies"; Label Studio #7902). On a campaign
of 2,000,000 tasks and 1,000,000 answers the page read every task and answer index entry to
count them (1.7 s of PostgreSQL CPU); it now reads a few hundred rows, and the answers'
``(campaign, task)`` index that those counts scanned is dropped (one index less to write per
submitted answer).

Plain tables, not models: only the triggers write them, only ``annotation.stats`` and
``annotation.services.campaign_counts`` read them. No foreign keys: Django's flush truncates
the campaigns without them (a TRUNCATE trigger rebuilds the counts instead), and a deleted
campaign's rows go with it by trigger. The existing rows are counted once here. Reversing
drops the triggers, functions and tables and reinstalls 0007's rules and 0006's trigger
function (0008's locks an answer's task).
"""

from django.db import migrations

from annotation.sql import frozen

# fillfactor 50: a count row is updated on every submit; room on its page keeps the update
# HOT (no index entry per update).
TABLES = """
CREATE TABLE annotation_iteration_counts (
  campaign_id bigint NOT NULL,
  iteration smallint NOT NULL,
  shard smallint NOT NULL,
  tasks bigint NOT NULL DEFAULT 0,
  done bigint NOT NULL DEFAULT 0,
  skips bigint NOT NULL DEFAULT 0,
  overlapping bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, iteration, shard)
) WITH (fillfactor = 50);
CREATE TABLE annotation_answer_hours (
  campaign_id bigint NOT NULL,
  iteration smallint NOT NULL,
  hour timestamptz NOT NULL,
  shard smallint NOT NULL,
  answers bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, iteration, hour, shard)
) WITH (fillfactor = 50);
CREATE TABLE annotation_annotator_counts (
  campaign_id bigint NOT NULL,
  annotator_id bigint NOT NULL,
  answers bigint NOT NULL DEFAULT 0,
  timed bigint NOT NULL DEFAULT 0,
  skips bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, annotator_id)
) WITH (fillfactor = 50);
CREATE TABLE annotation_overlap (
  task_id bigint PRIMARY KEY,
  campaign_id bigint NOT NULL,
  iteration smallint NOT NULL,
  answers integer NOT NULL,
  last_at timestamptz NOT NULL,
  hash integer NOT NULL
);
-- The agreement's sample: a campaign's overlapping tasks in hash order, index-only.
CREATE INDEX annotation_overlap_sample_idx ON annotation_overlap (campaign_id, hash, task_id)
  INCLUDE (answers, last_at);
"""

TABLES_REVERSE = """
DROP TABLE IF EXISTS annotation_overlap, annotation_annotator_counts, annotation_answer_hours,
  annotation_iteration_counts;
"""

# Migration 0006's trigger function as it was (0008 adds the answer's lock on its task).
TASK_COPY_0006 = """
CREATE OR REPLACE FUNCTION annotation_annotation_task_copy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT t.campaign_id, t.iteration INTO NEW.campaign_id, NEW.iteration
    FROM annotation_task t WHERE t.id = NEW.task_id;
  RETURN NEW;
END $$;
"""

RULES_REVERSE = """
DROP TRIGGER IF EXISTS annotation_task_inserted_counted ON annotation_task;
DROP TRIGGER IF EXISTS annotation_task_updated_counted ON annotation_task;
DROP TRIGGER IF EXISTS annotation_task_deleted_counted ON annotation_task;
DROP TRIGGER IF EXISTS annotation_task_truncated_counted ON annotation_task;
DROP TRIGGER IF EXISTS annotation_annotation_inserted_counted ON annotation_annotation;
DROP TRIGGER IF EXISTS annotation_annotation_updated_counted ON annotation_annotation;
DROP TRIGGER IF EXISTS annotation_annotation_deleted_counted ON annotation_annotation;
DROP TRIGGER IF EXISTS annotation_annotation_truncated_counted ON annotation_annotation;
DROP TRIGGER IF EXISTS annotation_skip_inserted_counted ON annotation_skip;
DROP TRIGGER IF EXISTS annotation_skip_updated_counted ON annotation_skip;
DROP TRIGGER IF EXISTS annotation_skip_deleted_counted ON annotation_skip;
DROP TRIGGER IF EXISTS annotation_skip_truncated_counted ON annotation_skip;
DROP TRIGGER IF EXISTS annotation_campaign_deleted_counted ON annotation_campaign;
DROP TRIGGER IF EXISTS annotation_campaign_truncated_counted ON annotation_campaign;
DROP FUNCTION IF EXISTS annotation_tasks_counted(), annotation_answers_counted(),
  annotation_skips_counted(), annotation_campaigns_deleted(), annotation_counts_truncated(),
  annotation_overlap_refresh(bigint[]), annotation_counts_rebuild(bigint),
  annotation_counts_direct_iterations(bigint), annotation_counts_direct_hours(bigint),
  annotation_counts_direct_annotators(bigint), annotation_counts_direct_overlap(bigint);
""" + frozen("0007_task_open_to_inlined") + TASK_COPY_0006

BACKFILL = "SELECT annotation_counts_rebuild(NULL);"


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_task_open_to_inlined")]

    operations = [
        # The statistics read the counts now; one index less to write per answer.
        migrations.RemoveIndex(model_name="annotation", name="annotation_campaign_task_idx"),
        migrations.RunSQL(TABLES, reverse_sql=TABLES_REVERSE),
        migrations.RunSQL(frozen("0008_campaign_counts"), reverse_sql=RULES_REVERSE),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
