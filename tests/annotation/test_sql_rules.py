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


def test_the_filter_is_inlined_into_its_callers(db):
    # given the filter as the pick asks for it
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN SELECT t.id FROM annotation_task t WHERE EXISTS (SELECT FROM "
                    "annotation_task_open_to(t.id, t.anchor_id, t.campaign_id, 1, 1, now()))")
        plan = "\n".join(row[0] for row in cur.fetchall())
    # then the planner runs its tests as part of the query, not as a function call per row
    # (a SET clause, PL/pgSQL or a scalar return type would each stop the inlining)
    assert "Function Scan" not in plan and "annotation_task_open_to" not in plan, plan
    assert "annotation_skip" in plan, plan
