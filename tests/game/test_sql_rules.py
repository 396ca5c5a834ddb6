"""The game's rules in SQL have one copy (``game/sql/``), installed from frozen copies."""

from game.sql import CURRENT_MIGRATION, current_text, frozen


def test_the_newest_migration_installs_the_rules_as_the_files_say():
    # given the files and the newest migration's frozen copy
    # then they are the same text: a changed rule needs a new migration (python -m game.sql)
    assert frozen(CURRENT_MIGRATION) == current_text(), (
        "game/sql changed: run `python -m game.sql freeze NNNN_name` and add a migration")
