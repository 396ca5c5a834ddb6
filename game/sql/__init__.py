"""The Sticktionary round rules in SQL (see README.md here): their install order and frozen
copies, the same mechanism as ``annotation.sql``.

Migrations install a frozen copy each (``game/migrations/sql/<migration>.sql``), never these
files directly: a migration must keep doing what it did when it was written, whatever the
files say later. ``python -m game.sql freeze NNNN_name`` writes a new frozen copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent
FROZEN_DIR = SQL_DIR.parent / "migrations" / "sql"
# Dependencies first (a PL/pgSQL body is checked only when called, but a reader follows the
# same order).
INSTALL_ORDER = (
    "round_holds_slot.sql",
    "round_accept_queries.sql",
    "label_next.sql",
    "label_submit.sql",
    "label_skip.sql",
    "retrieve_next.sql",
    "retrieve_submit.sql",
    "retrieve_skip.sql",
)
# The newest migration that installs the rules; tests/game/test_sql_rules.py compares with it.
CURRENT_MIGRATION = "0003_accept_in_key_order"


def current_text() -> str:
    """The rules as these files say, in install order, as one script."""
    return "\n".join((SQL_DIR / name).read_text() for name in INSTALL_ORDER)


def frozen(migration: str) -> str:
    """The frozen copy a migration installs."""
    return (FROZEN_DIR / f"{migration}.sql").read_text()


def freeze(migration: str) -> Path:
    """Writes the current rules as ``migration``'s frozen copy; refuses to overwrite one."""
    path = FROZEN_DIR / f"{migration}.sql"
    if path.exists():
        raise FileExistsError(f"{path} exists: frozen copies never change, name a new migration")
    path.write_text(current_text())
    return path


def main(argv: list[str]) -> int:
    """``freeze NNNN_name``: the command line of ``python -m game.sql``."""
    if len(argv) != 2 or argv[0] != "freeze":
        print("usage: python -m game.sql freeze NNNN_name", file=sys.stderr)
        return 2
    print(freeze(argv[1]))
    return 0
