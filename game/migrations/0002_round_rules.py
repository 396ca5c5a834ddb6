"""The Sticktionary round rules (``game/sql/``), installed from this migration's frozen copy."""

from django.db import migrations

from game.sql import frozen

REVERSE = """
DROP FUNCTION IF EXISTS game_retrieve_skip(bigint, bigint, timestamptz);
DROP FUNCTION IF EXISTS game_retrieve_submit(bigint, bigint, bigint[], integer, text,
                                             timestamptz);
DROP FUNCTION IF EXISTS game_retrieve_next(bigint, text, text, timestamptz, integer);
DROP FUNCTION IF EXISTS game_label_skip(bigint, bigint, timestamptz);
DROP FUNCTION IF EXISTS game_label_submit(bigint, bigint, text[], text[], bigint[], text,
                                          timestamptz);
DROP FUNCTION IF EXISTS game_label_next(bigint, text, text, timestamptz, integer);
DROP FUNCTION IF EXISTS game_round_accept_queries(bigint, timestamptz);
DROP FUNCTION IF EXISTS game_round_holds_slot(text, timestamptz, timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [("game", "0001_initial")]

    operations = [migrations.RunSQL(frozen("0002_round_rules"), reverse_sql=REVERSE)]
