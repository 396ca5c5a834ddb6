"""``game_label_next`` walks ``game_stickerquerycount``'s index (fewest queries first) instead
of counting every sticker's queries. Installed from this migration's frozen copy.

Reversing installs 0004's copy again (the pick that counts)."""

from django.db import migrations

from game.sql import frozen


class Migration(migrations.Migration):
    dependencies = [("game", "0005_term_vectors")]

    operations = [migrations.RunSQL(frozen("0006_indexed_label_pick"),
                                    reverse_sql=frozen("0004_query_counts"))]
