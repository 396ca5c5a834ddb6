"""Per-sticker query counts and a change log of annotation_query, kept by triggers
(``game/sql/query_counts.sql``, installed from this migration's frozen copy with every rule):
the labeler's pick walks the counts' index, the search reads the log's signature. The counts
of the stickers already there are filled once here."""

import django.db.models.deletion
from django.db import migrations, models

from game.sql import frozen

BACKFILL = """
INSERT INTO game_stickerquerycount (sticker_id, language, queries)
SELECT s.id, l.language, 0 FROM annotation_sticker s
CROSS JOIN (VALUES ('en'), ('zh')) AS l (language)
ON CONFLICT (sticker_id, language) DO NOTHING;
INSERT INTO game_stickerquerycount AS c (sticker_id, language, queries)
SELECT sticker_id, language, count(*) FROM annotation_query GROUP BY sticker_id, language
ON CONFLICT (sticker_id, language) DO UPDATE SET queries = EXCLUDED.queries;
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS game_query_inserted ON annotation_query;
DROP TRIGGER IF EXISTS game_query_updated ON annotation_query;
DROP TRIGGER IF EXISTS game_query_deleted ON annotation_query;
DROP TRIGGER IF EXISTS game_query_truncated ON annotation_query;
DROP TRIGGER IF EXISTS game_sticker_inserted ON annotation_sticker;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0005_campaign_train_on_export'),
        ('game', '0003_accept_in_key_order'),
    ]

    operations = [
        migrations.CreateModel(
            name='QueryChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('language', models.CharField(max_length=16)),
                ('changes', models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name='StickerQueryCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('language', models.CharField(max_length=16)),
                ('queries', models.IntegerField(default=0)),
                ('sticker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.sticker')),
            ],
            options={
                'indexes': [models.Index(fields=['language', 'queries', 'sticker'], name='game_sqc_pick_idx')],
                'constraints': [models.UniqueConstraint(fields=('sticker', 'language'), name='game_stickerquerycount_unique')],
            },
        ),
        migrations.RunSQL(frozen("0004_query_counts"), reverse_sql=DROP_TRIGGERS),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
