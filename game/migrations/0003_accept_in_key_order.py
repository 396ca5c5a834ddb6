"""``game_round_accept_queries`` adds a round's queries in key order (no deadlock between two
rounds of one sticker accepted at once). Installed from this migration's frozen copy.

Reversing keeps this version (``CREATE OR REPLACE`` of the same signatures): 0002's behaviour
differs only in the insertion order.
"""

from django.db import migrations

from game.sql import frozen


class Migration(migrations.Migration):
    dependencies = [("game", "0002_round_rules")]

    operations = [migrations.RunSQL(frozen("0003_accept_in_key_order"),
                                    reverse_sql=migrations.RunSQL.noop)]
