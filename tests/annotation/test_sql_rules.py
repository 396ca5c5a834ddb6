"""The SQL files are the rules the database runs: the newest migration's frozen copy is them."""

from annotation.sql import CURRENT_MIGRATION, current_text, frozen


def test_the_newest_frozen_copy_equals_the_sql_files():
    # given the rules as annotation/sql/ says, and what the newest migration installs
    # then they are the same text: a changed rule needs a new migration
    assert frozen(CURRENT_MIGRATION) == current_text(), (
        "annotation/sql/ changed: run `python -m annotation.sql freeze NNNN_name`, add a "
        "migration that installs it, and set CURRENT_MIGRATION")


def test_no_migration_reads_another_migrations_text():
    from pathlib import Path

    for path in (Path(__file__).parents[2] / "annotation" / "migrations").glob("0*.py"):
        text = path.read_text()
        assert "import_module" not in text and "migrations.0" not in text, path.name
