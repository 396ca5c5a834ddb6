"""The annotation rules in SQL (see README.md here): their install order and frozen copies
(``config.sql_rules``). ``python -m annotation.sql freeze NNNN_name`` writes a new frozen copy.
"""

from pathlib import Path

from config.sql_rules import SqlRules

RULES = SqlRules(
    package="annotation.sql",
    sql_dir=Path(__file__).resolve().parent,
    install_order=(
        "task_open_to.sql",
        "task_refresh.sql",
        "task_payload.sql",
        "task_next.sql",
        "task_submit.sql",
        "task_skip.sql",
        "task_submit_next.sql",
        "tasks_left.sql",
        "campaign_counts.sql",
    ),
    current_migration="0008_campaign_counts",
)
CURRENT_MIGRATION = RULES.current_migration
current_text, frozen, freeze, main = RULES.current_text, RULES.frozen, RULES.freeze, RULES.main
