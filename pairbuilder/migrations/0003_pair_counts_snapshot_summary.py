"""Two reads of the campaign page that grew with the library (issue 14, found by
``bench/bench_scale.py --n 1000000``: the page took 2.1 s there).

- Pairs per build and label, kept by statement-level triggers in the transaction of the pair
  rows (as annotation 0008 keeps the campaign counts: SPEC's counts from the database, not
  cached tallies): counting 23,000,000 pair rows through their index took 1.7 s. A plain table,
  not a model, with no foreign key (Django's flush truncates the builds without it; a TRUNCATE
  of the pairs empties it, a deleted build's rows go by trigger). The existing pairs are counted
  once here.
- ``Snapshot.summary``: the manifest's splits and dropped cross-split pairs, beside the
  manifest (every sticker's hash: 71 MB at 1,000,000 stickers; reading one key of it read it
  all, 0.45 s). Filled here from the existing manifests.
"""

from django.db import migrations, models

PAIR_COUNTS = """
CREATE TABLE pairbuilder_pair_counts (
  build_id bigint NOT NULL,
  label smallint NOT NULL,
  pairs bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (build_id, label)
);

-- One aggregate a statement (a COPY of 500,000 pairs is one upsert of two rows); deltas in
-- key order, so concurrent statements lock the count rows in one order.
CREATE FUNCTION pairbuilder_pair_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO pairbuilder_pair_counts AS c (build_id, label, pairs)
    SELECT build_id, label, count(*) FROM pair_rows_new GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (build_id, label) DO UPDATE SET pairs = c.pairs + EXCLUDED.pairs;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    INSERT INTO pairbuilder_pair_counts AS c (build_id, label, pairs)
    SELECT build_id, label, -count(*) FROM pair_rows_old GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (build_id, label) DO UPDATE SET pairs = c.pairs + EXCLUDED.pairs;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION pairbuilder_pair_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM pairbuilder_pair_counts;
  RETURN NULL;
END $$;

CREATE FUNCTION pairbuilder_pair_counts_build_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM pairbuilder_pair_counts WHERE build_id IN (SELECT id FROM builds_old);
  RETURN NULL;
END $$;

CREATE TRIGGER pair_counts_insert AFTER INSERT ON pairbuilder_pair
  REFERENCING NEW TABLE AS pair_rows_new
  FOR EACH STATEMENT EXECUTE FUNCTION pairbuilder_pair_counts_delta();
CREATE TRIGGER pair_counts_update AFTER UPDATE ON pairbuilder_pair
  REFERENCING OLD TABLE AS pair_rows_old NEW TABLE AS pair_rows_new
  FOR EACH STATEMENT EXECUTE FUNCTION pairbuilder_pair_counts_delta();
CREATE TRIGGER pair_counts_delete AFTER DELETE ON pairbuilder_pair
  REFERENCING OLD TABLE AS pair_rows_old
  FOR EACH STATEMENT EXECUTE FUNCTION pairbuilder_pair_counts_delta();
CREATE TRIGGER pair_counts_truncate AFTER TRUNCATE ON pairbuilder_pair
  FOR EACH STATEMENT EXECUTE FUNCTION pairbuilder_pair_counts_truncate();
CREATE TRIGGER pair_counts_build_gone AFTER DELETE ON pairbuilder_pairbuild
  REFERENCING OLD TABLE AS builds_old
  FOR EACH STATEMENT EXECUTE FUNCTION pairbuilder_pair_counts_build_gone();

INSERT INTO pairbuilder_pair_counts (build_id, label, pairs)
SELECT build_id, label, count(*) FROM pairbuilder_pair GROUP BY 1, 2;
"""

PAIR_COUNTS_REVERSE = """
DROP TRIGGER pair_counts_build_gone ON pairbuilder_pairbuild;
DROP TRIGGER pair_counts_truncate ON pairbuilder_pair;
DROP TRIGGER pair_counts_delete ON pairbuilder_pair;
DROP TRIGGER pair_counts_update ON pairbuilder_pair;
DROP TRIGGER pair_counts_insert ON pairbuilder_pair;
DROP FUNCTION pairbuilder_pair_counts_build_gone();
DROP FUNCTION pairbuilder_pair_counts_truncate();
DROP FUNCTION pairbuilder_pair_counts_delta();
DROP TABLE pairbuilder_pair_counts;
"""

SUMMARY_FILL = """
UPDATE pairbuilder_snapshot SET summary = jsonb_build_object(
  'splits', coalesce(manifest -> 'splits', '{}'::jsonb),
  'dropped', manifest -> 'split' -> 'dropped_cross_split_pairs');
"""


class Migration(migrations.Migration):

    dependencies = [
        ("pairbuilder", "0002_pair_build_label_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="snapshot",
            name="summary",
            field=models.JSONField(default=dict),
        ),
        migrations.RunSQL(SUMMARY_FILL, migrations.RunSQL.noop),
        migrations.RunSQL(PAIR_COUNTS, PAIR_COUNTS_REVERSE),
    ]
