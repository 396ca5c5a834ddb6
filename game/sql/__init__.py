"""The Sticktionary round rules in SQL (see README.md here): their install order and frozen
copies (``config.sql_rules``, as for ``annotation.sql``). ``python -m game.sql freeze
NNNN_name`` writes a new frozen copy.
"""

from pathlib import Path

from config.sql_rules import SqlRules

RULES = SqlRules(
    package="game.sql",
    sql_dir=Path(__file__).resolve().parent,
    install_order=(
        "query_counts.sql",
        "round_holds_slot.sql",
        "round_accept_queries.sql",
        "label_next.sql",
        "label_submit.sql",
        "label_skip.sql",
        "retrieve_next.sql",
        "retrieve_submit.sql",
        "retrieve_skip.sql",
    ),
    # The newest migration that installs the rules; tests/game/test_sql_rules.py compares.
    current_migration="0006_indexed_label_pick",
)
CURRENT_MIGRATION = RULES.current_migration
current_text, frozen, freeze, main = RULES.current_text, RULES.frozen, RULES.freeze, RULES.main
